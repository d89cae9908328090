"""What each stage hands downstream: small records of artifact references, never local paths,
so any host (another Dagster process, a Ray worker) can resolve them through the store."""

from pydantic import BaseModel

from longvid_assets.artifacts import ArtifactRef


class KeyframePair(BaseModel):
    first: ArtifactRef
    last: ArtifactRef
    first_fp: str
    last_fp: str
    backend: str


class ClipRecord(BaseModel):
    clip: ArtifactRef
    fingerprint: str
    frames: int
    fps: int
    backend: str


class CaptionRecord(BaseModel):
    caption_file: ArtifactRef
    fingerprint: str
    caption: str
    backend: str


class NarrationTiming(BaseModel):
    start_s: float  # on the video timeline
    duration_s: float
    text: str


class AudioRecord(BaseModel):
    mix: ArtifactRef
    fingerprint: str
    duration_s: float
    narration: list[NarrationTiming]
    integrated_lufs: float | None = None


class FinalVideo(BaseModel):
    video: ArtifactRef
    subtitles: ArtifactRef
    render: str
    published: str  # where the friendly copy is: a local path, or an s3:// URI
    fingerprint: str
    duration_s: float
