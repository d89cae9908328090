"""Clips from an external command: for users who run a model's original repository, e.g.
Wan2.1's `generate.py` under torchrun across several GPUs.

    video_generator:
      backend: command
      command: >-
        torchrun --nproc_per_node={gpus} generate.py --task flf2v-14B --size {width}*{height}
        --ckpt_dir ./Wan2.1-FLF2V-14B-720P --first_frame {first} --last_frame {last}
        --frame_num {frames_4k1} --base_seed {seed} --prompt {prompt} --save_file {out}
      cwd: /opt/Wan2.1
      gpus: 8
      timeout_s: 3600

The template is split like a shell would (quotes work) but no shell runs: each argument is
filled in on its own, so a prompt stays one argument whatever it contains. The command's
output is streamed into the Dagster log. Its video is then checked (it exists, decodes, has
frames) and re-encoded to exactly the planned frames and size: resampled evenly when the
model made another count (`frame_count: exact` makes that an error instead).
"""

import os
import queue
import shlex
import signal
import string
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from longvid_assets.errors import BackendError
from longvid_assets.media.probe import iter_frames, probe
from longvid_assets.resources.clip_frames import FrameSink, round_frames_4k1
from longvid_assets.resources.video import ClipRequest, ClipResult, VideoGenerator

PLACEHOLDERS = {
    "first": "first keyframe PNG path",
    "last": "last keyframe PNG path",
    "prompt": "the segment's prompt",
    "out": "where the command must write its video",
    "frames": "planned frame count",
    "frames_4k1": "planned frame count rounded up to 4k+1 (Wan, HunyuanVideo)",
    "fps": "frames per second",
    "width": "clip width",
    "height": "clip height",
    "seed": "segment seed",
    "gpus": "the gpus setting",
}
PROGRESS_LOG_EVERY_S = 5.0  # progress-bar lines (tqdm) are logged at most this often


class CommandVideoGenerator(VideoGenerator):
    """Run a command template per segment; its video becomes the clip."""

    backend_name: ClassVar[str] = "command"
    runs_on_gpu: ClassVar[bool] = True  # `compute: ray` runs it on a worker with `gpus` GPUs
    # Where and how long it runs does not change the video; the command text does.
    not_in_fingerprint: ClassVar[frozenset[str]] = frozenset({"timeout_s", "cwd", "env", "gpus"})

    command: str
    gpus: int = Field(1, ge=1, description="filled in as {gpus}, e.g. torchrun --nproc_per_node")
    cwd: str | None = None
    env: dict[str, str] = {}
    timeout_s: float = Field(3600.0, gt=0)
    output_suffix: str = ".mp4"
    frame_count: Literal["resample", "exact"] = "resample"

    @field_validator("command")
    @classmethod
    def _template(cls, value: str) -> str:
        try:
            args = shlex.split(value)
        except ValueError as exc:
            message = f"command cannot be split into arguments ({exc}): fix its quotes"
            raise ValueError(message) from None
        if not args:
            raise ValueError("command is empty: give the program and its arguments")
        names = set()
        for arg in args:
            names |= placeholders(arg)
        unknown = sorted(names - set(PLACEHOLDERS))
        if unknown:
            raise ValueError(
                f"command has unknown placeholder(s) {', '.join('{' + n + '}' for n in unknown)}: "
                f"use {', '.join('{' + n + '}' for n in PLACEHOLDERS)}"
            )
        if "out" not in names:
            raise ValueError("command must write its video to {out}: add e.g. --save_file {out}")
        return value

    def arguments(self, request: ClipRequest, out: Path) -> list[str]:
        """The command's argument list for one clip, each argument filled in on its own."""
        values = {
            "first": str(request.first_image),
            "last": str(request.last_image),
            "prompt": request.prompt,
            "out": str(out),
            "frames": request.num_frames,
            "frames_4k1": round_frames_4k1(request.num_frames, "command", _Quiet()),
            "fps": request.fps,
            "width": request.width,
            "height": request.height,
            "seed": request.seed,
            "gpus": self.gpus,
        }
        return [arg.format(**values) for arg in shlex.split(self.command)]

    def generate(self, request: ClipRequest, out: Path) -> ClipResult:
        with tempfile.TemporaryDirectory(prefix="longvid-command-") as folder:
            raw = Path(folder) / f"clip{self.output_suffix}"
            # 1. Fill in the template and run it, streaming its output.
            args = self.arguments(request, raw)
            request.log(f"command: {shlex.join(args)}")
            started = time.perf_counter()
            code, tail = run_streaming(args, self.cwd, self.env, self.timeout_s, request.log)
            seconds = round(time.perf_counter() - started, 1)
            if code != 0:
                last = tail[-1] if tail else "no output"
                raise BackendError(
                    f"command exited with code {code} after {seconds} s: {last} — run it by hand "
                    f"(the line is in the log) and fix it, e.g. its cwd or checkpoint path"
                )
            # 2. Check what it wrote.
            generated = check_output_video(raw, request.num_frames, self.frame_count)
            if generated != request.num_frames:
                request.log(
                    f"command wrote {generated} frames; resampled evenly to {request.num_frames}"
                )
            # 3. Re-encode to exactly the planned frames and size, one frame at a time.
            clip = (request.width, request.height, request.fps)
            with FrameSink(out, *clip, generated=generated, wanted=request.num_frames) as sink:
                for frame in iter_frames(raw):
                    sink.push(frame)
        metadata = {"command": args[0], "command_s": seconds, "generated_frames": generated}
        return ClipResult(num_frames=request.num_frames, metadata=metadata)


