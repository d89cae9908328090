"""`longvid render PATH [--config NAME]`: render a prompt file through Dagster.
`longvid rerender [--config NAME]`: re-render every registered render that is stale.
`longvid dev [--config NAME] [--instance FILE] [-- ARGS]`: `dagster dev` with longvid's
instance settings (see `longvid_assets/dev.py`).

Every stage is materialized through Dagster's APIs into the instance at DAGSTER_HOME
(default ./.dagster_home), so the runs show in `dagster dev`. Progress goes to stderr; the
final MP4's path is the last line of stdout. User errors exit 2 with one line, no traceback.
"""

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def ensure_dagster_home(config=None) -> Path:
    """DAGSTER_HOME, default ./.dagster_home, seeded as `longvid dev` seeds it: the project's
    dagster.yaml with the gpu pool sized for the config's GPU workers."""
    from longvid_assets.dev import dagster_home, gpu_workers_of, seed_dagster_home

    home = dagster_home()
    os.environ["DAGSTER_HOME"] = str(home)
    workers = gpu_workers_of(config) if config is not None else 1
    seeded = seed_dagster_home(home, workers)
    if seeded.warning:
        print(f"longvid: warning: {seeded.warning}", file=sys.stderr)
    return home


def open_instance(config):
    """The Dagster instance at DAGSTER_HOME, seeded and its storage created under a lock on
    the home: two commands started together on a fresh home would otherwise both create and
    migrate its SQLite databases (one crashed, and alembic was left with two heads)."""
    import fcntl

    from dagster import DagsterInstance

    from longvid_assets.dev import dagster_home

    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".longvid-first-use.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or we die
        ensure_dagster_home(config)
        instance = DagsterInstance.get()
        instance.get_runs(limit=1)  # run storage
        instance.get_dynamic_partitions("renders")  # event log storage
        instance.all_instigator_state()  # schedule storage
    return instance


def render_command(path: Path, config_name: str | None) -> Path:
    from longvid_assets.prompts import load_prompt_file

    load_prompt_file(path)  # fail on a bad file before DAGSTER_HOME is touched

    from longvid_assets.config import load_config
    from longvid_assets.render import render_prompt_file

    config = load_config(config_name)
    with open_instance(config) as instance:
        home = os.environ["DAGSTER_HOME"]
        print(f"longvid: {path} with config '{config.name}' (DAGSTER_HOME={home})", file=sys.stderr)
        outcome = render_prompt_file(
            path,
            config,
            instance,
            progress=lambda line: print(f"  {line}", file=sys.stderr),
            log_level="WARNING",
        )
    plan = outcome.plan
    print(
        f"longvid: {len(plan.segments)} segments, {plan.duration_s:.2f} s at "
        f"{plan.resolution[0]}x{plan.resolution[1]} {plan.fps} fps; "
        f"{outcome.built_steps} built, {outcome.cached_steps} cached",
        file=sys.stderr,
    )
    return Path(outcome.path)


def rerender_command(config_name: str | None) -> list[Path]:
    """What the daily schedule does, by hand and without the daemon: every registered render
    whose plan, segments or final video a prompt, config or code change left stale."""

    from longvid_assets.config import load_config
    from longvid_assets.render import render_prompt_file
    from longvid_assets.staleness import stale_renders

    config = load_config(config_name)
    outputs = []
    with open_instance(config) as instance:
        stale, problems = stale_renders(instance, config.resources, config.sensor.prompts_dir)
        for problem in problems:
            print(f"longvid: skipped: {problem}", file=sys.stderr)
        if not stale:
            print("longvid: every render is up to date", file=sys.stderr)
        for item in stale:
            print(f"longvid: {item.render} is stale ({item.reason})", file=sys.stderr)
            outcome = render_prompt_file(
                item.prompt_file,
                config,
                instance,
                progress=lambda line: print(f"  {line}", file=sys.stderr),
                log_level="WARNING",
            )
            outputs.append(Path(outcome.path))
    return outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="longvid", description="Long prompt in, narrated video out."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="render a prompt file (.yaml or .txt)")
    render.add_argument("path", type=Path)
    render.add_argument("--config", default=None, help="a name in configs/ (default: default)")
    rerender = commands.add_parser(
        "rerender", help="re-render every stale render (after a config or code change)"
    )
    rerender.add_argument("--config", default=None, help="a name in configs/ (default: default)")
    dev = commands.add_parser("dev", help="dagster dev with longvid's instance settings")
    dev.add_argument("--config", default=None, help="a name in configs/ (default: default)")
    dev.add_argument("--instance", type=Path, default=None, help="a Dagster instance .yaml")
    dev.add_argument("dagster_args", nargs=argparse.REMAINDER, help="-- then dagster dev args")
    args = parser.parse_args(argv)
    logging.getLogger("dagster").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="dagster")
    warnings.filterwarnings("ignore", message=".*is currently in (beta|preview)")
    from longvid_assets.errors import LongvidError

    try:
        if args.command == "dev":
            from longvid_assets.dev import dev_command

            extra = args.dagster_args[1:] if args.dagster_args[:1] == ["--"] else args.dagster_args
            return dev_command(
                args.config,
                args.instance,
                extra,
                progress=lambda line: print(f"longvid: {line}", file=sys.stderr),
            )
        if args.command == "rerender":
            outputs = rerender_command(args.config)
        else:
            outputs = [render_command(args.path, args.config)]
    except LongvidError as exc:
        print(f"longvid: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("longvid: interrupted", file=sys.stderr)
        return 130
    for out in outputs:
        print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
