"""FramePack (HunyuanVideo) through diffusers' `HunyuanVideoFramepackPipeline`, first → last
keyframe with `sampling_type="inverted_anti_drifting"` and `last_image`.

    video_generator:
      backend: framepack
      model: hunyuanvideo-community/HunyuanVideo        # text encoders, VAE, scheduler
      transformer: lllyasviel/FramePackI2V_HY           # null: the model's own transformer/
      image_encoder: lllyasviel/flux_redux_bfl          # SigLIP; null: the model's own
      gpu: {dtype: bfloat16, offload: group_block, vae_tiling: true}

FramePack makes long videos itself, section by section (`latent_window_size` latent frames,
about 33 video frames each), generated backwards from the last keyframe. Its frame count is
whole sections, so the clip is resampled evenly to exactly the planned count (first and last
frames kept). FramePack F1 samples forwards only and cannot end on a last keyframe: it is
refused when the config loads. At the end of each section the newest latent frame is decoded
for a live preview (`preview: false` turns that off).
"""

import json
from pathlib import Path
from typing import ClassVar

from PIL import Image
from pydantic import Field, field_validator

from longvid_assets.media.thumbnails import thumbnail_md
from longvid_assets.resources import model_cache
from longvid_assets.resources.clip_frames import FrameSink, to_uint8
from longvid_assets.resources.diffusers_common import (
    RequestLogger,
    StepProgress,
    cpu_generator,
    dtype_kwargs,
    load_pipeline,
    load_pretrained,
    run_metadata,
    run_pipeline,
    snap_size,
)
from longvid_assets.resources.gpu import GpuModelResource
from longvid_assets.resources.video import ClipRequest, ClipResult, VideoGenerator

TRANSFORMER_CLASS = "HunyuanVideoFramepackTransformer3DModel"


