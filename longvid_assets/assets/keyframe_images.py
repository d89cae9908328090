"""keyframe_images [render×segment]: the first and last keyframe of each segment.

Boundary k is the last keyframe of segment k-1 and the first of segment k. Boundaries are
stored by fingerprint and made by the `compute` resource, which makes each fingerprint once
however many segment runs ask for it at the same time. A generator that refines each
keyframe from the previous one (img2img, inpainting: `refines_previous` in its identity)
makes boundary k from boundary k-1: the chain 0..k is made in order, each link once.
"""

from dagster import AssetExecutionContext, AssetIn, DataVersion, Output, asset
from PIL import Image

from longvid_assets.artifacts import KEYFRAME_FILE, keyframe_ref
from longvid_assets.assets.common import (
    Timer,
    absent_output,
    in_plan,
    stage_metadata,
    task_metadata,
    user_errors,
)
from longvid_assets.compute.base import GpuCompute, TaskResult
from longvid_assets.compute.work import keyframe_task
from longvid_assets.fingerprint import CODE_VERSIONS, boundary_seed, fingerprint, keyframe_fp
from longvid_assets.media.thumbnails import thumbnail_md
from longvid_assets.partitions import by_render, render_segment_partitions, split_key
from longvid_assets.plan import RenderPlan
from longvid_assets.records import KeyframePair
from longvid_assets.resources.images import ImageGenerator
from longvid_assets.resources.store import ArtifactStore

__all__ = ["KEYFRAME_FILE", "ensure_keyframes", "keyframe_images"]


def ensure_keyframes(
    plan: RenderPlan,
    boundaries: list[int],
    generator: ImageGenerator,
    store: ArtifactStore,
    compute: GpuCompute,
    log,
) -> list[TaskResult | None]:
    """Make the boundaries that are not stored (a chained generator: every missing link
    before them too, in order); one result per boundary asked, None where stored."""
    identity = generator.identity()
    chained = bool(identity.get("refines_previous"))
    todo = range(max(boundaries) + 1) if chained else boundaries
    results: dict[int, TaskResult | None] = {}
    for k in todo:
        fp = keyframe_fp(plan, k, identity)
        if store.has("keyframes", fp, KEYFRAME_FILE):
            results[k] = None
            continue
        previous = keyframe_fp(plan, k - 1, identity) if chained and k > 0 else None
        task = keyframe_task(plan, k, fp, previous, generator)
        results[k] = compute.run(task, store, log=log.info)
    return [results[k] for k in boundaries]


@asset(
    partitions_def=render_segment_partitions,
    ins={"segment_plan": AssetIn(partition_mapping=by_render)},
    code_version=CODE_VERSIONS["keyframe_images"],
    group_name="longvid",
    pool="gpu",
    kinds={"pytorch"},
)
def keyframe_images(
    context: AssetExecutionContext,
    segment_plan: RenderPlan,
    image_generator: ImageGenerator,
    compute: GpuCompute,
    store: ArtifactStore,
) -> Output[KeyframePair | None]:
    """The segment's first and last keyframe images at the render's resolution."""
    timer, plan = Timer(), segment_plan
    render, index = split_key(context)
    if not in_plan(plan, index):
        return absent_output(plan, index)
    identity = image_generator.identity()
    with user_errors():
        made = ensure_keyframes(
            plan, [index, index + 1], image_generator, store, compute, context.log
        )
    first_fp, last_fp = keyframe_fp(plan, index, identity), keyframe_fp(plan, index + 1, identity)
    pair = KeyframePair(
        first=keyframe_ref(first_fp),
        last=keyframe_ref(last_fp),
        first_fp=first_fp,
        last_fp=last_fp,
        backend=image_generator.made_by(),
    )
    first = store.artifact_path("keyframes", first_fp, KEYFRAME_FILE)
    last = store.artifact_path("keyframes", last_fp, KEYFRAME_FILE)
    with Image.open(first) as a, Image.open(last) as b:
        thumbnail = thumbnail_md([a.copy(), b.copy()], caption="first → last keyframe")
    metadata = stage_metadata(
        image_generator,
        fingerprint(first_fp, last_fp),
        all(result is None or not result.made for result in made),
        timer,
        first_keyframe=str(first),
        last_keyframe=str(last),
        first_description=plan.boundary(index),
        last_description=plan.boundary(index + 1),
        seed=boundary_seed(plan, index + 1),
        size=f"{plan.resolution[0]}x{plan.resolution[1]}",
        thumbnail=thumbnail,
        **task_metadata([r for r in made if r is not None]),
    )
    return Output(pair, data_version=DataVersion(fingerprint(first_fp, last_fp)), metadata=metadata)
