"""Small base64 PNG thumbnails for Dagster materialization metadata."""

import base64
import io

import numpy as np
from dagster import MetadataValue
from PIL import Image


def thumbnail_md(images: list, width: int = 240, caption: str = "") -> MetadataValue:
    """Images (PIL or HxWx3 arrays) side by side, `width` px each, as a markdown image."""
    tiles = [
        img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img)) for img in images
    ]
    tiles = [
        t.convert("RGB").resize((width, max(1, round(width * t.height / t.width)))) for t in tiles
    ]
    strip = Image.new(
        "RGB", (width * len(tiles) + 4 * (len(tiles) - 1), max(t.height for t in tiles))
    )
    for index, tile in enumerate(tiles):
        strip.paste(tile, (index * (width + 4), 0))
    buffer = io.BytesIO()
    strip.save(buffer, format="PNG", optimize=True)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return MetadataValue.md(f"![{caption}](data:image/png;base64,{encoded})")
