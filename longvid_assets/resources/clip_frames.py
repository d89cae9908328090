"""Frames from a video model into a clip of exactly the planned length and size.

Models generate their own frame counts (Wan: 4k+1; FramePack: whole sections; an external
command: whatever it was told). `FrameSink` takes generated frames one at a time, in order,
and writes exactly `wanted` of them — evenly spaced, first and last kept — scaled to the
clip's size, so memory never holds more than the frames a model call returned.
"""

import logging

import numpy as np
from PIL import Image

from longvid_assets.errors import BackendError
from longvid_assets.media.ffmpeg import VideoWriter

log = logging.getLogger(__name__)


def round_frames_4k1(frames: int, what: str, logger=log) -> int:
    """Wan/HunyuanVideo VAEs need 4k+1 frames: round up, warning with old → new."""
    rounded = max(5, (frames - 1 + 3) // 4 * 4 + 1)
    if rounded != frames:
        logger.warning(
            f"{what}: {frames} frames rounded up to {rounded} (4k+1 for the video VAE); "
            f"{rounded - frames} generated frame(s) are dropped evenly to write exactly {frames}"
        )
    return rounded


def resample_indices(generated: int, wanted: int) -> list[int]:
    """For each of `wanted` output frames, the generated frame it shows: evenly spaced,
    keeping the first and the last (so a clip still starts and ends on its keyframes)."""
    if generated < 1:
        raise ValueError(f"cannot make {wanted} frames from {generated} generated frames")
    if wanted == 1:
        return [0]
    return [round(i * (generated - 1) / (wanted - 1)) for i in range(wanted)]


def to_uint8(frames) -> np.ndarray:
    """Model output (float in [0, 1], NxHxWx3 or HxWx3) to uint8 RGB; NaN or inf pixels (a
    half-precision overflow) are an error rather than silently black frames."""
    array = np.asarray(frames, dtype=np.float32)
    if not np.isfinite(array).all():
        raise BackendError(
            "the model produced NaN/inf pixels (a float16 overflow?) — set gpu.dtype to "
            "bfloat16 or float32"
        )
    return (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


class FrameSink:
    """Write exactly `wanted` frames chosen evenly from a stream of `generated` frames.

    with FrameSink(out, 640, 360, 24, generated=81, wanted=72) as sink:
        for frame in window:      # HxWx3 uint8, any size
            sink.push(frame)
    """

    def __init__(self, out, width: int, height: int, fps: int, generated: int, wanted: int):
        self.width, self.height = width, height
        self.plan = resample_indices(generated, wanted)
        self.generated = generated
        self.seen = 0
        self.last: np.ndarray | None = None
        self._writer = VideoWriter(out, width, height, fps)

    @property
    def written(self) -> int:
        return self._writer.frames

    def push(self, frame: np.ndarray) -> None:
        if self.seen >= self.generated:
            raise ValueError(f"FrameSink got more than the {self.generated} frames it expected")
        frame = self._fit(frame)
        while self.written < len(self.plan) and self.plan[self.written] == self.seen:
            self._writer.write(frame)
        self.seen += 1
        self.last = frame

    def _fit(self, frame: np.ndarray) -> np.ndarray:
        if frame.shape[:2] == (self.height, self.width):
            return np.ascontiguousarray(frame)
        image = Image.fromarray(frame).resize((self.width, self.height), Image.Resampling.LANCZOS)
        return np.asarray(image)

    def close(self) -> None:
        if self.written != len(self.plan):
            raise ValueError(
                f"FrameSink wrote {self.written} of {len(self.plan)} frames: the model returned "
                f"{self.seen} of the {self.generated} frames it should have"
            )
        self._writer.close()

    def __enter__(self) -> "FrameSink":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._writer.__exit__(exc_type, exc, tb)
