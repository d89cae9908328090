"""Speech synthesizers for narration."""

from dataclasses import dataclass
from pathlib import Path

from longvid_assets.resources.base import BackendResource


@dataclass
class SpeechResult:
    duration_s: float
    sample_rate: int
    metadata: dict


class SpeechSynthesizer(BackendResource):
    """Interface: speak `text` into a mono WAV at `out`; `length_scale` > 1 speaks slower."""

    def synthesize(self, text: str, voice: str, out: Path, length_scale: float = 1.0) -> SpeechResult:
        raise NotImplementedError
