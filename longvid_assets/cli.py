"""`longvid render PATH [--config NAME]`: render a prompt file through Dagster.

Every stage is materialized through Dagster's APIs into the instance at DAGSTER_HOME
(default ./.dagster_home), so the runs show in `dagster dev`. Progress goes to stderr; the
final MP4's path is the last line of stdout. User errors exit 2 with one line, no traceback.
"""

import argparse
import logging
import os
import shutil
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def ensure_dagster_home() -> Path:
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path.cwd() / ".dagster_home"))).resolve()
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    project_yaml = PROJECT_ROOT / "dagster.yaml"
    if not (home / "dagster.yaml").exists() and project_yaml.is_file():
        shutil.copyfile(project_yaml, home / "dagster.yaml")
    return home


def failure_message(result) -> str:
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        if data.user_failure_data and data.user_failure_data.description:
            return data.user_failure_data.description
        if data.error:
            cause = data.error.cause or data.error
            return cause.message.strip().splitlines()[-1]
    return "the run failed — see the Dagster UI for its logs"


def render(path: Path, config_name: str | None) -> Path:
    from dagster import DagsterInstance, materialize

    from longvid_assets.config import load_config
    from longvid_assets.definitions import ALL_ASSETS
    from longvid_assets.errors import LongvidError
    from longvid_assets.partitions import register_render, segment_partition_key
    from longvid_assets.prompts import load_prompt_file, render_name

    # 1. Validate before anything is written.
    load_prompt_file(path)
    config = load_config(config_name)
    ensure_dagster_home()
    instance = DagsterInstance.get()
    name = render_name(path)
    config.resources["store"].remember_source(name, path)
    register_render(instance, name)

    def run(selection: list[str], partition_key, label: str):
        started = time.perf_counter()
        result = materialize(
            ALL_ASSETS,
            selection=selection,
            partition_key=partition_key,
            instance=instance,
            resources=config.resources,
            raise_on_error=False,
            tags={"longvid/render": name, "longvid/config": config.name},
        )
        if not result.success:
            raise LongvidError(f"{path}: {label} failed: {failure_message(result)}")
        cached = all(
            m.metadata.get("cached") and m.metadata["cached"].value
            for m in result.get_asset_materialization_events()
            for m in [m.event_specific_data.materialization]
        )
        note = "cached" if cached else f"{time.perf_counter() - started:.1f}s"
        print(f"  {label:<28} done ({note})", file=sys.stderr)
        return result

    print(f"longvid: rendering {path} as '{name}' with config '{config.name}'", file=sys.stderr)
    # 2. Plan; its segment partitions get registered by the asset.
    plan = run(["segment_plan"], name, "[1/3] segment_plan").output_for_node("segment_plan")
    # 3. Per-segment stages, one run per segment.
    count = len(plan.segments)
    for seg in plan.segments:
        key = segment_partition_key(name, seg.key)
        run(["keyframe_images", "segment_clips", "clip_captions"], key, f"[2/3] segment {seg.index + 1}/{count}")
    # 4. Render-level stages.
    result = run(["audio_tracks", "final_video"], name, "[3/3] audio_tracks, final_video")
    return Path(result.output_for_node("final_video").path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="longvid", description="Long prompt in, narrated video out.")
    commands = parser.add_subparsers(dest="command", required=True)
    render_cmd = commands.add_parser("render", help="render a prompt file (.yaml or .txt)")
    render_cmd.add_argument("path", type=Path)
    render_cmd.add_argument("--config", default=None, help="a name in configs/ (default: default)")
    args = parser.parse_args(argv)
    logging.getLogger("dagster").setLevel(logging.WARNING)
    from longvid_assets.errors import LongvidError

    try:
        out = render(args.path, args.config)
    except LongvidError as exc:
        print(f"longvid: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("longvid: interrupted", file=sys.stderr)
        return 130
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
