"""First→last keyframe video generators."""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from longvid_assets.embedded.animatic import render_animatic_clip
from longvid_assets.resources.base import BackendResource


@dataclass
class ClipRequest:
    first_image: Path
    last_image: Path
    prompt: str
    num_frames: int
    fps: int
    width: int
    height: int
    seed: int
    log: Callable[[str], None] = logging.getLogger("longvid").info  # assets pass context.log.info
    # Backends that decode a long clip in parts (windows, sections) may call this with a
    # thumbnail (MetadataValue.md) of the latest part and a label; assets show it live.
    preview: Callable[[object, str], None] | None = None


@dataclass
class ClipResult:
    num_frames: int
    metadata: dict = field(default_factory=dict)  # backend extras: model, steps, s/step, VRAM


class VideoGenerator(BackendResource):
    """Interface: write an H.264 MP4 of exactly `num_frames` frames to `out`."""

    def generate(self, request: ClipRequest, out: Path) -> ClipResult:
        raise NotImplementedError


class AnimaticVideoGenerator(VideoGenerator):
    """Embedded: camera pan/zoom plus a dissolve between keyframes, streamed to ffmpeg."""

    backend_name = "animatic"
    tier = "embedded"
    zoom: float = 0.08  # how far the camera pushes in over a segment (fraction of the frame)
    crf: int = 20

    def generate(self, request: ClipRequest, out: Path) -> ClipResult:
        frames = render_animatic_clip(request, out, zoom=self.zoom, crf=self.crf)
        return ClipResult(num_frames=frames, metadata={"zoom": self.zoom})
