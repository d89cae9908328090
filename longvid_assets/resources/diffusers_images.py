"""Keyframes from diffusers: Stable Diffusion 3 (`sd3`) and any text-to-image model that
`AutoPipelineForText2Image` loads (`diffusers`).

    image_generator:
      backend: sd3
      model: stabilityai/stable-diffusion-3.5-medium   # or a local folder
      steps: 40
      guidance: 4.5
      mode: img2img        # text2img | img2img | inpaint
      gpu: {dtype: bfloat16, offload: model}

Modes. `text2img` draws every keyframe from its description. `img2img` and `inpaint` refine
keyframe k from keyframe k-1 (the first is drawn from text), for consistency across
segments: img2img repaints the whole previous frame with `strength`; inpaint repaints only
the `mask` region (center, border, lower, upper, or a PNG path: white = repaint) and keeps
the rest. The image-to-image pipelines share the loaded model's weights (`from_pipe`).

Sizes. Keyframes are generated at `size` (default: the render's size snapped to multiples of
16) and the asset resizes/center-crops them to the render's resolution, logging old → new.
"""

import json
import re
from pathlib import Path
from typing import ClassVar, Literal

from PIL import Image, ImageDraw, ImageOps
from pydantic import Field, field_validator

from longvid_assets.resources import model_cache
from longvid_assets.resources.base import BackendResource
from longvid_assets.resources.clip_frames import to_uint8
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
from longvid_assets.resources.images import ImageGenerator, KeyframeRequest

MASKS = ("center", "border", "lower", "upper")
DERIVED_PIPELINES = {
    "img2img": "AutoPipelineForImage2Image",
    "inpaint": "AutoPipelineForInpainting",
}


