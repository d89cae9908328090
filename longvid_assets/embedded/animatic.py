"""Animatic clips: a gentle camera move on the first keyframe, dissolving into the last.

The first frame is the first keyframe and the last frame the last keyframe, pixel for pixel
before encoding, so the seams between consecutive clips match. Frames are streamed into
ffmpeg one at a time: memory does not grow with the clip's length.
"""

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from longvid_assets.media.ffmpeg import VideoWriter

if TYPE_CHECKING:  # resources.video imports this module to implement its generator
    from longvid_assets.resources.video import ClipRequest

MAX_ZOOM = 0.5


@dataclass(frozen=True)
class CameraMove:
    """Where the camera pushes in (outgoing image) and settles from (incoming image).

    Focal points are fractions of the frame; a box zoomed towards (fx, fy) stays inside it.
    The incoming image starts at the mirrored point, so the camera keeps travelling the
    same way through the dissolve.
    """

    zoom: float
    focus_x: float
    focus_y: float

    @classmethod
    def from_seed(cls, seed: int, zoom: float) -> "CameraMove":
        rng = random.Random(seed)
        return cls(zoom=zoom, focus_x=rng.uniform(0.15, 0.85), focus_y=rng.uniform(0.2, 0.8))

    def box(self, width: int, height: int, scale: float, incoming: bool) -> tuple[float, ...]:
        fx, fy = (1 - self.focus_x, 1 - self.focus_y) if incoming else (self.focus_x, self.focus_y)
        view_w, view_h = width / scale, height / scale
        x0, y0 = fx * (width - view_w), fy * (height - view_h)
        return x0, y0, x0 + view_w, y0 + view_h


def render_animatic_clip(request: "ClipRequest", out: Path, zoom: float, crf: int) -> int:
    """Write exactly `request.num_frames` frames to `out` (H.264 MP4); return the count."""
    _check_inputs(request, zoom, crf)
    size = (request.width, request.height)

    # 1. Load both keyframes at the clip size.
    first = _load_keyframe(request.first_image, size, "first_image", request.log)
    last = _load_keyframe(request.last_image, size, "last_image", request.log)
    first_pixels, last_pixels = np.asarray(first), np.asarray(last)

    # 2. Plan the camera move from the seed.
    camera = CameraMove.from_seed(request.seed, zoom)

    # 3. Stream the frames: exact keyframes at both ends, the move and dissolve between.
    count = request.num_frames
    with VideoWriter(Path(out), request.width, request.height, request.fps, crf) as writer:
        for index in range(count):
            if index == count - 1:
                writer.write(last_pixels)
            elif index == 0:
                writer.write(first_pixels)
            else:
                writer.write(_frame(first, last, camera, index / (count - 1)))
    return writer.frames


def _check_inputs(request: "ClipRequest", zoom: float, crf: int) -> None:
    if not isinstance(request.num_frames, int) or request.num_frames < 1:
        raise ValueError(f"`num_frames` is {request.num_frames!r}; pass an integer >= 1")
    if request.fps < 1:
        raise ValueError(f"`fps` is {request.fps!r}; pass a frame rate >= 1")
    for name in ("width", "height"):
        value = getattr(request, name)
        if not isinstance(value, int) or value < 16:
            raise ValueError(f"`{name}` is {value!r}; pass an integer >= 16 pixels")
        if value % 2:
            raise ValueError(f"`{name}` is {value}; H.264 yuv420p needs it even, e.g. {value - 1}")
    if not 0.0 <= zoom <= MAX_ZOOM:
        raise ValueError(f"`zoom` is {zoom}; pass a fraction between 0 and {MAX_ZOOM}, e.g. 0.08")
    if not 0 <= crf <= 51:
        raise ValueError(f"`crf` is {crf}; pass an x264 quality between 0 and 51 (20 is good)")
    for name in ("first_image", "last_image"):
        path = Path(getattr(request, name))
        if not path.is_file():
            raise ValueError(f"`{name}` {path} does not exist; materialize keyframe_images first")


def _load_keyframe(path: Path, size: tuple[int, int], name: str, log) -> Image.Image:
    with Image.open(path) as opened:
        image = opened.convert("RGB")
    if image.size != size:
        log(
            f"{name} {Path(path).name} is {image.size[0]}x{image.size[1]}; "
            f"resized to {size[0]}x{size[1]} for the clip"
        )
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def _ease_in_out(t: float) -> float:
    return t * t * (3.0 - 2.0 * t)


def _frame(first: Image.Image, last: Image.Image, camera: CameraMove, t: float) -> np.ndarray:
    """One in-between frame at progress 0 < t < 1, as HxWx3 uint8."""
    width, height = first.size
    mix = _ease_in_out(t)
    # The outgoing camera eases in from rest at the first seam; the incoming one eases out
    # to rest at the last, so the motion is continuous across clips.
    push = 1.0 + camera.zoom * (1.0 - math.cos(t * math.pi / 2))
    settle = 1.0 + camera.zoom * 0.5 * (1.0 - math.sin(t * math.pi / 2))
    outgoing = incoming = None
    if mix < 1.0 - 1e-3:
        box = camera.box(width, height, push, incoming=False)
        outgoing = first.resize(first.size, Image.Resampling.BILINEAR, box=box)
    if mix > 1e-3:
        box = camera.box(width, height, settle, incoming=True)
        incoming = last.resize(last.size, Image.Resampling.BILINEAR, box=box)
    if outgoing is None:
        return np.asarray(incoming)
    if incoming is None:
        return np.asarray(outgoing)
    return np.asarray(Image.blend(outgoing, incoming, mix))
