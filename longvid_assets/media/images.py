"""Image helpers shared by every keyframe backend."""

import logging

from PIL import Image, ImageOps

log = logging.getLogger(__name__)


def conform_image(image: Image.Image, width: int, height: int, logger=log) -> Image.Image:
    """Scale and center-crop to exactly width×height (RGB), logging the correction."""
    image = image.convert("RGB")
    if image.size == (width, height):
        return image
    logger.warning(f"keyframe resized/cropped {image.width}x{image.height} -> {width}x{height}")
    return ImageOps.fit(image, (width, height), method=Image.Resampling.LANCZOS)
