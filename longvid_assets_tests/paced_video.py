"""A stand-in for a GPU video model with a known cost, for the scale benchmark and tests.

`PacedVideoGenerator` behaves like a model backend on a GPU worker: it "loads" once per
process (`model_cache`, `load_s` seconds) and then waits `seconds_per_frame` per frame —
the CPU idles, as it does while a GPU denoises — before drawing the animatic's frames.
So a render's wall time on K workers shows how well longvid keeps K GPUs busy.
"""

import time
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from longvid_assets.embedded.animatic import render_animatic_clip
from longvid_assets.resources import model_cache
from longvid_assets.resources.gpu import GpuModelResource
from longvid_assets.resources.video import ClipRequest, ClipResult, VideoGenerator


class PacedVideoGenerator(GpuModelResource, VideoGenerator):
    backend_name: ClassVar[str] = "paced"
    model_kind = "paced"

    seconds_per_frame: float = Field(0.1, ge=0)
    load_s: float = Field(2.0, ge=0)

    def generate(self, request: ClipRequest, out: Path) -> ClipResult:
        model_cache.load_once(self.model_kind, {"load_s": self.load_s}, self._load)
        time.sleep(self.seconds_per_frame * request.num_frames)
        frames = render_animatic_clip(request, out, zoom=0.05, crf=23)
        return ClipResult(num_frames=frames, metadata={"seconds_per_frame": self.seconds_per_frame})

    def _load(self) -> object:
        time.sleep(self.load_s)
        return object()
