"""Bark narration through transformers (`BarkModel`), with a voice preset.

    speech:
      backend: bark
      model: suno/bark-small        # or suno/bark, or a local folder
      voice: v2/en_speaker_6        # a preset the model repo ships, or a .npz file
      gpu: {device: auto}

Bark speaks about 14 s at most per generation and its text input is cut at 256 tokens, so
the narration is spoken sentence by sentence (long sentences split at commas) and the takes
are joined with a short pause, streamed into the WAV. Bark samples, so each sentence is
seeded (`seed` + its index) to make a narration reproducible on one machine. It has no
speed control: `length_scale` < 1 (fit a slot) is applied afterwards with ffmpeg `atempo`.
The voice is the plan's `voice` when it names a Bark preset (e.g. `v2/en_speaker_3`),
else this resource's `voice` (plans default to a Piper voice name).
"""

import logging
import re
import time
import wave
from pathlib import Path
from typing import ClassVar

import numpy as np
from pydantic import Field

from longvid_assets.errors import ConfigError
from longvid_assets.resources.diffusers_common import dtype_kwargs, load_pretrained
from longvid_assets.resources.gpu import GpuModelResource
from longvid_assets.resources.model_cache import load_once
from longvid_assets.resources.speech import SpeechResult, SpeechSynthesizer

log = logging.getLogger(__name__)

MAX_WORDS_PER_TAKE = 30  # ~12 s of speech: inside Bark's ~14 s and 256-token limits


class BarkSpeech(GpuModelResource, SpeechSynthesizer):
    backend_name: ClassVar[str] = "bark"
    model_kind = "bark"
    not_in_fingerprint: ClassVar[frozenset[str]] = frozenset({"local_files_only"})

    model: str = "suno/bark-small"
    voice: str = "v2/en_speaker_6"
    seed: int = 0
    temperature: float = Field(0.7, gt=0, le=2.0)  # Bark's own text/waveform temperature
    max_semantic_tokens: int = Field(768, ge=8, le=768)  # per take; 768 ≈ 15 s (Bark's cap)
    sentence_silence_s: float = Field(0.25, ge=0.0, le=3.0)
    revision: str | None = None
    local_files_only: bool = False

    def loaded(self):
        key = {"model": self.model, "revision": self.revision, **self.gpu.placement()}
        return load_once(self.model_kind, key, self._load)

    def _load(self):
        from transformers import AutoProcessor, BarkModel

        common = {"revision": self.revision, "local_files_only": self.local_files_only}
        dtype = dtype_kwargs(self.gpu.torch_dtype(), "transformers")
        model = load_pretrained(BarkModel, self.model, "speech.model", **dtype, **common)
        processor = AutoProcessor.from_pretrained(self.model, **common)
        log.info("speech: loaded Bark %s on %s", self.model, self.gpu.torch_device())
        return model.eval().to(self.gpu.torch_device()), processor

    def pick_voice(self, plan_voice: str, processor) -> str:
        """The plan's voice if Bark knows it, else this resource's; checked either way."""
        known = set(processor.available_voice_presets)
        for candidate in (plan_voice, self.voice):
            if candidate and (candidate in known or _is_preset_file(candidate)):
                return candidate
        shown = ", ".join(sorted(known)[:6]) or "none in this model repo"
        raise ConfigError(
            f"speech.voice {self.voice!r} is not a Bark voice preset of {self.model} "
            f"(it has: {shown}) — use one of those or a .npz preset file"
        )

    def synthesize(
        self, text: str, voice: str, out: Path, length_scale: float = 1.0
    ) -> SpeechResult:
        import torch

        if not 0.1 <= length_scale <= 5.0:
            raise ValueError(
                f"length_scale is {length_scale}; use 0.1..5.0 (below 1 speaks faster)"
            )
        # 1. Model, voice and the takes (one per sentence).
        model, processor = self.loaded()
        name = self.pick_voice(voice, processor)
        takes = split_takes(text)
        rate = int(model.generation_config.sample_rate)
        gap = np.zeros(int(round(self.sentence_silence_s * rate)), dtype=np.float32)

        # 2. Speak each take into the WAV as it is generated.
        started = time.perf_counter()
        frames = 0
        with wave.open(str(out), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            for index, take in enumerate(takes):
                inputs = _on_device(processor(take, voice_preset=name), model.device)
                torch.manual_seed(self.seed + index)
                with torch.inference_mode():
                    audio = model.generate(
                        **inputs,
                        do_sample=True,
                        temperature=self.temperature,
                        semantic_max_new_tokens=self.max_semantic_tokens,
                    )
                samples = audio[0].float().cpu().numpy()
                if index:
                    frames += _write(wav, gap)
                frames += _write(wav, samples)
        elapsed = time.perf_counter() - started

        # 3. Bark has no speed control: time-stretch the whole take when asked to.
        duration = frames / rate
        if length_scale != 1.0 and frames:
            from longvid_assets.media.audio import change_tempo, wav_duration

            change_tempo(out, 1.0 / length_scale, max_frames=int(frames * length_scale))
            duration = wav_duration(out)
        return SpeechResult(
            duration_s=duration,
            sample_rate=rate,
            metadata={
                "voice": name,
                "model": self.model,
                "takes": len(takes),
                "length_scale": round(length_scale, 4),
                "synth_s": round(elapsed, 3),
                "realtime_factor": round(frames / rate / elapsed, 2) if elapsed > 0 else None,
            },
        )


def split_takes(text: str, max_words: int = MAX_WORDS_PER_TAKE) -> list[str]:
    """Sentences, with any longer than `max_words` split at commas, then every `max_words`."""
    takes: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", " ".join(text.split())):
        if not sentence:
            continue
        words = sentence.split()
        if len(words) <= max_words:
            takes.append(sentence)
            continue
        current: list[str] = []
        for word in words:
            current.append(word)
            if len(current) >= max_words or (word.endswith((",", ";", ":")) and len(current) > 8):
                takes.append(" ".join(current))
                current = []
        if current:
            takes.append(" ".join(current))
    return takes or [" "]


def _on_device(inputs, device) -> dict:
    """The processor's tensors on `device`, the voice preset's (`history_prompt`) included."""
    moved = {}
    for key, value in inputs.items():
        if key == "history_prompt" and value is not None:
            moved[key] = {name: tensor.to(device) for name, tensor in value.items()}
        else:
            moved[key] = value.to(device)
    return moved


def _is_preset_file(voice: str) -> bool:
    return voice.endswith(".npz") and Path(voice).expanduser().is_file()


def _write(wav: wave.Wave_write, samples: np.ndarray) -> int:
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    wav.writeframes(pcm.tobytes())
    return len(pcm)
