"""Music bed generators."""

import logging
from dataclasses import asdict
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from longvid_assets.embedded.music_bed import resolve_mood, write_bed_wav
from longvid_assets.resources.base import BackendResource

log = logging.getLogger(__name__)


class MusicGenerator(BackendResource):
    """Interface: write a music bed WAV of `duration_s` seconds for `mood` to `out`."""

    def generate(self, mood: str, duration_s: float, seed: int, out: Path) -> dict:
        raise NotImplementedError


class SynthMusic(MusicGenerator):
    """Embedded: an ambient pad-and-pulse bed synthesized in numpy, streamed to a mono WAV.

    Moods: calm, uplifting, tense, dark, playful, epic; "none" is silence; any other mood
    plays calm (with a warning). Deterministic by seed; about 50x real time on one core.
    """

    backend_name = "synth"
    tier = "embedded"
    moods: ClassVar[tuple[str, ...]] = ("calm", "uplifting", "tense", "dark", "playful", "epic")
    sample_rate: int = Field(48000, ge=8000, le=192000)

    def generate(self, mood: str, duration_s: float, seed: int, out: Path) -> dict:
        used = resolve_mood(mood)
        if used != "none" and used != (mood or "").strip().lower():
            log.warning("music mood %r is not one of %s; playing %r", mood, self.moods, used)
        info = write_bed_wav(Path(out), mood, duration_s, seed, self.sample_rate)
        return {"path": str(out), "backend": self.backend_name, "seed": seed, **asdict(info)}
