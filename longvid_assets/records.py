"""What each stage hands downstream: small records pointing at stored artifacts."""

from pydantic import BaseModel


class KeyframePair(BaseModel):
    first: str
    last: str
    first_fp: str
    last_fp: str
    backend: str


class ClipRecord(BaseModel):
    path: str
    fingerprint: str
    frames: int
    fps: int
    backend: str


class CaptionRecord(BaseModel):
    path: str
    fingerprint: str
    caption: str
    backend: str


class NarrationTiming(BaseModel):
    start_s: float  # on the video timeline
    duration_s: float
    text: str


class AudioRecord(BaseModel):
    path: str
    fingerprint: str
    duration_s: float
    narration: list[NarrationTiming]
    integrated_lufs: float | None = None


class FinalVideo(BaseModel):
    path: str
    subtitles: str
    fingerprint: str
    duration_s: float
