"""Full render of an 8-segment prompt vs the rerun after a one-segment edit.

    python bench/rerun.py [--config default] [--segments 8] [--seconds 6] [--edit sentence]

Renders an explicit-segments prompt at the config's default size (640x360, 24 fps on the
embedded default) into a fresh temporary DAGSTER_HOME, then rewrites one middle segment —
its sentence (picture prompt and narration, the default), only its `picture` prompt, or only
its `narration` — and renders again. Both renders go through
`render_prompt_file`, as `longvid render` does; the model cache is emptied before each, so
the rerun loads its models as a new process would. Prints both wall times and their ratio
(goal: <= 0.20): the rerun should cost one segment run plus the render-level stages.
"""

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SCENES = [
    ("A lighthouse on a cliff above a grey sea at dusk", "The lighthouse watches a grey sea."),
    ("Waves breaking white against black rocks", "Below, the waves break against the rocks."),
    ("An old keeper climbing a spiral stone stair", "The keeper climbs the spiral stair."),
    ("A brass lantern lighting a curved stone wall", "His lantern paints the curved stone wall."),
    ("The great lamp flaring gold at the top", "At the top, he lights the great lamp."),
    ("A golden beam sweeping over dark water", "A golden beam sweeps across the water."),
    ("A small fishing boat lost in the fog", "Out in the fog, a small boat is lost."),
    ("The boat steering into a harbour under stars", "It turns toward the light and reaches home."),
]
EDIT = ("A seabird gliding through the lamp's beam", "A seabird glides through the beam of light.")


def prompt_spec(
    segments: int, seconds: float, edit_index: int | None = None, edit: str = "sentence"
) -> dict:
    items = []
    for i in range(segments):
        picture, words = SCENES[i % len(SCENES)]
        if i == edit_index and edit in ("sentence", "picture"):
            picture = EDIT[0]
        if i == edit_index and edit in ("sentence", "narration"):
            words = EDIT[1]
        item = {"prompt": f"{picture}, shot {i + 1}", "narration": words, "duration": seconds}
        # Boundary keyframes named explicitly: shared by neighbours, untouched by the edit.
        if i == 0:
            item["first_keyframe"] = "A lighthouse on a cliff, seen from the sea at dusk"
        item["last_keyframe"] = f"{SCENES[i % len(SCENES)][0]}, still frame {i + 1}"
        items.append(item)
    return {"title": "The Keeper", "music": "calm", "seed": 7, "segments": items}


def render(path: Path, config, instance) -> tuple[float, object]:
    from longvid_assets.render import render_prompt_file
    from longvid_assets.resources import model_cache

    model_cache.release()
    started = time.perf_counter()
    outcome = render_prompt_file(
        path, config, instance, progress=lambda line: print(f"  {line}"), log_level="ERROR"
    )
    return time.perf_counter() - started, outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="default")
    parser.add_argument("--segments", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each segment")
    parser.add_argument("--edit", choices=["sentence", "picture", "narration"], default="sentence")
    args = parser.parse_args()
    logging.getLogger("dagster").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    home = Path(tempfile.mkdtemp(prefix="longvid-rerun-"))
    os.environ["DAGSTER_HOME"] = str(home)
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    from dagster import DagsterInstance

    from longvid_assets.config import load_config

    config = load_config(args.config)
    path = home / "keeper.yaml"
    edit_index = args.segments // 2 - 1
    try:
        with DagsterInstance.get() as instance:
            # 1. Full render.
            path.write_text(yaml.safe_dump(prompt_spec(args.segments, args.seconds)), "utf-8")
            print(f"full render: {args.segments} segments x {args.seconds:g} s")
            full_s, full = render(path, config, instance)
            # 2. One segment's sentence rewritten, rendered again.
            edited = prompt_spec(args.segments, args.seconds, edit_index, args.edit)
            path.write_text(yaml.safe_dump(edited), "utf-8")
            print(f"rerun after editing segment {edit_index:03d} ({args.edit})")
            rerun_s, rerun = render(path, config, instance)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    plan = full.plan
    print(
        f"config {config.name}: {len(plan.segments)} segments, {plan.duration_s:.1f} s at "
        f"{plan.resolution[0]}x{plan.resolution[1]} {plan.fps} fps"
    )
    print(f"full render:  {full_s:6.1f} s  ({len(full.run_ids)} runs, {full.built_steps} built)")
    print(
        f"rerun:        {rerun_s:6.1f} s  ({len(rerun.run_ids)} runs, {rerun.built_steps} built, "
        f"{rerun.cached_steps} cached)"
    )
    print(f"ratio:        {rerun_s / full_s:.3f}  (goal <= 0.20)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
