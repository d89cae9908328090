"""ffmpeg through ffmpeg-python, always with the static binary that imageio-ffmpeg ships."""

import functools
import subprocess
from pathlib import Path

import ffmpeg
import imageio_ffmpeg
import numpy as np

from longvid_assets.errors import BackendError


@functools.cache
def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def run(stream, what: str) -> None:
    """Run an ffmpeg-python stream quietly; raise a one-line error with ffmpeg's last line."""
    try:
        ffmpeg.run(stream, cmd=ffmpeg_exe(), quiet=True, overwrite_output=True)
    except ffmpeg.Error as exc:
        raise BackendError(f"ffmpeg failed while {what}: {_last_line(exc.stderr)}") from None


def run_args(args: list[str], what: str) -> None:
    """Run a compiled ffmpeg argument list (no shell); one-line error on failure."""
    done = subprocess.run(args, capture_output=True, check=False)
    if done.returncode != 0:
        raise BackendError(f"ffmpeg failed while {what}: {_last_line(done.stderr)}")


def _last_line(stderr: bytes | None) -> str:
    lines = [line for line in (stderr or b"").decode(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


class VideoWriter:
    """Stream RGB frames into an H.264 MP4 (yuv420p, +faststart) without holding them.

    with VideoWriter(out, 640, 360, 24) as writer:
        writer.write(frame)  # HxWx3 uint8
    """

    def __init__(self, out: Path, width: int, height: int, fps: int, crf: int = 20):
        self.out, self.width, self.height = Path(out), width, height
        self.frames = 0
        stream = (
            ffmpeg.input(
                "pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{width}x{height}", framerate=fps
            )
            .output(
                str(self.out),
                vcodec="libx264",
                pix_fmt="yuv420p",
                crf=crf,
                preset="veryfast",
                movflags="+faststart",
                r=fps,
                format="mp4",
            )
            .global_args("-nostats", "-loglevel", "error")
        )  # stderr stays small: no pipe stall
        self._process = ffmpeg.run_async(
            stream, cmd=ffmpeg_exe(), pipe_stdin=True, pipe_stderr=True, overwrite_output=True
        )

    def write(self, frame: np.ndarray) -> None:
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(
                f"frame is {frame.shape} {frame.dtype}; "
                f"expected ({self.height}, {self.width}, 3) uint8"
            )
        self._process.stdin.write(frame.tobytes())
        self.frames += 1

    def close(self) -> None:
        self._process.stdin.close()
        stderr = self._process.stderr.read()
        if self._process.wait() != 0:
            raise BackendError(
                f"ffmpeg failed while encoding {self.out.name}: {_last_line(stderr)}"
            )

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._process.kill()
            self._process.wait()
