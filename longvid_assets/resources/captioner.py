"""Captioners: describe what a clip shows. The measured analysis always runs beside them."""

from dataclasses import dataclass
from pathlib import Path

from longvid_assets.media.analysis import ClipAnalysis, describe_measurements
from longvid_assets.resources.base import BackendResource


@dataclass
class CaptionRequest:
    clip: Path
    prompt: str
    fps: int
    analysis: ClipAnalysis


class Captioner(BackendResource):
    """Interface: `caption(request) -> str`."""

    def caption(self, request: CaptionRequest) -> str:
        raise NotImplementedError


class MeasuredCaptioner(Captioner):
    """Embedded: a caption composed from the plan and the measurements, no model."""

    backend_name = "measured"
    tier = "embedded"

    def caption(self, request: CaptionRequest) -> str:
        return describe_measurements(request.prompt, request.analysis)
