"""Wan2.1 FLF2V (first-last-frame-to-video) through diffusers' `WanImageToVideoPipeline`.

    video_generator:
      backend: wan_flf2v
      model: Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers   # or a local folder
      steps: 40
      gpu: {dtype: bfloat16, offload: model}

Frames. The Wan VAE needs 4k+1 frames: a segment's count is rounded up with a warning and
the extra frames are dropped evenly when writing, so the clip has exactly the planned count
and still starts and ends on its keyframes.

Windows. A segment longer than `window_frames` (the model's trained length, 81) is made of
windows chained by their last frame: window j starts on the last generated frame of window
j-1, so there is no seam. FLF2V needs a target for each window's end; the last window ends
on the segment's last keyframe, the others on frames of a quick *guide* pass (one window
from first to last keyframe), taken at the matching fractions of the segment — one extra
window of compute that keeps the long segment on one path instead of drifting. Each window
is streamed to the encoder and dropped, so memory does not grow with the segment's length.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image
from pydantic import Field, field_validator

from longvid_assets.media.thumbnails import thumbnail_md
from longvid_assets.resources import model_cache
from longvid_assets.resources.clip_frames import FrameSink, round_frames_4k1, to_uint8
from longvid_assets.resources.diffusers_common import (
    RequestLogger,
    StepProgress,
    cpu_generator,
    load_pipeline,
    run_metadata,
    run_pipeline,
    snap_size,
)
from longvid_assets.resources.gpu import GpuModelResource
from longvid_assets.resources.video import ClipRequest, ClipResult, VideoGenerator

DEFAULT_MODEL = "Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers"
DEFAULT_NEGATIVE = (
    "blurry, low quality, distorted, static, still frame, watermark, text, subtitles, "
    "deformed hands, extra limbs, jpeg artifacts"
)
# Wan checkpoints that cannot end on a last frame, by a token of their name.
NOT_FLF2V = {
    "t2v": "a text-to-video checkpoint (no keyframe input)",
    "i2v": "an image-to-video checkpoint (first frame only)",
    "ti2v": "a text/image-to-video checkpoint (first frame only)",
    "vace": "a VACE checkpoint (use a VACE pipeline)",
    "animate": "an animation checkpoint",
}


class WanFLF2VVideoGenerator(GpuModelResource, VideoGenerator):
    """First → last keyframe video with Wan2.1 FLF2V, windows chained by their last frame."""

    backend_name: ClassVar[str] = "wan_flf2v"
    model_kind = "wan_flf2v"

    model: str = DEFAULT_MODEL
    steps: int = Field(40, ge=1)
    guidance: float = Field(5.0, ge=0)
    negative_prompt: str = DEFAULT_NEGATIVE
    window_frames: int = Field(81, ge=5, description="frames per model call (4k+1)")
    size: list[int] | None = Field(None, description="generate at [w, h], multiples of 16")
    max_sequence_length: int = Field(512, ge=16)

    @field_validator("window_frames")
    @classmethod
    def _four_k_plus_one(cls, value: int) -> int:
        if value % 4 != 1:
            raise ValueError(
                f"window_frames {value} is not 4k+1: use e.g. {value // 4 * 4 + 1} or 81"
            )
        return value

    @field_validator("size")
    @classmethod
    def _size_multiple_of_16(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (len(value) != 2 or any(v < 16 or v % 16 for v in value)):
            raise ValueError(
                f"size {value} must be [width, height] in multiples of 16, e.g. [1280, 720]"
            )
        return value

    def check_config(self) -> None:
        """Refuse checkpoints that cannot interpolate between two keyframes."""
        check_flf2v_model(self.model)

    def pipeline_key(self) -> dict:
        """What the loaded pipeline depends on (not steps or prompts): the model cache key."""
        return {"model": self.model, "gpu": self.gpu.placement()}

    def pipeline(self, logger):
        return model_cache.load_once(
            self.model_kind,
            self.pipeline_key(),
            lambda: load_pipeline(
                "WanImageToVideoPipeline", self.model, self.gpu, "video_generator.model", logger
            ),
        )

    def generate(self, request: ClipRequest, out: Path) -> ClipResult:
        logger = RequestLogger(request.log)
        # 1. Plan: generation size, 4k+1 frames, windows.
        size = self.size or snap_size(request.width, request.height, 16, "wan_flf2v", logger)
        total = round_frames_4k1(request.num_frames, "wan_flf2v", logger)
        windows = plan_windows(total, self.window_frames)
        if len(windows) > 1:
            request.log(
                f"wan_flf2v: {total} frames in {len(windows)} windows of {windows} frames, "
                "chained by their last frame, after a guide pass"
            )
        # 2. Load once per process (lazily: cached partitions never get here).
        pipe = self.pipeline(logger)
        first = _open(request.first_image, size)
        last = _open(request.last_image, size)
        progress = StepProgress("wan_flf2v", request.log)
        call = _Call(pipe, size, request, cpu_generator(request.seed), progress)
        self.gpu.reset_peak()
        # 3. Window targets: the last keyframe, preceded by frames of a guide pass.
        targets = [last]
        if len(windows) > 1:
            guide = self._call(call, first, last, self.window_frames, "wan_flf2v guide")
            targets = guide_targets(guide, windows) + [last]
            del guide
        # 4. Windows chained by their last frame, streamed to the encoder.
        preview = None
        sink = FrameSink(out, request.width, request.height, request.fps, total, request.num_frames)
        with sink:
            start = first
            for index, (frames, target) in enumerate(zip(windows, targets, strict=True)):
                label = f"wan_flf2v window {index + 1}/{len(windows)}"
                video = self._call(call, start, target, frames, label)
                for frame in video if index == 0 else video[1:]:
                    sink.push(frame)
                start = Image.fromarray(video[-1])
                middle = video[len(video) // 2]
                preview = thumbnail_md([video[0], middle, video[-1]], width=160, caption=label)
                if request.preview is not None:
                    request.preview(preview, label)
                del video
        metadata = {"model": self.model, "generated_frames": total, "windows": len(windows)}
        metadata.update(run_metadata(self.gpu, call.progress, self.steps))
        metadata["preview"] = preview
        return ClipResult(num_frames=request.num_frames, metadata=metadata)

    def _call(self, call: "_Call", start, target, frames: int, label: str) -> np.ndarray:
        """One FLF2V call: `frames` frames from `start` to `target`, as uint8 NxHxWx3."""
        width, height = call.size
        call.progress.label = label
        call.progress.restart_clock()
        output = run_pipeline(
            call.pipe,
            self.gpu,
            f"generating {frames} frames at {width}x{height}",
            image=start,
            last_image=target,
            prompt=call.request.prompt,
            negative_prompt=self.negative_prompt,
            height=height,
            width=width,
            num_frames=frames,
            num_inference_steps=self.steps,
            guidance_scale=self.guidance,
            generator=call.generator,
            max_sequence_length=self.max_sequence_length,
            output_type="np",
            callback_on_step_end=call.progress,
        )
        return to_uint8(output.frames[0])


@dataclass
class _Call:
    """What every model call of one clip shares."""

    pipe: Any
    size: tuple[int, int]
    request: ClipRequest
    generator: Any  # torch.Generator: one noise stream for the whole clip
    progress: StepProgress


def plan_windows(total: int, window: int) -> list[int]:
    """Split `total` (4k+1) frames into as few windows of at most `window` (4k+1) frames as
    possible, each 4k+1, sharing their boundary frames: sum(w - 1) == total - 1."""
    steps = (total - 1) // 4  # 4-frame latent steps to cover
    per_window = (window - 1) // 4
    count = -(-steps // per_window)
    base, extra = divmod(steps, count)
    return [4 * (base + (1 if i < extra else 0)) + 1 for i in range(count)]


def guide_targets(guide, windows: list[int]) -> list[Image.Image]:
    """The guide pass's frames at the fractions of the segment where windows 1..n-1 end."""
    total = sum(w - 1 for w in windows)
    targets, done = [], 0
    for frames in windows[:-1]:
        done += frames - 1
        index = round(done / total * (len(guide) - 1))
        targets.append(Image.fromarray(guide[index]))
    return targets


def check_flf2v_model(model: str) -> None:
    """ValueError for a model that is not a Wan FLF2V checkpoint (by name, and by config for
    a local folder)."""
    name = Path(model).name.lower().replace(".", "-").replace("_", "-")
    for token, what in NOT_FLF2V.items():
        if token in name.split("-"):
            raise ValueError(
                f"model '{model}' is {what}, not first-last-frame-to-video — use an FLF2V "
                f"checkpoint, e.g. {DEFAULT_MODEL}, or the 'framepack' backend"
            )
    config = Path(model).expanduser() / "transformer" / "config.json"
    if config.is_file():
        transformer = json.loads(config.read_text(encoding="utf-8"))
        if transformer.get("image_dim") is None or transformer.get("pos_embed_seq_len") is None:
            raise ValueError(
                f"model folder '{model}' has a Wan transformer without two-image conditioning "
                f"(image_dim/pos_embed_seq_len) — it is not FLF2V; use e.g. {DEFAULT_MODEL}"
            )


def _open(path: Path, size: tuple[int, int]) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB").resize(tuple(size), Image.Resampling.LANCZOS)
