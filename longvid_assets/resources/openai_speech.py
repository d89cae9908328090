"""Narration from any OpenAI-compatible speech endpoint (`POST /v1/audio/speech`).

    speech:
      backend: openai
      model: gpt-4o-mini-tts        # or tts-1, or what a local server serves (Kokoro, ...)
      voice: alloy
      base_url: null                # e.g. http://localhost:8880/v1
      api_key: {env: OPENAI_API_KEY}

The reply (WAV by default; mp3, flac, opus, aac or raw 24 kHz pcm when configured) is
streamed to a file, then converted to a mono 16-bit WAV at its own rate by ffmpeg.
`length_scale` < 1 (fit a slot) becomes the request's `speed` (1 / length_scale, within the
API's 0.25..4). The voice is the plan's `voice` unless that is a Piper voice name
(`en_US-joe-medium`: the plans' default), then this resource's `voice`.
"""

import re
import tempfile
import time
import wave
from pathlib import Path
from typing import Any, ClassVar, Literal

import ffmpeg
from pydantic import Field, PrivateAttr

from longvid_assets.errors import BackendError
from longvid_assets.media.ffmpeg import run
from longvid_assets.resources.openai_http import describe_failure, make_client
from longvid_assets.resources.speech import SpeechResult, SpeechSynthesizer

PIPER_VOICE = re.compile(r"^[a-z]{2,3}_[A-Z]{2}-[\w]+-(x_low|low|medium|high)$")
PCM_RATE = 24000  # OpenAI's raw pcm format: 24 kHz 16-bit little-endian mono


class OpenAISpeech(SpeechSynthesizer):
    backend_name: ClassVar[str] = "openai"
    not_in_fingerprint: ClassVar[frozenset[str]] = frozenset(
        {"timeout_s", "http_retries", "base_url"}
    )

    model: str = "gpt-4o-mini-tts"
    voice: str = "alloy"
    base_url: str | None = None
    api_key: str = ""
    response_format: Literal["wav", "mp3", "flac", "opus", "aac", "pcm"] = "wav"
    speed: float = Field(1.0, ge=0.25, le=4.0)
    instructions: str | None = None  # tone/style, for models that take it (gpt-4o-mini-tts)
    timeout_s: float = Field(120.0, gt=0)
    http_retries: int = Field(2, ge=0)

    _client: Any = PrivateAttr(default=None)

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

    def pick_voice(self, plan_voice: str) -> str:
        return plan_voice if plan_voice and not PIPER_VOICE.match(plan_voice) else self.voice

    def synthesize(
        self, text: str, voice: str, out: Path, length_scale: float = 1.0
    ) -> SpeechResult:
        import openai

        if not 0.1 <= length_scale <= 5.0:
            raise ValueError(
                f"length_scale is {length_scale}; use 0.1..5.0 (below 1 speaks faster)"
            )
        name = self.pick_voice(voice)
        speed = min(4.0, max(0.25, self.speed / length_scale))
        request: dict[str, Any] = {
            "model": self.model,
            "voice": name,
            "input": text,
            "response_format": self.response_format,
        }
        if abs(speed - 1.0) > 1e-6:
            request["speed"] = round(speed, 4)
        if self.instructions:
            request["instructions"] = self.instructions

        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="speech-", dir=Path(out).parent) as tmp:
            # 1. Stream the reply to a file.
            raw = Path(tmp) / f"reply.{self.response_format}"
            try:
                speech = self.client().audio.speech.with_streaming_response
                with speech.create(**request) as response:
                    response.stream_to_file(raw)
            except openai.OpenAIError as exc:
                message = describe_failure(
                    exc, "speech", self.base_url, self.api_key, self.timeout_s
                )
                raise BackendError(f"speech ({self.model}, voice {name}): {message}") from None
            if raw.stat().st_size == 0:
                raise BackendError(
                    f"speech endpoint {self.base_url or 'api.openai.com'} returned no audio for "
                    f"{text[:40]!r} — check speech.model and speech.voice"
                )
            # 2. Any format to a mono 16-bit WAV at its own rate.
            to_wav(raw, Path(out), self.response_format)
        elapsed = time.perf_counter() - started
        with wave.open(str(out), "rb") as wav:
            rate, frames = wav.getframerate(), wav.getnframes()
        return SpeechResult(
            duration_s=frames / rate,
            sample_rate=rate,
            metadata={
                "voice": name,
                "model": self.model,
                "speed": round(speed, 4),
                "length_scale": round(length_scale, 4),
                "synth_s": round(elapsed, 3),
            },
        )


def to_wav(source: Path, out: Path, response_format: str) -> None:
    """Decode a speech reply into a mono 16-bit WAV (keeping its sample rate)."""
    if response_format == "pcm":
        stream = ffmpeg.input(str(source), format="s16le", ar=PCM_RATE, ac=1).audio
    else:
        stream = ffmpeg.input(str(source)).audio
    run(
        stream.output(str(out), acodec="pcm_s16le", ac=1, format="wav"),
        f"decoding the {response_format} speech reply",
    )
