"""Wall time and peak RSS of `longvid render` on the example vs a prompt 4x as long.

    python bench/render_memory.py [--config default]

Each render runs as its own process in a fresh temporary DAGSTER_HOME; peak RSS comes from
`os.wait4` (the process and the children it waited for, e.g. ffmpeg). Memory must not grow
with length: the ratio of peak RSS (long / example) should stay near 1 while the ratio of
video length is about 4.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "prompts" / "example.yaml"
PARTS = ["At first light", "Later that morning", "In the afternoon", "That evening"]


def four_times_longer(folder: Path) -> Path:
    spec = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    paragraphs = spec["prompt"].strip().split("\n\n")
    spec["prompt"] = "\n\n".join(
        f"{part}, {p[0].lower()}{p[1:]}" for part in PARTS for p in paragraphs
    )
    spec["title"] = f"{spec['title']} (x4)"
    path = folder / "example_x4.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def measure(prompt: Path, config: str) -> tuple[float, float, Path]:
    """(wall seconds, peak RSS MiB, output path) of one `longvid render` process."""
    with tempfile.TemporaryDirectory(prefix="longvid-bench-") as home:
        env = {**os.environ, "DAGSTER_HOME": home}
        started = time.perf_counter()
        command = [
            sys.executable,
            "-m",
            "longvid_assets.cli",
            "render",
            str(prompt),
            "--config",
            config,
        ]
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        out = process.stdout.read().decode().strip().splitlines()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"render of {prompt} failed")
        from longvid_assets.media.probe import probe

        duration = probe(Path(out[-1]), count_frames=False).duration_s
        return wall, usage.ru_maxrss / 1024, duration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="default")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        long_prompt = four_times_longer(Path(folder))
        base_wall, base_rss, base_len = measure(EXAMPLE, args.config)
        long_wall, long_rss, long_len = measure(long_prompt, args.config)
    print(f"{'prompt':<14}{'video s':>9}{'wall s':>9}{'peak RSS MiB':>14}")
    print(f"{'example':<14}{base_len:>9.1f}{base_wall:>9.1f}{base_rss:>14.0f}")
    print(f"{'example x4':<14}{long_len:>9.1f}{long_wall:>9.1f}{long_rss:>14.0f}")
    print(
        f"length ratio {long_len / base_len:.2f}, wall ratio {long_wall / base_wall:.2f}, "
        f"peak RSS ratio {long_rss / base_rss:.2f} (goal: RSS ratio near 1)"
    )


if __name__ == "__main__":
    main()
