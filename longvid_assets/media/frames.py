"""Frames sampled from a clip for vision models, and their encodings for HTTP APIs.

Frames are picked at `rate` per second, at most `max_frames`, spread evenly over the clip
(each at the middle of its share of the clip), decoded one at a time and resized to
`width` with the clip's aspect ratio, so memory holds only the picked frames.
"""

import base64
import io
import math
from dataclasses import dataclass
from pathlib import Path

import av
from PIL import Image

IMAGE_FORMATS = {"jpeg": "image/jpeg", "png": "image/png"}


@dataclass
class SampledFrame:
    index: int  # frame number in the clip
    time_s: float  # its time in the clip (index / fps)
    image: Image.Image


def frame_indices(total_frames: int, fps: float, rate: float, max_frames: int) -> list[int]:
    """Which frames to show a model: `rate` per second, at most `max_frames`, at least one."""
    if total_frames <= 0:
        raise ValueError(f"the clip has {total_frames} frames; render it again before captioning")
    if rate <= 0 or max_frames < 1:
        raise ValueError(
            f"frame rate {rate} / max_frames {max_frames}: use a rate > 0 and max_frames >= 1"
        )
    duration = total_frames / fps
    count = min(max_frames, total_frames, max(1, math.floor(duration * rate + 1e-9)))
    return [min(total_frames - 1, int((k + 0.5) * total_frames / count)) for k in range(count)]


def sample_frames(
    clip: Path, total_frames: int, fps: float, rate: float, max_frames: int, width: int
) -> list[SampledFrame]:
    """Decode `clip` once and keep the frames `frame_indices` picks, resized to `width`."""
    wanted = frame_indices(total_frames, fps, rate, max_frames)
    picked: list[SampledFrame] = []
    targets = set(wanted)
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        src_w, src_h = stream.codec_context.width, stream.codec_context.height
        height = max(2, round(width * src_h / src_w))
        for index, frame in enumerate(container.decode(stream)):
            if index in targets:
                image = frame.to_image()
                if image.size != (width, height):
                    image = image.resize((width, height), Image.Resampling.BICUBIC)
                picked.append(SampledFrame(index, index / fps, image))
            if index >= wanted[-1]:
                break
    if len(picked) != len(wanted):
        raise ValueError(
            f"{Path(clip).name} decoded {len(picked)} of the {len(wanted)} frames asked for "
            f"(the plan says {total_frames} frames); re-render the clip"
        )
    return picked


def image_data_url(image: Image.Image, image_format: str = "jpeg", quality: int = 90) -> str:
    """`data:image/jpeg;base64,...` for an OpenAI-style `image_url` part."""
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image format {image_format!r}: use one of {', '.join(IMAGE_FORMATS)}")
    buffer = io.BytesIO()
    if image_format == "jpeg":
        image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    else:
        image.save(buffer, format="PNG")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"data:{IMAGE_FORMATS[image_format]};base64,{encoded}"


def video_data_url(clip: Path) -> str:
    """The clip's MP4 bytes as `data:video/mp4;base64,...` for a `video_url` part."""
    encoded = base64.b64encode(Path(clip).read_bytes()).decode("ascii")
    return f"data:video/mp4;base64,{encoded}"
