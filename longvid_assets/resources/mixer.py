"""The narration/music mixer."""

from pathlib import Path

from pydantic import field_validator

from longvid_assets.media.audio import MixResult, NarrationPlacement, mix_tracks
from longvid_assets.resources.base import BackendResource


class AudioMixer(BackendResource):
    """ffmpeg: narration over a ducked music bed, loudness-normalized, exact length.

    `music_gain_db` sets the music under the narration bus as the music file comes;
    `duck_db` is how much further it dips while a narration clip plays.
    """

    backend_name = "ffmpeg"
    target_lufs: float = -16.0  # integrated loudness of the mix (-16 web/podcast, -23 EBU R128)
    music_gain_db: float = -20.0
    duck_db: float = 10.0
    sample_rate: int = 48000
    channels: int = 2

    @field_validator("target_lufs")
    @classmethod
    def _check_target(cls, value: float) -> float:
        if not -40.0 <= value <= -5.0:
            raise ValueError(
                f"target_lufs is {value}; use -40..-5 LUFS (-16 for web video, -23 for EBU R128)"
            )
        return value

    @field_validator("music_gain_db")
    @classmethod
    def _check_music_gain(cls, value: float) -> float:
        if not -60.0 <= value <= 12.0:
            raise ValueError(f"music_gain_db is {value}; use -60..12 dB (-20 sits under speech)")
        return value

    @field_validator("duck_db")
    @classmethod
    def _check_duck(cls, value: float) -> float:
        if not 0.0 <= value <= 40.0:
            raise ValueError(f"duck_db is {value}; use 0..40 dB (0 turns ducking off)")
        return value

    @field_validator("sample_rate")
    @classmethod
    def _check_rate(cls, value: int) -> int:
        if value not in (44100, 48000):
            raise ValueError(f"sample_rate is {value}; use 48000 (video) or 44100")
        return value

    @field_validator("channels")
    @classmethod
    def _check_channels(cls, value: int) -> int:
        if value not in (1, 2):
            raise ValueError(f"channels is {value}; use 1 (mono) or 2 (stereo)")
        return value

    def mix(
        self,
        placements: list[NarrationPlacement],
        music: Path | None,
        duration_s: float,
        out: Path,
    ) -> MixResult:
        return mix_tracks(
            placements,
            music,
            duration_s,
            out,
            target_lufs=self.target_lufs,
            music_gain_db=self.music_gain_db,
            duck_db=self.duck_db,
            sample_rate=self.sample_rate,
            channels=self.channels,
        )
