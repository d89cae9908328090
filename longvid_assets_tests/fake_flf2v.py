"""A stand-in for Wan2.1's generate.py, run by test_command_video.py as a real external
command: it writes a first → last keyframe blend as an MP4 with ffmpeg, printing progress.

    python fake_flf2v.py --first_frame A.png --last_frame B.png --frame_num 17 \
        --size 64*64 --prompt "..." --save_file out.mp4 [--mode ok|sleep|fail|no-output|garbage]
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", default="flf2v-14B")
    parser.add_argument("--first_frame", required=True)
    parser.add_argument("--last_frame", required=True)
    parser.add_argument("--frame_num", type=int, required=True)
    parser.add_argument("--size", required=True)
    parser.add_argument("--prompt", default="")
    parser.add_argument("--save_file", required=True)
    parser.add_argument("--mode", default="ok")
    parser.add_argument("--pid_file")
    args = parser.parse_args()
    if args.pid_file:
        Path(args.pid_file).write_text(str(os.getpid()))
    print(f"[fake] task {args.task}, prompt: {args.prompt}", flush=True)
    if args.mode == "sleep":
        time.sleep(120)
    if args.mode == "fail":
        print("RuntimeError: CUDA out of memory (simulated)", flush=True)
        return 3
    if args.mode == "no-output":
        return 0
    if args.mode == "garbage":
        Path(args.save_file).write_bytes(b"this is not a video")
        return 0
    width, height = (int(side) for side in args.size.split("*"))
    first = np.asarray(Image.open(args.first_frame).convert("RGB").resize((width, height)), float)
    last = np.asarray(Image.open(args.last_frame).convert("RGB").resize((width, height)), float)
    encoder = subprocess.Popen(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-y",
            "-loglevel",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            "-r",
            "16",
            "-i",
            "-",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            args.save_file,
        ],
        stdin=subprocess.PIPE,
    )
    count = args.frame_num
    for index in range(count):
        t = index / max(1, count - 1)
        encoder.stdin.write(((1 - t) * first + t * last).astype(np.uint8).tobytes())
        bar = "#" * (index + 1)
        print(f"{100 * (index + 1) // count:3d}%|{bar}| {index + 1}/{count}", flush=True)
    encoder.stdin.close()
    return encoder.wait()


if __name__ == "__main__":
    sys.exit(main())
