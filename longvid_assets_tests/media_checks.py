"""Measurements on rendered MP4s shared by the end-to-end tests (real ffmpeg, PyAV)."""

import subprocess
from pathlib import Path

import av
import numpy as np

from longvid_assets.media.ffmpeg import ffmpeg_exe


def decode_errors(path: Path) -> str:
    """What `ffmpeg -v error -i path -f null -` prints: empty for a clean file."""
    done = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=False,
    )
    return (done.stderr + ("" if done.returncode == 0 else f" exit {done.returncode}")).strip()


def audio_samples(path: Path) -> tuple[np.ndarray, int]:
    """The first audio stream as mono float32 samples in [-1, 1]."""
    chunks, rate = [], 48000
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks), rate


def rms_dbfs(samples: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(samples.astype(np.float64) ** 2)) + 1e-12))
