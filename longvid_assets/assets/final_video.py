"""final_video [render]: clips in plan order + mixed audio + subtitles + chapters → MP4."""

from dagster import AssetDep, AssetExecutionContext, DataVersion, MetadataValue, Output, asset

from longvid_assets.artifacts import CLIP_FILE, FINAL_FILE, ArtifactRef
from longvid_assets.assets.caption_sidecar import publish_captions
from longvid_assets.assets.common import Timer, stage_metadata, user_errors
from longvid_assets.errors import StaleInputError
from longvid_assets.fingerprint import CODE_VERSIONS, clip_fp, final_fp
from longvid_assets.media.assemble import assemble_video
from longvid_assets.media.probe import iter_frames, probe
from longvid_assets.media.subtitles import ffmetadata, narration_cues, to_srt
from longvid_assets.media.thumbnails import thumbnail_md
from longvid_assets.partitions import by_render, renders_partitions
from longvid_assets.plan import RenderPlan
from longvid_assets.records import AudioRecord, FinalVideo
from longvid_assets.resources.captioner import Captioner
from longvid_assets.resources.images import ImageGenerator
from longvid_assets.resources.store import ArtifactStore
from longvid_assets.resources.video import VideoGenerator


def current_clips(
    plan: RenderPlan, video: VideoGenerator, images: ImageGenerator, store: ArtifactStore
) -> list[str]:
    """Fingerprints of the clips this plan needs; every one must already be stored."""
    fps = [clip_fp(plan, s.index, video.identity(), images.identity()) for s in plan.segments]
    missing = [
        s.key
        for s, fp in zip(plan.segments, fps, strict=True)
        if not store.has("clips", fp, CLIP_FILE)
    ]
    if missing:
        keys = ", ".join(f"{plan.render}|{m}" for m in missing[:5])
        raise StaleInputError(
            f"segment_clips missing or stale for {keys}{' …' if len(missing) > 5 else ''} — "
            "materialize segment_clips for those partitions first"
        )
    return fps


def subtitles_for(audio: AudioRecord) -> str:
    cues = []
    for timing in audio.narration:
        cues += narration_cues(timing.start_s, timing.duration_s, timing.text)
    return to_srt(cues)


def chapters_for(plan: RenderPlan) -> str:
    chapters = []
    for seg in plan.segments:
        start = plan.start_s(seg.index)
        name = f"{seg.index + 1}. {seg.prompt[:60]}"
        chapters.append((start, start + plan.frame_count(seg.index) / plan.fps, name))
    return ffmetadata(plan.title, chapters)


