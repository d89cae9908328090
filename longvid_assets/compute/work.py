"""The GPU stages' work, runnable on any host that reaches the artifact store.

Each function reads its inputs from the store by reference, runs one backend call and writes
its artifact atomically; it returns the backend's metadata. The same functions run in the
Dagster step (`compute: local`) and inside a Ray GPU worker (`compute: ray`).
"""

import json
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from longvid_assets.artifacts import CAPTION_FILE, CLIP_FILE, KEYFRAME_FILE
from longvid_assets.compute.base import GpuTask
from longvid_assets.errors import BackendError
from longvid_assets.fingerprint import boundary_seed
from longvid_assets.media.analysis import analyze_clip, describe_measurements
from longvid_assets.media.images import conform_image
from longvid_assets.media.probe import probe, read_frame
from longvid_assets.media.thumbnails import thumbnail_md
from longvid_assets.plan import RenderPlan
from longvid_assets.resources.captioner import CaptionRequest
from longvid_assets.resources.images import KeyframeRequest
from longvid_assets.resources.video import ClipRequest

Log = Callable[[str], None]


def keyframe_task(plan: RenderPlan, k: int, fp: str, previous_fp: str | None, backend) -> GpuTask:
    params = {"plan": plan, "k": k, "previous_fp": previous_fp}
    return GpuTask(kind="keyframe", key=fp, backend=backend, params=params)


def clip_task(plan: RenderPlan, index: int, fp: str, first_fp: str, last_fp: str, backend):
    params = {"plan": plan, "index": index, "first_fp": first_fp, "last_fp": last_fp}
    return GpuTask(kind="clip", key=fp, backend=backend, params=params, gpus=gpus_of(backend))


def caption_task(plan: RenderPlan, index: int, fp: str, clip_fp: str, keyframes, backend):
    params = {"plan": plan, "index": index, "clip_fp": clip_fp, "keyframes": list(keyframes)}
    return GpuTask(kind="caption", key=fp, backend=backend, params=params)


def gpus_of(backend) -> float:
    """GPUs one call of the backend needs (e.g. an external torchrun over `gpus` GPUs)."""
    return float(getattr(backend, "gpus", 1))


def run_task(task: GpuTask, store, log: Log, preview=None) -> dict | None:
    """Do the task's work unless its artifact is already stored (then None: e.g. another
    run, or a worker that died after writing it, made it); return the backend metadata."""
    work = {"keyframe": make_keyframe, "clip": make_clip, "caption": make_caption}[task.kind]
    return work(task.backend, store, task.key, log=log, preview=preview, **task.params)


def make_keyframe(backend, store, fp, plan: RenderPlan, k, previous_fp, log: Log, preview=None):
    """Boundary k at the render's size; img2img backends refine the stored keyframe k-1."""
    if store.has("keyframes", fp, KEYFRAME_FILE):
        return None
    previous = None
    if previous_fp is not None:
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
        log=log,
    )
    image = conform_image(backend.generate(request), width, height, _Logger(log))
    with store.writing("keyframes", fp, KEYFRAME_FILE) as tmp:
        image.save(tmp, format="PNG")
    return dict(request.metadata)


def make_clip(backend, store, fp, plan, index, first_fp, last_fp, log: Log, preview=None):
    """Exactly the planned frames from the first to the last keyframe, as H.264, and a
    thumbnail of its middle frame (taken here, where the clip is local)."""
    if store.has("clips", fp, CLIP_FILE):
        return None
    width, height = plan.resolution
    frames = plan.frame_count(index)
    request = ClipRequest(
        first_image=store.artifact_path("keyframes", first_fp, KEYFRAME_FILE),
        last_image=store.artifact_path("keyframes", last_fp, KEYFRAME_FILE),
        prompt=f"{plan.segments[index].prompt}. Style: {plan.style}",
        num_frames=frames,
        fps=plan.fps,
        width=width,
        height=height,
        seed=plan.segments[index].seed,
        log=log,
        preview=preview,
    )
    with store.writing("clips", fp, CLIP_FILE) as tmp:
        metadata = dict(backend.generate(request, tmp).metadata)
        check_clip(tmp, frames, backend.backend_name)
        middle = read_frame(tmp, frames // 2)
    metadata["thumbnail"] = thumbnail_md([middle], caption="middle frame")
    return metadata


def check_clip(path: Path, expected_frames: int, backend: str) -> int:
    """The clip decodes and has exactly the planned number of frames."""
    frames = probe(path).frames
    if frames != expected_frames:
        raise BackendError(
            f"{backend} wrote {frames} frames to {path.name}, expected {expected_frames} — "
            "check the backend's frame settings"
        )
    return frames


def make_caption(backend, store, fp, plan, index, clip_fp, keyframes, log: Log, preview=None):
    """Measure the clip (always) and caption it with the backend; store both as JSON."""
    if store.has("captions", fp, CAPTION_FILE):
        return None
    clip = store.artifact_path("clips", clip_fp, CLIP_FILE)
    first, last = (store.artifact_path("keyframes", k, KEYFRAME_FILE) for k in keyframes)
    analysis = analyze_clip(clip, first, last, plan.fps)
    request = CaptionRequest(
        clip=clip, prompt=plan.segments[index].prompt, fps=plan.fps, analysis=analysis
    )
    caption = backend.caption(request)
    payload = {
        "caption": caption,
        "measured": describe_measurements(request.prompt, analysis),
        "analysis": analysis.model_dump(),
        "backend": backend.made_by(),
    }
    with store.writing("captions", fp, CAPTION_FILE) as tmp:
        tmp.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return {}


class _Logger:
    """`info`/`warning` over a plain log function, for helpers that take a logger."""

    def __init__(self, log: Log):
        self.info = log

    def warning(self, message: str) -> None:
        self.info(f"WARNING: {message}")
