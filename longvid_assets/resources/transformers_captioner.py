"""Captions from a local vision-language model through transformers.

Two ways in, chosen by `api` (`auto` picks from the model's config):

- `image_text_to_text`: any `AutoModelForImageTextToText` model with an `AutoProcessor`
  and a chat template (Llava, Qwen2.5-VL, SmolVLM, Gemma 3, ...): the frames are images in
  one user turn, decoded greedily.
- `minicpm_chat`: MiniCPM-V (e.g. `openbmb/MiniCPM-V-4_5`) through its `trust_remote_code`
  chat API, `model.chat(msgs=[{"role": "user", "content": [*frames, question]}], ...)`,
  with the frames' times as `temporal_ids` for its 3D resampler (as in its video example).
  Needs `trust_remote_code: true`.

The model loads once per process on first use (`model_cache.load_once`); a run whose
captions are all stored loads nothing.
"""

import logging
from typing import ClassVar, Literal

from pydantic import Field, PrivateAttr

from longvid_assets.errors import BackendError, ConfigError
from longvid_assets.media.frames import SampledFrame
from longvid_assets.resources.captioner import CaptionRequest, FrameCaptioner
from longvid_assets.resources.diffusers_common import (
    dtype_kwargs,
    load_pretrained,
    missing_model_message,
)
from longvid_assets.resources.gpu import GpuModelResource
from longvid_assets.resources.model_cache import load_once

log = logging.getLogger(__name__)

MINICPM_TIME_SCALE = 0.1  # MiniCPM-V 4.5 temporal ids count tenths of a second


class TransformersCaptioner(GpuModelResource, FrameCaptioner):
    backend_name: ClassVar[str] = "transformers"
    model_kind = "captioner-transformers"
    not_in_fingerprint: ClassVar[frozenset[str]] = frozenset({"local_files_only"})

    model: str = "openbmb/MiniCPM-V-4_5"  # hub id or local folder
    api: Literal["auto", "image_text_to_text", "minicpm_chat"] = "auto"
    trust_remote_code: bool = False  # MiniCPM-V needs true: it runs the repo's own code
    revision: str | None = None
    local_files_only: bool = False
    max_frames: int = Field(6, ge=1, le=64)

    _api: str | None = PrivateAttr(default=None)

    # Loading --------------------------------------------------------------------------
    def resolved_api(self) -> str:
        if self.api != "auto":
            return self.api
        if self._api is None:
            self._api = self._detect_api()
        return self._api

    def _detect_api(self) -> str:
        from transformers import AutoConfig

        try:
            config = AutoConfig.from_pretrained(
                self.model,
                trust_remote_code=self.trust_remote_code,
                revision=self.revision,
                local_files_only=self.local_files_only,
            )
        except ValueError as exc:
            if "trust_remote_code" in str(exc):
                raise ConfigError(
                    f"captioner.model {self.model!r} runs its own code — set "
                    "captioner.trust_remote_code: true if you trust the repository"
                ) from None
            raise BackendError(missing_model_message(self.model, "captioner.model", exc)) from None
        except OSError as exc:
            raise BackendError(missing_model_message(self.model, "captioner.model", exc)) from None
        return "minicpm_chat" if config.model_type.startswith("minicpm") else "image_text_to_text"

    def loaded(self) -> tuple[str, object, object]:
        """(api, model, processor or tokenizer), loaded once per process."""
        api = self.resolved_api()
        key = {"model": self.model, "api": api, "revision": self.revision, **self.gpu.placement()}
        model, processor = load_once(self.model_kind, key, lambda: self._load(api))
        return api, model, processor

    def _load(self, api: str):
        from transformers import (
            AutoModel,
            AutoModelForImageTextToText,
            AutoProcessor,
            AutoTokenizer,
        )

        device, dtype = self.gpu.torch_device(), self.gpu.torch_dtype()
        common = {
            "trust_remote_code": self.trust_remote_code,
            "revision": self.revision,
            "local_files_only": self.local_files_only,
        }
        if api == "minicpm_chat":
            if not self.trust_remote_code:
                raise ConfigError(
                    f"captioner.model {self.model!r} uses MiniCPM-V's chat API, which is the "
                    "repository's own code — set captioner.trust_remote_code: true"
                )
            model = load_pretrained(
                AutoModel,
                self.model,
                "captioner.model",
                attn_implementation="sdpa",
                **dtype_kwargs(dtype, "transformers"),
                **common,
            )
            processor = AutoTokenizer.from_pretrained(self.model, **common)
        else:
            model = load_pretrained(
                AutoModelForImageTextToText,
                self.model,
                "captioner.model",
                **dtype_kwargs(dtype, "transformers"),
                **common,
            )
            processor = AutoProcessor.from_pretrained(self.model, **common)
        log.info("captioner: loaded %s (%s) on %s as %s", self.model, api, device, dtype)
        return model.eval().to(device), processor

    # Captioning -----------------------------------------------------------------------
    def caption(self, request: CaptionRequest) -> str:
        import torch

        frames = self.frames(request)
        api, model, processor = self.loaded()
        with torch.inference_mode():
            if api == "minicpm_chat":
                kwargs = minicpm_chat_kwargs(frames, self.question, self.max_tokens)
                text = model.chat(tokenizer=processor, **kwargs)
            else:
                text = self._generate(model, processor, frames)
        text = " ".join(str(text).split())
        if not text:
            raise BackendError(
                f"captioner {self.model} returned an empty caption for {request.clip.name} — "
                "check the model is an instruction-tuned vision model (not a base model)"
            )
        return text

    def _generate(self, model, processor, frames: list[SampledFrame]) -> str:
        # 1. One user turn: every frame as an image, then the question.
        content = [{"type": "image"} for _ in frames] + [{"type": "text", "text": self.question}]
        messages = [{"role": "user", "content": content}]
        if getattr(processor, "chat_template", None) is None:
            raise ConfigError(
                f"captioner.model {self.model!r} has no chat template in its processor — use "
                "an instruction-tuned model (e.g. llava-hf/llava-onevision-qwen2-0.5b-ov-hf)"
            )
        prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
        # 2. Tensors on the model's device; pixel values in its dtype.
        inputs = processor(images=[f.image for f in frames], text=prompt, return_tensors="pt")
        inputs = inputs.to(model.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
        # 3. Greedy decoding; keep only the new tokens.
        output = model.generate(**inputs, max_new_tokens=self.max_tokens, do_sample=False)
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        return processor.batch_decode(new_tokens, skip_special_tokens=True)[0]


def minicpm_chat_kwargs(frames: list[SampledFrame], question: str, max_tokens: int) -> dict:
    """Arguments for MiniCPM-V 4.5's `model.chat` on a clip's frames (its video recipe): no
    image ids, one slice per frame, the frames' times as one group of `temporal_ids`."""
    temporal_ids = [[int(round(f.time_s / MINICPM_TIME_SCALE)) for f in frames]]
    return {
        "msgs": [{"role": "user", "content": [f.image for f in frames] + [question]}],
        "use_image_id": False,
        "max_slice_nums": 1,
        "temporal_ids": temporal_ids,
        "enable_thinking": False,
        "max_new_tokens": max_tokens,
        "sampling": False,
    }