def placeholders(arg: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(arg) if name is not None}
    except ValueError as exc:
        raise ValueError(
            f"command argument {arg!r}: {exc} (write literal braces doubled: {{{{ }}}})"
        ) from None


def check_output_video(path: Path, wanted: int, policy: str) -> int:
    """The command's video exists, decodes and has a usable frame count; return the count."""
    if not path.is_file() or path.stat().st_size == 0:
        raise BackendError(
            f"command finished but wrote no video at {{out}} ({path.name}) — make sure it saves "
            "to the {out} placeholder's path (e.g. --save_file {out})"
        )
    try:
        frames = probe(path).frames
    except Exception as exc:  # PyAV raises its own error types for every kind of bad file
        message = f"command wrote {path.name} but it does not decode as video: {exc}"
        raise BackendError(message) from None
    if frames == 0:
        raise BackendError(f"command wrote {path.name} but it has no video frames")
    if policy == "exact" and frames != wanted:
        raise BackendError(
            f"command wrote {frames} frames, expected exactly {wanted} — pass {{frames}} to it, "
            "or set frame_count: resample"
        )
    if frames < wanted / 2:
        raise BackendError(
            f"command wrote {frames} frames for a {wanted}-frame clip — pass {{frames}} or "
            "{frames_4k1} to its frame-count option"
        )
    return frames


def run_streaming(args, cwd, env, timeout_s, log) -> tuple[int, list[str]]:
    """Run `args` (no shell) in its own process group, logging its output lines as they come;
    kill the whole group on timeout. Return (exit code, the last lines)."""
    try:
        process = subprocess.Popen(
            args,
            cwd=cwd,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,  # universal newlines: tqdm's \r updates arrive as lines
            errors="replace",
            start_new_session=True,
        )
    except FileNotFoundError:
        missing = f"command cwd '{cwd}'" if cwd and not Path(cwd).is_dir() else f"'{args[0]}'"
        raise BackendError(
            f"{missing} not found — install the program or give its full path, and check "
            "video_generator.cwd"
        ) from None
    except NotADirectoryError:
        message = f"command cwd '{cwd}' is not a folder — fix video_generator.cwd"
        raise BackendError(message) from None
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout_s
    tail: list[str] = []
    last_progress = 0.0
    while True:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            line = None
        if line is not None:  # log from this thread: Dagster's log is not shared with the reader
            tail = (tail + [line])[-20:]
            is_progress = "%|" in line
            if not is_progress or time.monotonic() - last_progress > PROGRESS_LOG_EVERY_S:
                log(f"[{Path(args[0]).name}] {line}")
                last_progress = time.monotonic() if is_progress else last_progress
            continue
        if process.poll() is not None and not reader.is_alive() and lines.empty():
            return process.returncode, tail
        if time.monotonic() > deadline:
            _kill_group(process)
            raise BackendError(
                f"command timed out after {timeout_s:g} s and was stopped — raise "
                "video_generator.timeout_s, or check it is not waiting for input or a GPU"
            )


def _read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        if line.strip():
            lines.put(line.rstrip())
    stream.close()


def _kill_group(process: subprocess.Popen) -> None:
    """SIGTERM the command's process group (torchrun and its workers), then SIGKILL."""
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


class _Quiet:
    def warning(self, message: str) -> None:
        pass
