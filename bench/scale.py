"""Segments in parallel on K Ray GPU workers: wall time, speed-up and model loads per render.

    python bench/scale.py [--workers 1 2] [--segments 8] [--seconds 3] [--per-frame 0.25]

Starts a real local Ray cluster of one node declaring K GPUs (no real GPU needed: Ray only
counts them) for each K, and renders the same 8-segment prompt through `longvid render`'s
path (`render_prompt_file`) into a fresh DAGSTER_HOME each time, with `compute: ray` and a
stand-in video model of fixed cost per frame (`longvid_assets_tests/paced_video.py`: it
loads once per worker, then the CPU waits `--per-frame` seconds per frame, as it does while
a GPU denoises). Everything else is the embedded default. Prints, per K: wall time,
speed-up vs K = 1 measured in the same run (goal ≥ 0.8·K), and model loads per render
(goal: K, one per worker, not one per segment).
"""

import argparse
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def prompt_text(segments: int, seconds: float) -> str:
    lines = ["title: Scale", "resolution: [320, 180]", "fps: 8", "music: calm", "segments:"]
    for i in range(segments):
        lines.append(
            f"  - {{prompt: 'A lighthouse in the fog, shot {i + 1}', "
            f"narration: 'The lamp turns, shot {i + 1}.', duration: {seconds}}}"
        )
    return "\n".join(lines) + "\n"


def render_on(workers: int, args) -> dict:
    import ray
    from dagster import DagsterInstance

    from longvid_assets.cli import ensure_dagster_home
    from longvid_assets.compute.ray_compute import RayCompute
    from longvid_assets.config import load_config
    from longvid_assets.render import render_prompt_file
    from longvid_assets.resources.store import LocalArtifactStore
    from longvid_assets_tests.cluster_services import ray_cluster
    from longvid_assets_tests.paced_video import PacedVideoGenerator

    with (
        tempfile.TemporaryDirectory() as home,
        ray_cluster(nodes=[{"num_gpus": workers, "num_cpus": workers + 1}]) as cluster,
    ):
        os.environ["DAGSTER_HOME"] = home
        config = load_config("default")
        config.resources["store"] = LocalArtifactStore(root=str(Path(home) / "store"))
        config.resources["video_generator"] = PacedVideoGenerator(
            seconds_per_frame=args.per_frame, load_s=args.load_s
        )
        compute = RayCompute(address=cluster.address, workers=workers)
        config.resources["compute"] = compute
        ensure_dagster_home(config)  # the gpu pool sized for K workers, as `longvid render`
        prompt = Path(home) / "scale.yaml"
        prompt.write_text(prompt_text(args.segments, args.seconds), encoding="utf-8")
        compute.wait_for_workers(workers, timeout_s=120)  # placed before the clock starts
        with DagsterInstance.get() as instance:
            started = time.perf_counter()
            outcome = render_prompt_file(prompt, config, instance)
            wall = time.perf_counter() - started
        stats = compute.stats()
        ray.shutdown()
    loads = sum(w["loads"].get("paced", 0) for w in stats["workers"])
    tasks = [w["tasks"] for w in stats["workers"]]
    return {"workers": workers, "wall": wall, "loads": loads, "tasks": tasks, "out": outcome}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--segments", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per segment")
    parser.add_argument("--per-frame", type=float, default=0.25, help="model s/frame")
    parser.add_argument("--load-s", type=float, default=3.0, help="model load seconds")
    args = parser.parse_args()
    logging.getLogger("dagster").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    if 1 not in args.workers:
        parser.error("--workers must include 1: the baseline of the speed-up")
    rows = [render_on(k, args) for k in sorted(args.workers)]
    base = rows[0]["wall"]
    frames = args.segments * round(args.seconds * 8)
    print(
        f"{args.segments} segments x {args.seconds:g} s at 8 fps ({frames} frames), "
        f"{args.per_frame:g} s/frame model cost, {args.load_s:g} s model load"
    )
    print("| workers | wall | speed-up vs 1 | goal | model loads / render | tasks per worker |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        k = row["workers"]
        speedup = base / row["wall"]
        print(
            f"| {k} | {row['wall']:.1f} s | {speedup:.2f} | ≥ {0.8 * k:.1f} | "
            f"{row['loads']} | {row['tasks']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