class FramePackVideoGenerator(GpuModelResource, VideoGenerator):
    """First → last keyframe video with FramePack's inverted anti-drifting sampling."""

    backend_name: ClassVar[str] = "framepack"
    model_kind = "framepack"
    not_in_fingerprint: ClassVar[frozenset[str]] = frozenset({"preview"})

    model: str = "hunyuanvideo-community/HunyuanVideo"
    transformer: str | None = "lllyasviel/FramePackI2V_HY"
    image_encoder: str | None = "lllyasviel/flux_redux_bfl"
    steps: int = Field(25, ge=1)
    guidance: float = Field(10.0, ge=0, description="distilled guidance (FramePack: 10)")
    true_cfg: float = Field(1.0, ge=1, description="> 1 runs a negative pass (slower)")
    negative_prompt: str = ""
    latent_window_size: int = Field(9, ge=2, le=33)
    size: list[int] | None = Field(None, description="generate at [w, h], multiples of 16")
    preview: bool = True

    @field_validator("size")
    @classmethod
    def _size_multiple_of_16(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (len(value) != 2 or any(v < 16 or v % 16 for v in value)):
            raise ValueError(
                f"size {value} must be [width, height] in multiples of 16, e.g. [640, 368]"
            )
        return value

    def check_config(self) -> None:
        """Refuse transformers that cannot end on a last keyframe (FramePack F1, plain
        HunyuanVideo)."""
        source = self.transformer or self.model
        if is_framepack_f1(source):
            raise ValueError(
                f"transformer '{source}' is FramePack F1, which samples forwards only "
                "(sampling_type 'vanilla') and cannot end on a last keyframe — use "
                "lllyasviel/FramePackI2V_HY (inverted anti-drifting, takes last_image)"
            )
        folder = Path(source).expanduser()
        config = folder / "config.json" if self.transformer else folder / "transformer/config.json"
        if config.is_file():
            found = json.loads(config.read_text(encoding="utf-8")).get("_class_name")
            if found != TRANSFORMER_CLASS:
                raise ValueError(
                    f"'{source}' holds a {found}, not a {TRANSFORMER_CLASS} — point "
                    "video_generator.transformer at a FramePack I2V transformer"
                )

    def pipeline_key(self) -> dict:
        """What the loaded pipeline depends on (not steps or prompts): the model cache key."""
        return {
            "model": self.model,
            "transformer": self.transformer,
            "image_encoder": self.image_encoder,
            "gpu": self.gpu.placement(),
        }

    def pipeline(self, logger):
        def load():
            import diffusers
            import transformers

            dtype = self.gpu.torch_dtype()
            components = {}
            if self.transformer:
                components["transformer"] = load_pretrained(
                    getattr(diffusers, TRANSFORMER_CLASS),
                    self.transformer,
                    "video_generator.transformer",
                    **dtype_kwargs(dtype),
                )
            if self.image_encoder:
                field = "video_generator.image_encoder"
                components["feature_extractor"] = load_pretrained(
                    transformers.SiglipImageProcessor,
                    self.image_encoder,
                    field,
                    subfolder="feature_extractor",
                )
                components["image_encoder"] = load_pretrained(
                    transformers.SiglipVisionModel,
                    self.image_encoder,
                    field,
                    subfolder="image_encoder",
                    **dtype_kwargs(dtype, "transformers"),
                )
            return load_pipeline(
                "HunyuanVideoFramepackPipeline",
                self.model,
                self.gpu,
                "video_generator.model",
                logger,
                **components,
            )

        return model_cache.load_once(self.model_kind, self.pipeline_key(), load)

    def generate(self, request: ClipRequest, out: Path) -> ClipResult:
        logger = RequestLogger(request.log)
        # 1. Plan: size and sections.
        size = self.size or snap_size(request.width, request.height, 16, "framepack", logger)
        width, height = size
        window = (self.latent_window_size - 1) * 4 + 1
        sections = max(1, -(-request.num_frames // window))
        progress = StepProgress(f"framepack section 1/{sections}", request.log)
        previews: list = []

        def section_done(pipe, callback_kwargs: dict) -> None:
            label = f"framepack section {progress.passes}/{sections}"
            if self.preview:
                frame = decode_latest_frame(pipe, callback_kwargs["latents"])
                previews.append(thumbnail_md([frame], width=160, caption=label))
                if request.preview is not None:
                    request.preview(previews[-1], label)
            progress.label = f"framepack section {progress.passes + 1}/{sections}"

        progress.on_pass_end = section_done
        # 2. Load once per process and generate every section.
        pipe = self.pipeline(logger)
        self.gpu.reset_peak()
        with Image.open(request.first_image) as first, Image.open(request.last_image) as last:
            output = run_pipeline(
                pipe,
                self.gpu,
                f"generating {request.num_frames} frames at {width}x{height}",
                image=first.convert("RGB").resize(size),
                last_image=last.convert("RGB").resize(size),
                prompt=request.prompt,
                negative_prompt=self.negative_prompt if self.true_cfg > 1 else None,
                true_cfg_scale=self.true_cfg,
                height=height,
                width=width,
                num_frames=request.num_frames,
                latent_window_size=self.latent_window_size,
                num_inference_steps=self.steps,
                guidance_scale=self.guidance,
                generator=cpu_generator(request.seed),
                sampling_type="inverted_anti_drifting",
                output_type="np",
                callback_on_step_end=progress,
            )
        # 3. Exactly the planned frames, evenly resampled from whole sections.
        video = output.frames[0]
        del output
        clip = (request.width, request.height, request.fps)
        with FrameSink(out, *clip, generated=len(video), wanted=request.num_frames) as sink:
            for frame in video:
                sink.push(to_uint8(frame))
        metadata = {"model": self.transformer or self.model, "generated_frames": len(video)}
        metadata.update(sections=sections, **run_metadata(self.gpu, progress, self.steps))
        if previews:
            metadata["preview"] = previews[-1]
        return ClipResult(num_frames=request.num_frames, metadata=metadata)


def decode_latest_frame(pipe, latents):
    """The newest latent frame of a finished section, decoded to one RGB frame."""
    import torch

    vae = pipe.vae
    with torch.no_grad():
        latest = latents[:, :, :1].to(vae.dtype) / vae.config.scaling_factor
        frame = vae.decode(latest, return_dict=False)[0][0, :, 0]  # C x H x W in [-1, 1]
    return to_uint8((frame.float().permute(1, 2, 0).cpu().numpy() + 1.0) / 2.0)


def is_framepack_f1(source: str) -> bool:
    """FramePack F1 checkpoints by name, e.g. lllyasviel/FramePack_F1_I2V_HY_20250503."""
    name = Path(source).name.lower().replace("-", "_").replace(".", "_")
    return "f1" in name.split("_")
