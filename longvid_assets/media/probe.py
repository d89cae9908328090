"""Probe and decode media with PyAV (imageio-ffmpeg ships no ffprobe)."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np


@dataclass
class MediaInfo:
    duration_s: float
    video_codec: str | None = None
    width: int = 0
    height: int = 0
    fps: float = 0.0
    frames: int = 0
    audio_codec: str | None = None
    sample_rate: int = 0
    subtitle_codecs: list[str] = field(default_factory=list)
    chapters: int = 0


def probe(path: Path, count_frames: bool = True) -> MediaInfo:
    """Streams, sizes and (by decoding packets, not frames) the exact video frame count."""
    with av.open(str(path)) as container:
        info = MediaInfo(duration_s=(container.duration or 0) / av.time_base)
        video = next(iter(container.streams.video), None)
        audio = next(iter(container.streams.audio), None)
        if video is not None:
            info.video_codec = video.codec_context.name
            info.width, info.height = video.codec_context.width, video.codec_context.height
            info.fps = float(video.average_rate or video.guessed_rate or 0)
        if audio is not None:
            info.audio_codec = audio.codec_context.name
            info.sample_rate = audio.codec_context.sample_rate
        info.subtitle_codecs = [s.codec_context.name for s in container.streams.subtitles]
        info.chapters = len(container.chapters()) if hasattr(container, "chapters") else 0
        if video is not None and count_frames:
            info.frames = sum(1 for packet in container.demux(video) if packet.size)
    return info


def iter_frames(path: Path, every: int = 1) -> Iterator[np.ndarray]:
    """Decode video frames one at a time as HxWx3 uint8 RGB (every n-th frame)."""
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % every == 0:
                yield frame.to_ndarray(format="rgb24")


def read_frame(path: Path, index: int) -> np.ndarray:
    """One decoded frame by index (-1 for the last), decoding sequentially."""
    last = None
    for i, frame in enumerate(iter_frames(path)):
        if i == index:
            return frame
        last = frame
    if index == -1 and last is not None:
        return last
    raise IndexError(f"{path.name} has no frame {index}")
