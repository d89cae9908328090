"""keyframe_images [render×segment]: the first and last keyframe of each segment.

Boundary k is the last keyframe of segment k-1 and the first of segment k. Boundaries are
stored by fingerprint, so a shared boundary is generated once, by whichever segment asks
first, and found in the store by the other. A generator that refines each keyframe from the
previous one (img2img, inpainting: `refines_previous` in its identity) makes boundary k from
boundary k-1, generating the missing ones before it in order.
"""

from dagster import AssetExecutionContext, AssetIn, DataVersion, Output, asset
from PIL import Image

from longvid_assets.assets.common import Timer, stage_metadata, user_errors
from longvid_assets.errors import LongvidError
from longvid_assets.fingerprint import CODE_VERSIONS, boundary_seed, fingerprint, keyframe_fp
from longvid_assets.media.images import conform_image
from longvid_assets.media.thumbnails import thumbnail_md
from longvid_assets.partitions import by_render, render_segment_partitions, split_key
from longvid_assets.plan import RenderPlan
from longvid_assets.records import KeyframePair
from longvid_assets.resources.images import ImageGenerator, KeyframeRequest
from longvid_assets.resources.store import ArtifactStore

KEYFRAME_FILE = "keyframe.png"


def segment_index(plan: RenderPlan, render: str, index: int) -> int:
    if index >= len(plan.segments):
        raise LongvidError(
            f"render '{render}' has {len(plan.segments)} segments; segment {index:03d} is not in "
            "its plan — materialize only the segments its plan lists"
        )
    return index


def ensure_keyframe(
    plan: RenderPlan,
    k: int,
    generator: ImageGenerator,
    store: ArtifactStore,
    log,
    extras: dict | None = None,
) -> tuple[str, bool]:
    """Generate boundary k unless the store already has it; return (fingerprint, cached).
    The backend's extras (model, s/step, VRAM) are added to `extras`."""
    fp = keyframe_fp(plan, k, generator.identity())
    if store.has("keyframes", fp, KEYFRAME_FILE):
        return fp, True
    previous = None
    if k > 0 and generator.identity().get("refines_previous"):
        previous_fp, _ = ensure_keyframe(plan, k - 1, generator, store, log, extras)
        with Image.open(store.artifact_path("keyframes", previous_fp, KEYFRAME_FILE)) as image:
            previous = image.convert("RGB")
    width, height = plan.resolution
    request = KeyframeRequest(
        description=plan.boundary(k),
        style=plan.style,
        width=width,
        height=height,
        seed=boundary_seed(plan, k),
        boundary=k,
        boundaries=len(plan.segments) + 1,
        title=plan.title if k == 0 else None,
        previous=previous,
        log=log.info,
    )
    image = conform_image(generator.generate(request), width, height, log)
    if extras is not None:
        extras.update(request.metadata)
    with store.writing("keyframes", fp, KEYFRAME_FILE) as tmp:
        image.save(tmp, format="PNG")
    return fp, False


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
    store: ArtifactStore,
) -> Output[KeyframePair]:
    """The segment's first and last keyframe images at the render's resolution."""
    timer = Timer()
    render, index = split_key(context)
    extras: dict = {}
    with user_errors():
        index = segment_index(segment_plan, render, index)
        first_fp, first_cached = ensure_keyframe(
            segment_plan, index, image_generator, store, context.log, extras
        )
        last_fp, last_cached = ensure_keyframe(
            segment_plan, index + 1, image_generator, store, context.log, extras
        )
    first = store.artifact_path("keyframes", first_fp, KEYFRAME_FILE)
    last = store.artifact_path("keyframes", last_fp, KEYFRAME_FILE)
    pair = KeyframePair(
        first=str(first),
        last=str(last),
        first_fp=first_fp,
        last_fp=last_fp,
        backend=image_generator.made_by(),
    )
    fp = fingerprint(first_fp, last_fp)
    with Image.open(first) as a, Image.open(last) as b:
        thumbnail = thumbnail_md([a.copy(), b.copy()], caption="first → last keyframe")
    metadata = stage_metadata(
        image_generator,
        fp,
        first_cached and last_cached,
        timer,
        first_keyframe=str(first),
        last_keyframe=str(last),
        first_description=segment_plan.boundary(index),
        last_description=segment_plan.boundary(index + 1),
        seed=boundary_seed(segment_plan, index + 1),
        size=f"{segment_plan.resolution[0]}x{segment_plan.resolution[1]}",
        thumbnail=thumbnail,
        **{f"backend_{key}": value for key, value in extras.items()},
    )
    return Output(pair, data_version=DataVersion(fp), metadata=metadata)
