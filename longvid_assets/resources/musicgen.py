"""MusicGen music beds through transformers (`MusicgenForConditionalGeneration`).

    music:
      backend: musicgen
      model: facebook/musicgen-small   # or -medium / -large / -melody, or a local folder
      window_s: 20                     # MusicGen makes at most 30 s per generation
      crossfade_s: 2
      gpu: {device: auto}

A bed of any length is made in windows of `window_s` seconds that overlap by
`crossfade_s`. With `continuation` (default) each window is prompted with the end of the
previous one, so the music carries on, and the overlap is cross-faded linearly from the
old window's end into the new window's re-decoded start (nearly the same audio); without
it the windows are independent and cross-faded at equal power. Each window is levelled to
`level_dbfs` RMS (the synthesized bed's level) and written to the WAV as soon as it is
made: memory holds one window, whatever the length. Windows are seeded (`seed` + index).
"""

import logging
import math
import time
import wave
from pathlib import Path
from typing import ClassVar

import numpy as np
from pydantic import Field, model_validator

from longvid_assets.embedded.music_bed import resolve_mood
from longvid_assets.resources.diffusers_common import dtype_kwargs, load_pretrained
from longvid_assets.resources.gpu import GpuModelResource
from longvid_assets.resources.model_cache import load_once
from longvid_assets.resources.music import MusicGenerator

log = logging.getLogger(__name__)

MOOD_PROMPTS = {
    "calm": "calm ambient soundtrack, soft warm pads and gentle piano, slow tempo, no drums",
    "uplifting": "uplifting cinematic soundtrack, bright strings and piano, hopeful, steady beat",
    "tense": "tense suspenseful film score, low pulsing synths and staccato strings, building",
    "dark": "dark brooding ambient score, deep drones and sparse low piano, minor key",
    "playful": "playful light soundtrack, pizzicato strings, marimba and whistling, bouncy",
    "epic": "epic orchestral soundtrack, big drums, brass and choir, heroic",
}