@asset(
    partitions_def=renders_partitions,
    deps=[
        AssetDep("segment_clips", partition_mapping=by_render),
        AssetDep("clip_captions", partition_mapping=by_render),
    ],
    code_version=CODE_VERSIONS["final_video"],
    group_name="longvid",
    kinds={"python"},
)
def final_video(
    context: AssetExecutionContext,
    segment_plan: RenderPlan,
    audio_tracks: AudioRecord,
    image_generator: ImageGenerator,
    video_generator: VideoGenerator,
    captioner: Captioner,
    store: ArtifactStore,
) -> Output[FinalVideo]:
    """The narrated MP4 with a soft subtitle track and one chapter per segment, plus an SRT,
    and what each segment shows (captions table, `.captions.json`, `.descriptions.srt`)."""
    timer, plan, render = Timer(), segment_plan, context.partition_key
    with user_errors():
        clips = current_clips(plan, video_generator, image_generator, store)
        fp = final_fp(plan, clips, audio_tracks.fingerprint)
        srt = subtitles_for(audio_tracks)
        cached = store.has("final", fp, FINAL_FILE)
        if not cached:
            paths = [store.artifact_path("clips", c, CLIP_FILE) for c in clips]
            mix = store.artifact_path(*audio_tracks.mix.parts)
            with store.writing("final", fp, FINAL_FILE) as tmp:
                assemble_video(paths, mix, srt, chapters_for(plan), tmp)
        artifact = store.artifact_path("final", fp, FINAL_FILE)
        # Friendly copies: <root>/renders/<render>/<render>.mp4 and .srt
        published = store.publish(artifact, render, f"{render}.mp4")
        with store.writing("final", fp, "subtitles.srt") as tmp:
            tmp.write_text(srt, encoding="utf-8")
        srt_path = store.publish(
            store.artifact_path("final", fp, "subtitles.srt"), render, f"{render}.srt"
        )
        captions = publish_captions(plan, fp, captioner, video_generator, image_generator, store)
    if captions.missing:
        context.log.warning(
            f"no stored caption for segment(s) {', '.join(captions.missing)} of the current "
            "clips — materialize clip_captions for them to complete the captions sidecar"
        )
    info = probe(published, count_frames=False)
    frames = [next(iter_frames(artifact, every=1))]
    metadata = stage_metadata(
        video_generator,
        fp,
        cached,
        timer,
        artifact=str(published),
        subtitles=str(srt_path),
        **download_link(store, render),
        duration_s=round(info.duration_s, 3),
        planned_duration_s=round(plan.duration_s, 3),
        size_mb=round(published.stat().st_size / 1e6, 2),
        resolution=f"{info.width}x{info.height}",
        fps=round(info.fps, 3),
        segments=len(plan.segments),
        backends=MetadataValue.md(
            backend_table(plan, image_generator, video_generator, audio_tracks)
        ),
        thumbnail=thumbnail_md(frames, width=320, caption=plan.title),
        captions=captions.table,
        **{key: str(path) for key, path in captions.paths.items()},
    )
    record = final_record(store, plan, fp)
    return Output(record, data_version=DataVersion(fp), metadata=metadata)


def download_link(store: ArtifactStore, render: str) -> dict:
    """A presigned link to the published MP4 where the store gives one (S3)."""
    url_of = getattr(store, "download_url", None)
    url = url_of(render, f"{render}.mp4") if url_of else None
    return {"download": MetadataValue.url(url)} if url else {}


def final_record(store: ArtifactStore, plan: RenderPlan, fp: str) -> FinalVideo:
    """The record of a render's final video; `published` is the friendly copy's path where
    the store is local, else its place in the store."""
    from longvid_assets.resources.store import LocalArtifactStore

    name = f"{plan.render}.mp4"
    published = f"renders/{plan.render}/{name}"
    if isinstance(store, LocalArtifactStore):
        published = str(store.published_path(plan.render, name))
    return FinalVideo(
        video=ArtifactRef(folder="final", fingerprint=fp, name=FINAL_FILE),
        subtitles=ArtifactRef(folder="final", fingerprint=fp, name="subtitles.srt"),
        render=plan.render,
        published=published,
        fingerprint=fp,
        duration_s=plan.duration_s,
    )


def republish_damaged(store: ArtifactStore, render: str, fp: str) -> list[str]:
    """Publish the final MP4 and SRT again where the friendly copy is missing or differs
    from the verified artifact (truncated, edited): the names republished."""
    repaired = []
    for artifact, name in [(FINAL_FILE, f"{render}.mp4"), ("subtitles.srt", f"{render}.srt")]:
        if not store.has("final", fp, artifact):
            continue
        source = store.artifact_path("final", fp, artifact)
        if not store.published_matches(source, render, name):
            store.publish(source, render, name)
            repaired.append(name)
    return repaired


def backend_table(plan: RenderPlan, images, video, audio: AudioRecord) -> str:
    rows = [
        ("plan", plan.planner),
        ("keyframes", images.made_by()),
        ("clips", video.made_by()),
        ("audio", f"{len(audio.narration)} narrations, mix {audio.integrated_lufs or '-'} LUFS"),
    ]
    return "| stage | made by |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
