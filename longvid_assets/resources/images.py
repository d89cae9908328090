"""Keyframe image generators."""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from longvid_assets.embedded.storyboard import draw_storyboard_frame
from longvid_assets.resources.base import BackendResource


@dataclass
class KeyframeRequest:
    description: str
    style: str
    width: int
    height: int
    seed: int
    boundary: int  # 0..n: boundary k is the last frame of segment k-1 and the first of k
    boundaries: int
    title: str | None = None  # set on the opening frame
    previous: Image.Image | None = None  # the keyframe before this one, for img2img backends
    log: Callable[[str], None] = logging.getLogger("longvid").info  # assets pass context.log.info
    metadata: dict = field(default_factory=dict)  # backend extras it fills: model, s/step, VRAM


class ImageGenerator(BackendResource):
    """Interface: `generate(request) -> PIL.Image` at exactly the requested size."""

    def generate(self, request: KeyframeRequest) -> Image.Image:
        raise NotImplementedError


class StoryboardImageGenerator(ImageGenerator):
    """Embedded: a readable storyboard frame drawn from the description's words."""

    backend_name = "storyboard"
    tier = "embedded"

    def generate(self, request: KeyframeRequest) -> Image.Image:
        return draw_storyboard_frame(request)
