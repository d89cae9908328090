"""Music bed generators."""

from pathlib import Path

from longvid_assets.resources.base import BackendResource


class MusicGenerator(BackendResource):
    """Interface: write a music bed WAV of `duration_s` seconds for `mood` to `out`."""

    def generate(self, mood: str, duration_s: float, seed: int, out: Path) -> dict:
        raise NotImplementedError