class DiffusersImageGenerator(GpuModelResource, ImageGenerator):
    """Any diffusers text-to-image model through `AutoPipelineForText2Image`."""

    backend_name: ClassVar[str] = "diffusers"
    model_kind = "diffusers_images"
    pipeline_class: ClassVar[str] = "AutoPipelineForText2Image"

    model: str
    mode: Literal["text2img", "img2img", "inpaint"] = "text2img"
    steps: int = Field(30, ge=1)
    guidance: float = Field(5.0, ge=0)
    negative_prompt: str = "blurry, low quality, text, watermark, deformed, cropped"
    strength: float = Field(0.6, gt=0, le=1, description="img2img/inpaint: how much to repaint")
    mask: str = "center"
    mask_fraction: float = Field(0.5, gt=0, lt=1, description="share of the frame the mask covers")
    size: list[int] | None = Field(None, description="generate at [w, h], multiples of 16")
    prompt_template: str = "{description}. Style: {style}"

    @field_validator("size")
    @classmethod
    def _size_multiple_of_16(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (len(value) != 2 or any(v < 16 or v % 16 for v in value)):
            raise ValueError(
                f"size {value} must be [width, height] in multiples of 16, e.g. [1024, 576]"
            )
        return value

    @field_validator("prompt_template")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        return check_prompt_template(value)

    def check_config(self) -> None:
        mask_file = Path(self.mask).expanduser()
        if self.mode == "inpaint" and self.mask not in MASKS and not mask_file.is_file():
            raise ValueError(
                f"mask {self.mask!r} is neither one of {', '.join(MASKS)} nor an image "
                "file — use one of those or a PNG path (white = repaint)"
            )
        self.check_model_folder()

    def check_model_folder(self) -> None:
        """Subclasses refuse a local folder holding the wrong pipeline."""

    def identity(self) -> dict:
        identity = BackendResource.identity(self)
        if self.mode == "text2img":
            for unused in ("strength", "mask", "mask_fraction"):
                identity.pop(unused)
        else:
            identity["refines_previous"] = True  # keyframe k is made from keyframe k-1
        if self.mode == "img2img":
            identity.pop("mask")
            identity.pop("mask_fraction")
        return identity

    def extra_call_kwargs(self) -> dict:
        return {}

    def pipelines(self, logger) -> dict:
        """{"text2img": pipe} plus the mode's image-to-image pipeline sharing its weights."""

        def load() -> dict:
            import diffusers

            field = "image_generator.model"
            pipe = load_pipeline(self.pipeline_class, self.model, self.gpu, field, logger)
            pipes = {"text2img": pipe}
            if self.mode in DERIVED_PIPELINES:
                auto = getattr(diffusers, DERIVED_PIPELINES[self.mode])
                try:
                    pipes[self.mode] = auto.from_pipe(pipe)
                except ValueError as exc:
                    raise ValueError(
                        f"image_generator.mode {self.mode}: {type(pipe).__name__} has no "
                        f"{self.mode} pipeline in diffusers ({exc}) — use mode text2img"
                    ) from None
                pipes[self.mode].set_progress_bar_config(disable=True)
            return pipes

        key = {
            "class": self.pipeline_class,
            "model": self.model,
            "mode": self.mode,
            "gpu": self.gpu.placement(),
        }
        return model_cache.load_once(self.model_kind, key, load)

    def generate(self, request: KeyframeRequest) -> Image.Image:
        logger = RequestLogger(request.log)
        # 1. Size and pipeline: the first keyframe from text, the others refined if asked.
        size = self.size or snap_size(request.width, request.height, 16, self.backend_name, logger)
        width, height = size
        prompt = self.prompt_template.format(description=request.description, style=request.style)
        refine = self.mode != "text2img" and request.previous is not None
        mode = self.mode if refine else "text2img"
        pipe = self.pipelines(logger)[mode]
        # 2. Arguments for the mode.
        label = f"{self.backend_name} keyframe {request.boundary} ({mode})"
        progress = StepProgress(label, request.log)
        kwargs = dict(
            prompt=prompt,
            negative_prompt=self.negative_prompt or None,
            num_inference_steps=self.steps,
            guidance_scale=self.guidance,
            generator=cpu_generator(request.seed),
            callback_on_step_end=progress,
            **self.extra_call_kwargs(),
        )
        if mode in ("text2img", "inpaint"):
            kwargs.update(height=height, width=width)
        if refine:
            previous = request.previous.convert("RGB").resize(size)
            kwargs.update(image=previous, strength=self.strength)
        if mode == "inpaint":
            kwargs["mask_image"] = make_mask(self.mask, self.mask_fraction, size)
        # 3. Generate.
        self.gpu.reset_peak()
        what = f"drawing a {width}x{height} keyframe"
        pixels = run_pipeline(pipe, self.gpu, what, output_type="np", **kwargs).images[0]
        request.metadata.update(model=self.model, mode=mode, size=f"{width}x{height}")
        request.metadata.update(run_metadata(self.gpu, progress, self.steps))
        return Image.fromarray(to_uint8(pixels))


class SD3ImageGenerator(DiffusersImageGenerator):
    """Stable Diffusion 3 / 3.5 through `StableDiffusion3Pipeline`."""

    backend_name: ClassVar[str] = "sd3"
    pipeline_class: ClassVar[str] = "StableDiffusion3Pipeline"

    model: str = "stabilityai/stable-diffusion-3.5-medium"
    steps: int = Field(40, ge=1)
    guidance: float = Field(4.5, ge=0)
    max_sequence_length: int = Field(256, ge=16, le=512, description="T5 prompt tokens")

    def extra_call_kwargs(self) -> dict:
        return {"max_sequence_length": self.max_sequence_length}

    def check_model_folder(self) -> None:
        index = Path(self.model).expanduser() / "model_index.json"
        if index.is_file():
            found = json.loads(index.read_text(encoding="utf-8")).get("_class_name")
            if found != self.pipeline_class:
                raise ValueError(
                    f"model folder '{self.model}' holds a {found}, not a "
                    f"{self.pipeline_class} — use backend 'diffusers' for other models"
                )


def check_prompt_template(value: str) -> str:
    """A keyframe prompt template has {description}, may have {style}, nothing else."""
    unknown = set(re.findall(r"{(\w*)}", value)) - {"description", "style"}
    if unknown or "{description}" not in value:
        raise ValueError(
            f"prompt_template {value!r} must contain {{description}} and may contain "
            "{style}; nothing else in braces"
        )
    return value


def make_mask(kind: str, fraction: float, size: tuple[int, int]) -> Image.Image:
    """An inpainting mask (white = repaint) of `size`: a named region or a PNG file."""
    width, height = size
    if kind not in MASKS:
        with Image.open(Path(kind).expanduser()) as image:
            return image.convert("L").resize(size)
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    if kind in ("center", "border"):
        dx, dy = round(width * (1 - fraction) / 2), round(height * (1 - fraction) / 2)
        draw.rectangle([dx, dy, width - dx - 1, height - dy - 1], fill=255)
        if kind == "border":
            mask = ImageOps.invert(mask)
    elif kind == "lower":
        draw.rectangle([0, round(height * (1 - fraction)), width, height], fill=255)
    else:  # upper
        draw.rectangle([0, 0, width, round(height * fraction)], fill=255)
    return mask
