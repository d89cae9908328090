"""segment_clips [render×segment]: a video from the first to the last keyframe."""

from pathlib import Path

from dagster import AssetExecutionContext, AssetIn, AssetObservation, DataVersion, Output, asset

from longvid_assets.assets.common import Timer, stage_metadata, user_errors
from longvid_assets.assets.keyframe_images import segment_index
from longvid_assets.errors import BackendError, StaleInputError
from longvid_assets.fingerprint import CODE_VERSIONS, clip_fp, keyframe_fp
from longvid_assets.media.probe import probe, read_frame
from longvid_assets.media.thumbnails import thumbnail_md
from longvid_assets.partitions import by_render, render_segment_partitions, split_key
from longvid_assets.plan import RenderPlan
from longvid_assets.records import ClipRecord, KeyframePair
from longvid_assets.resources.images import ImageGenerator
from longvid_assets.resources.store import ArtifactStore
from longvid_assets.resources.video import ClipRequest, VideoGenerator

CLIP_FILE = "clip.mp4"


def check_keyframes_current(
    plan: RenderPlan, index: int, keyframes: KeyframePair, images: ImageGenerator, key: str
) -> None:
    expected = (
        keyframe_fp(plan, index, images.identity()),
        keyframe_fp(plan, index + 1, images.identity()),
    )
    if (keyframes.first_fp, keyframes.last_fp) != expected:
        raise StaleInputError(
            f"keyframe_images for {key} were made for an older plan or config — "
            f"materialize keyframe_images for {key} first"
        )


def check_clip(path: Path, expected_frames: int, backend: str) -> int:
    """The clip decodes and has exactly the planned number of frames."""
    frames = probe(path).frames
    if frames != expected_frames:
        raise BackendError(
            f"{backend} wrote {frames} frames to {path.name}, expected {expected_frames} — "
            "check the backend's frame settings"
        )
    return frames


def preview_logger(context: AssetExecutionContext):
    """What backends call with a thumbnail of each decoded window/section: an observation of
    this partition, so the UI shows a long clip's progress while it is made."""

    def log_preview(thumbnail, label: str) -> None:
        context.log_event(
            AssetObservation(
                asset_key=context.asset_key,
                partition=context.partition_key,
                metadata={"preview": thumbnail, "part": label},
            )
        )

    return log_preview


@asset(
    partitions_def=render_segment_partitions,
    ins={"segment_plan": AssetIn(partition_mapping=by_render)},
    code_version=CODE_VERSIONS["segment_clips"],
    group_name="longvid",
    pool="gpu",
    kinds={"pytorch"},
)
def segment_clips(
    context: AssetExecutionContext,
    segment_plan: RenderPlan,
    keyframe_images: KeyframePair,
    image_generator: ImageGenerator,
    video_generator: VideoGenerator,
    store: ArtifactStore,
) -> Output[ClipRecord]:
    """Exactly round(duration × fps) frames from the first to the last keyframe, as H.264."""
    timer = Timer()
    render, index = split_key(context)
    plan = segment_plan
    with user_errors():
        index = segment_index(plan, render, index)
        check_keyframes_current(
            plan, index, keyframe_images, image_generator, context.partition_key
        )
        fp = clip_fp(plan, index, video_generator.identity(), image_generator.identity())
        frames = plan.frame_count(index)
        cached = store.has("clips", fp, CLIP_FILE)
        extras = {}
        if not cached:
            width, height = plan.resolution
            request = ClipRequest(
                first_image=Path(keyframe_images.first),
                last_image=Path(keyframe_images.last),
                prompt=f"{plan.segments[index].prompt}. Style: {plan.style}",
                num_frames=frames,
                fps=plan.fps,
                width=width,
                height=height,
                seed=plan.segments[index].seed,
                log=context.log.info,
                preview=preview_logger(context),
            )
            with store.writing("clips", fp, CLIP_FILE) as tmp:
                extras = video_generator.generate(request, tmp).metadata
                check_clip(tmp, frames, video_generator.backend_name)
    path = store.artifact_path("clips", fp, CLIP_FILE)
    record = ClipRecord(
        path=str(path),
        fingerprint=fp,
        frames=frames,
        fps=plan.fps,
        backend=video_generator.made_by(),
    )
    metadata = stage_metadata(
        video_generator,
        fp,
        cached,
        timer,
        artifact=str(path),
        frames=frames,
        fps=plan.fps,
        duration_s=round(frames / plan.fps, 4),
        seed=plan.segments[index].seed,
        thumbnail=thumbnail_md([read_frame(path, frames // 2)], caption="middle frame"),
        **{f"backend_{k}": v for k, v in extras.items()},
    )
    return Output(record, data_version=DataVersion(fp), metadata=metadata)