class MusicGenMusic(GpuModelResource, MusicGenerator):
    backend_name: ClassVar[str] = "musicgen"
    model_kind = "musicgen"
    not_in_fingerprint: ClassVar[frozenset[str]] = frozenset({"local_files_only"})

    model: str = "facebook/musicgen-small"
    prompts: dict[str, str] = {}  # mood -> text description, over MOOD_PROMPTS
    window_s: float = Field(20.0, gt=0.5, le=30.0)
    crossfade_s: float = Field(2.0, ge=0.0, le=10.0)
    continuation: bool = True
    guidance_scale: float = Field(3.0, ge=1.0, le=10.0)
    temperature: float = Field(1.0, gt=0, le=2.0)
    top_k: int = Field(250, ge=0)
    level_dbfs: float = Field(-18.0, ge=-40.0, le=-6.0)
    revision: str | None = None
    local_files_only: bool = False

    @model_validator(mode="after")
    def _overlap_fits(self):
        if self.crossfade_s * 2 >= self.window_s:
            raise ValueError(
                f"crossfade_s {self.crossfade_s} must be under half of window_s {self.window_s} "
                "— lower crossfade_s or raise window_s"
            )
        return self

    def loaded(self):
        key = {"model": self.model, "revision": self.revision, **self.gpu.placement()}
        return load_once(self.model_kind, key, self._load)

    def _load(self):
        from transformers import AutoProcessor, MusicgenForConditionalGeneration

        common = {"revision": self.revision, "local_files_only": self.local_files_only}
        dtype = dtype_kwargs(self.gpu.torch_dtype(), "transformers")
        model = load_pretrained(
            MusicgenForConditionalGeneration, self.model, "music.model", **dtype, **common
        )
        processor = AutoProcessor.from_pretrained(self.model, **common)
        log.info("music: loaded MusicGen %s on %s", self.model, self.gpu.torch_device())
        return model.eval().to(self.gpu.torch_device()), processor

    def describe(self, mood: str) -> str:
        used = resolve_mood(mood)
        if used != (mood or "").strip().lower():
            log.warning(
                "music mood %r is not one of %s; playing %r", mood, list(MOOD_PROMPTS), used
            )
        prompts = {**MOOD_PROMPTS, **self.prompts}
        return prompts.get(used, prompts["calm"])

    def generate(self, mood: str, duration_s: float, seed: int, out: Path) -> dict:
        if duration_s <= 0:
            raise ValueError(f"duration_s is {duration_s}; a music bed needs a positive duration")
        # 1. Model and sizes: samples per codec frame, the overlap in whole frames.
        model, processor = self.loaded()
        rate = int(model.config.audio_encoder.sampling_rate)
        hop = int(round(rate / model.config.audio_encoder.frame_rate))
        window = int(round(self.window_s * rate))
        overlap = int(round(self.crossfade_s * rate / hop)) * hop
        total = int(round(duration_s * rate))
        text = self.describe(mood) if resolve_mood(mood) != "none" else None

        # 2. Windows: each covers [pos, pos + length); its first `len(tail)` samples overlap
        #    the previous window's end, which is blended in and written with it.
        started = time.perf_counter()
        pos, windows, tail = 0, 0, np.zeros(0, dtype=np.float32)
        with wave.open(str(out), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            while pos < total:
                length = min(window, total - pos)
                if length <= len(tail):  # the tail already reaches the end
                    _write(wav, tail[:length])
                    break
                if text is None:
                    audio = np.zeros(length, dtype=np.float32)
                else:
                    prompt = tail if self.continuation and len(tail) else None
                    audio = self._window(model, processor, text, length, prompt, seed + windows)
                # A continued window restates the tail (correlated): fade linearly; an
                # independent one is uncorrelated: equal power keeps the level steady.
                audio[: len(tail)] = crossfade(
                    tail, audio[: len(tail)], equal_power=not self.continuation
                )
                last = pos + length >= total
                keep = length if last else length - overlap
                _write(wav, audio[:keep])
                tail = audio[keep:length].copy()
                pos += keep
                windows += 1
        elapsed = time.perf_counter() - started
        return {
            "path": str(out),
            "backend": self.backend_name,
            "model": self.model,
            "description": text,
            "seed": seed,
            "windows": windows,
            "sample_rate": rate,
            "duration_s": round(total / rate, 3),
            "synth_s": round(elapsed, 2),
            "realtime_factor": round(total / rate / elapsed, 2) if elapsed > 0 else None,
        }

    def _window(self, model, processor, text: str, length: int, prompt, seed: int) -> np.ndarray:
        """`length` samples of music, levelled; with `prompt`, its re-decoded audio first."""
        import torch

        rate = int(model.config.audio_encoder.sampling_rate)
        frame_rate = float(model.config.audio_encoder.frame_rate)
        new = length - (len(prompt) if prompt is not None else 0)
        # Codebook delays cost num_codebooks - 1 tokens; one more frame covers rounding.
        tokens = math.ceil(new / rate * frame_rate) + int(model.config.decoder.num_codebooks)
        if prompt is not None:
            inputs = processor(
                audio=prompt, sampling_rate=rate, text=[text], padding=True, return_tensors="pt"
            )
        else:
            inputs = processor(text=[text], padding=True, return_tensors="pt")
        inputs = inputs.to(model.device)
        if "input_values" in inputs:
            inputs["input_values"] = inputs["input_values"].to(model.dtype)
        torch.manual_seed(seed)
        with torch.inference_mode():
            output = model.generate(
                **inputs,
                do_sample=True,
                guidance_scale=self.guidance_scale,
                temperature=self.temperature,
                top_k=self.top_k,
                max_new_tokens=tokens,
            )
        audio = output[0].float().mean(dim=0).cpu().numpy()  # channels -> mono
        audio = np.pad(audio[:length], (0, max(0, length - len(audio))))
        return level(audio, self.level_dbfs)


def crossfade(old: np.ndarray, new: np.ndarray, equal_power: bool = True) -> np.ndarray:
    """Fade from `old` into `new` (same length): equal power (sin/cos) or linear."""
    if len(old) == 0:
        return new
    t = (np.arange(len(old), dtype=np.float64) + 0.5) / len(old)
    if equal_power:
        fade_in, fade_out = np.sin(0.5 * np.pi * t), np.cos(0.5 * np.pi * t)
    else:
        fade_in, fade_out = t, 1.0 - t
    return (old * fade_out + new * fade_in).astype(np.float32)


def level(audio: np.ndarray, rms_dbfs: float) -> np.ndarray:
    """Scale to `rms_dbfs` RMS, keeping peaks under 0.98 (silence stays silent)."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0
    if rms < 1e-6:
        return audio.astype(np.float32)
    gain = 10.0 ** (rms_dbfs / 20.0) / rms
    peak = float(np.max(np.abs(audio))) * gain
    if peak > 0.98:
        gain *= 0.98 / peak
    return (audio * gain).astype(np.float32)


def _write(wav: wave.Wave_write, samples: np.ndarray) -> None:
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    wav.writeframes(pcm.tobytes())
