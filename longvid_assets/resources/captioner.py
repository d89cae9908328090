"""Captioners: describe what a clip shows. The measured analysis always runs beside them."""

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from longvid_assets.media.analysis import ClipAnalysis, describe_measurements
from longvid_assets.media.frames import SampledFrame, sample_frames
from longvid_assets.resources.base import BackendResource

DEFAULT_QUESTION = (
    "These are frames from one short video clip, in order. Describe what the clip shows in "
    "one or two plain sentences: the subjects, the setting, the light, what moves and how "
    "the camera moves. Only describe what is visible."
)


@dataclass
class CaptionRequest:
    clip: Path
    prompt: str
    fps: int
    analysis: ClipAnalysis


class Captioner(BackendResource):
    """Interface: `caption(request) -> str`.

    `sidecar` (every captioner): write `<render>.captions.json` and
    `<render>.descriptions.srt` beside the final MP4. It changes no caption, so it is not
    part of the fingerprint.
    """

    sidecar: bool = True

    def identity(self) -> dict:
        identity = super().identity()
        identity.pop("sidecar", None)
        return identity

    def caption(self, request: CaptionRequest) -> str:
        raise NotImplementedError


class MeasuredCaptioner(Captioner):
    """Embedded: a caption composed from the plan and the measurements, no model."""

    backend_name = "measured"
    tier = "embedded"

    def caption(self, request: CaptionRequest) -> str:
        return describe_measurements(request.prompt, request.analysis)


class FrameCaptioner(Captioner):
    """A captioner that shows a vision model frames sampled from the clip.

    `frame_rate` frames per second of clip, at most `max_frames`, each resized to
    `frame_width` pixels wide (height follows the clip's aspect). The model is asked
    `question`; the segment's prompt is never shown to it, so the prompt-adherence check
    compares an independent description with the plan.
    """

    frame_rate: float = Field(1.0, gt=0, le=30, description="frames sampled per second of clip")
    max_frames: int = Field(8, ge=1, le=64)
    frame_width: int = Field(448, ge=32, le=2048)
    question: str = DEFAULT_QUESTION
    max_tokens: int = Field(160, ge=1, le=4096)

    def frames(self, request: CaptionRequest) -> list[SampledFrame]:
        return sample_frames(
            request.clip,
            request.analysis.frames,
            request.fps,
            self.frame_rate,
            self.max_frames,
            self.frame_width,
        )
