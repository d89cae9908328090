"""Keyframes from an OpenAI-compatible images API (`gpt-image-1`, `dall-e-3`, ...).

    image_generator:
      backend: openai
      model: gpt-image-1
      api_key: {env: OPENAI_API_KEY}
      base_url: null          # any OpenAI-compatible server, e.g. http://localhost:8000/v1
      quality: medium

The API offers a few fixed sizes; `size: auto` asks for the one nearest the render's aspect
(landscape, portrait or square) and the asset resizes/center-crops it to the render's
resolution, logging old → new. Images come back as base64 (`b64_json`). The API takes no
seed, so a keyframe is not reproducible — it is cached by its fingerprint like any other.
"""

import base64
import binascii
import io
from typing import Any, ClassVar, Literal

from PIL import Image, UnidentifiedImageError
from pydantic import Field, PrivateAttr, field_validator

from longvid_assets.errors import BackendError
from longvid_assets.resources.diffusers_images import check_prompt_template
from longvid_assets.resources.images import ImageGenerator, KeyframeRequest
from longvid_assets.resources.openai_http import DEFAULT_BASE_URL, describe_failure, make_client

# (landscape, portrait, square) sizes each model family accepts.
SIZES = {
    "gpt-image": ("1536x1024", "1024x1536", "1024x1024"),
    "dall-e-3": ("1792x1024", "1024x1792", "1024x1024"),
    "dall-e-2": ("1024x1024", "1024x1024", "1024x1024"),
}


class OpenAIImageGenerator(ImageGenerator):
    """Keyframes drawn by an OpenAI-compatible `images.generate` endpoint."""

    backend_name: ClassVar[str] = "openai"
    not_in_fingerprint: ClassVar[frozenset[str]] = frozenset({"timeout_s", "http_retries"})

    model: str = "gpt-image-1"
    base_url: str | None = None
    api_key: str
    size: str = Field("auto", description="auto (nearest the render's aspect) or WxH")
    quality: Literal["auto", "low", "medium", "high", "standard", "hd"] = "auto"
    prompt_template: str = "{description}. Style: {style}. No text, no captions."
    timeout_s: float = Field(180.0, gt=0)
    http_retries: int = Field(2, ge=0)

    _client: Any = PrivateAttr(default=None)

    @field_validator("size")
    @classmethod
    def _size(cls, value: str) -> str:
        parts = value.split("x")
        if value != "auto" and not (len(parts) == 2 and all(p.isdigit() for p in parts)):
            raise ValueError(f"size {value!r} must be auto or WxH, e.g. 1536x1024")
        return value

    @field_validator("prompt_template")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        return check_prompt_template(value)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(
                f"base_url {value!r} is not an http(s) URL: use e.g. http://localhost:8000/v1"
            )
        return value

    def teardown_after_execution(self, context) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def client(self):
        if self._client is None:
            self._client = make_client(
                self.api_key, self.base_url, self.timeout_s, self.http_retries
            )
        return self._client

    def request_size(self, width: int, height: int) -> str:
        if self.size != "auto":
            return self.size
        family = next((key for key in SIZES if self.model.startswith(key)), "gpt-image")
        landscape, portrait, square = SIZES[family]
        aspect = width / height
        if aspect > 1.2:
            return landscape
        return portrait if aspect < 1 / 1.2 else square

    def generate(self, request: KeyframeRequest) -> Image.Image:
        # 1. Ask for one image at the supported size nearest the render's aspect.
        size = self.request_size(request.width, request.height)
        prompt = self.prompt_template.format(description=request.description, style=request.style)
        kwargs: dict[str, Any] = {
            "model": self.model,
            "prompt": prompt,
            "size": size,
            "n": 1,
        }
        if self.quality != "auto":
            kwargs["quality"] = self.quality
        if self.model.startswith("dall-e"):
            kwargs["response_format"] = "b64_json"  # gpt-image models always answer base64
        request.log(f"openai images: {self.model} {size} for keyframe {request.boundary}")
        try:
            response = self.client().images.generate(**kwargs)
        except Exception as exc:
            message = describe_failure(
                exc, "image_generator", self.base_url, self.api_key, self.timeout_s
            )
            if message is None:
                raise
            raise BackendError(message) from None
        # 2. Decode the base64 PNG.
        url = self.base_url or DEFAULT_BASE_URL
        if not response.data or not response.data[0].b64_json:
            raise BackendError(
                f"{url} returned no b64_json image for {self.model} — use a server that "
                "answers images as base64 (response_format b64_json)"
            )
        try:
            image = Image.open(io.BytesIO(base64.b64decode(response.data[0].b64_json)))
            image.load()
        except (binascii.Error, UnidentifiedImageError, OSError) as exc:
            raise BackendError(f"{url} returned an image that does not decode: {exc}") from None
        request.metadata.update(model=self.model, requested_size=size)
        return image.convert("RGB")
