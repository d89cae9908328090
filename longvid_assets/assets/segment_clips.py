"""segment_clips [render×segment]: a video from the first to the last keyframe.

The `compute` resource runs the video generator: in this process (`local`), or on a Ray GPU
worker that keeps the model loaded across segments and renders (`ray`).
"""

from dagster import AssetExecutionContext, AssetIn, AssetObservation, DataVersion, Output, asset

from longvid_assets.artifacts import CLIP_FILE, clip_ref
from longvid_assets.assets.common import (
    Timer,
    absent_output,
    artifact_location,
    in_plan,
    stage_metadata,
    task_metadata,
    user_errors,
)
from longvid_assets.compute.base import GpuCompute
from longvid_assets.compute.work import check_clip, clip_task
from longvid_assets.errors import StaleInputError
from longvid_assets.fingerprint import CODE_VERSIONS, clip_fp, keyframe_fp
from longvid_assets.partitions import by_render, render_segment_partitions, split_key
from longvid_assets.plan import RenderPlan
from longvid_assets.records import ClipRecord, KeyframePair
from longvid_assets.resources.images import ImageGenerator
from longvid_assets.resources.store import ArtifactStore
from longvid_assets.resources.video import VideoGenerator

__all__ = ["CLIP_FILE", "check_clip", "segment_clips"]


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


def preview_logger(context: AssetExecutionContext):
    """What backends call with a thumbnail of each decoded window/section: an observation of
    this partition, so the UI shows a long clip's progress while it is made (in-process)."""

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
    keyframe_images: KeyframePair | None,
    image_generator: ImageGenerator,
    video_generator: VideoGenerator,
    compute: GpuCompute,
    store: ArtifactStore,
) -> Output[ClipRecord | None]:
    """Exactly round(duration × fps) frames from the first to the last keyframe, as H.264."""
    timer, plan = Timer(), segment_plan
    render, index = split_key(context)
    if not in_plan(plan, index) or keyframe_images is None:
        return absent_output(plan, index)
    with user_errors():
        check_keyframes_current(
            plan, index, keyframe_images, image_generator, context.partition_key
        )
        fp = clip_fp(plan, index, video_generator.identity(), image_generator.identity())
        cached = store.has("clips", fp, CLIP_FILE)
        results = []
        if not cached:
            task = clip_task(
                plan,
                index,
                fp,
                keyframe_images.first_fp,
                keyframe_images.last_fp,
                video_generator,
            )
            results.append(
                compute.run(task, store, log=context.log.info, preview=preview_logger(context))
            )
    frames = plan.frame_count(index)
    record = ClipRecord(
        clip=clip_ref(fp),
        fingerprint=fp,
        frames=frames,
        fps=plan.fps,
        backend=video_generator.made_by(),
    )
    extras = task_metadata(results)
    thumbnail = extras.pop("backend_thumbnail", None)
    metadata = stage_metadata(
        video_generator,
        fp,
        cached,
        timer,
        artifact=artifact_location(store, record.clip),
        frames=frames,
        fps=plan.fps,
        duration_s=round(frames / plan.fps, 4),
        seed=plan.segments[index].seed,
        **({"thumbnail": thumbnail} if thumbnail is not None else {}),
        **extras,
    )
    return Output(record, data_version=DataVersion(fp), metadata=metadata)
