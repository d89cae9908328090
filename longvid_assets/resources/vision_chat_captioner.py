"""Captions from a vision chat model on any OpenAI-compatible server.

Made for vLLM serving `openbmb/MiniCPM-V-4_5` (any VLM works):

    vllm serve openbmb/MiniCPM-V-4_5 --trust-remote-code --limit-mm-per-prompt '{"image": 8}'

    captioner:
      backend: vision_chat
      base_url: http://localhost:8000/v1
      model: openbmb/MiniCPM-V-4_5
      api_key: {env: VLLM_API_KEY}
      frame_rate: 1.0        # frames per second of clip ...
      max_frames: 8          # ... at most this many, 448 px wide
      extra_body: {stop_token_ids: [151645, 151643]}

Frames go as base64 `image_url` parts (JPEG by default); `media: video` sends the clip
itself as a base64 `video_url` part instead (vLLM's video input), `media: both` sends both.
"""

import logging
import re
from typing import Any, ClassVar, Literal

from pydantic import Field, PrivateAttr, field_validator

from longvid_assets.errors import BackendError
from longvid_assets.media.frames import image_data_url, video_data_url
from longvid_assets.resources.captioner import CaptionRequest, FrameCaptioner
from longvid_assets.resources.openai_http import describe_failure, make_client

log = logging.getLogger(__name__)

THINKING = re.compile(r"<think>.*?</think>", re.DOTALL)


class VisionChatCaptioner(FrameCaptioner):
    """OpenAI-compatible chat completions with image parts (vLLM, OpenAI, ...)."""

    backend_name: ClassVar[str] = "vision_chat"
    not_in_fingerprint: ClassVar[frozenset[str]] = frozenset(
        {"timeout_s", "http_retries", "base_url"}
    )

    model: str = "openbmb/MiniCPM-V-4_5"
    base_url: str | None = None  # e.g. http://localhost:8000/v1 (vLLM); None: api.openai.com
    api_key: str = ""
    media: Literal["frames", "video", "both"] = "frames"
    image_format: Literal["jpeg", "png"] = "jpeg"
    temperature: float = Field(0.0, ge=0, le=2)
    extra_body: dict[str, Any] = {}  # sent as is, e.g. {stop_token_ids: [...], top_k: 1}
    timeout_s: float = Field(120.0, gt=0)
    http_retries: int = Field(2, ge=0)

    _client: Any = PrivateAttr(default=None)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(
                f"captioner.base_url {value!r} is not an http(s) URL: use e.g. "
                "http://localhost:8000/v1"
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

    def messages(self, request: CaptionRequest) -> list[dict]:
        """One user message: the sampled frames (and/or the clip), then the question."""
        parts: list[dict] = []
        if self.media in ("frames", "both"):
            for frame in self.frames(request):
                url = image_data_url(frame.image, self.image_format)
                parts.append({"type": "image_url", "image_url": {"url": url}})
        if self.media in ("video", "both"):
            parts.append({"type": "video_url", "video_url": {"url": video_data_url(request.clip)}})
        parts.append({"type": "text", "text": self.question})
        return [{"role": "user", "content": parts}]

    def caption(self, request: CaptionRequest) -> str:
        import openai

        # 1. Ask.
        try:
            reply = self.client().chat.completions.create(
                model=self.model,
                messages=self.messages(request),
                max_tokens=self.max_tokens,
                temperature=self.temperature,
                extra_body=self.extra_body or None,
            )
        except openai.OpenAIError as exc:
            message = describe_failure(
                exc, "captioner", self.base_url, self.api_key, self.timeout_s
            )
            raise BackendError(f"vision captioner ({self.model}): {message}") from None
        # 2. The caption: the message text without any <think> block.
        choice = reply.choices[0] if reply.choices else None
        text = THINKING.sub("", (choice.message.content if choice else None) or "").strip()
        if not text:
            raise BackendError(
                f"vision captioner ({self.model}) at {self.base_url or 'api.openai.com'} "
                f"answered with no text for {request.clip.name} — check the model is a vision "
                "model and captioner.extra_body (e.g. stop_token_ids) does not stop it at once"
            )
        if choice.finish_reason == "length":
            log.warning(
                "caption for %s was cut at captioner.max_tokens=%d; raise it for full sentences",
                request.clip.name,
                self.max_tokens,
            )
        return " ".join(text.split())
