"""`longvid dev`: `dagster dev` on an instance that always has longvid's settings.

Plain `dagster dev` on a fresh DAGSTER_HOME runs with Dagster's defaults — no run queue
limit and no limit on the `gpu` pool — so every segment of a render would start at once on
one GPU. `longvid dev` first writes DAGSTER_HOME/dagster.yaml from the project's
dagster.yaml (or an instance file such as configs/instance/postgres.yaml) with the pool
limit set to the config's number of GPU workers, then runs `dagster dev` on the project's
workspace and passes Ctrl-C / SIGTERM on to it. `longvid render` seeds the home the same way.
"""

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from longvid_assets.errors import ConfigError, LongvidError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT_INSTANCE = PROJECT_ROOT / "dagster.yaml"
WORKSPACE = PROJECT_ROOT / "workspace.yaml"
MARKER = "# written by longvid dev from "
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

logger = logging.getLogger("longvid")


@dataclass
class SeededHome:
    """What `seed_dagster_home` did: `warning` is set (one line) when it left the file alone."""

    instance_yaml: Path
    written: bool
    warning: str | None = None


def dagster_home() -> Path:
    """DAGSTER_HOME, else ./.dagster_home — the rule `longvid render` has always used."""
    return Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home").resolve()


def gpu_workers_of(config) -> int:
    """How many segments the config renders at once: its `compute` resource's worker count,
    else 1. (A Ray compute without a fixed `workers` asks its cluster, so this may connect.)"""
    compute = getattr(config, "resources", {}).get("compute")
    if compute is not None and hasattr(compute, "worker_count"):
        return int(compute.worker_count())
    return 1


def instance_settings(source_text: str, source: Path, gpu_workers: int) -> dict:
    """The source's settings with the gpu pool and the run queue sized for `gpu_workers`:
    a segment run on every GPU worker, plus the plan and render-level runs."""
    try:
        settings = yaml.safe_load(source_text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}".splitlines()[0]) from None
    if not isinstance(settings, dict):
        raise ConfigError(f"{source}: a Dagster instance file must be a mapping of settings")
    concurrency = settings.get("concurrency") or {}
    pools = concurrency.get("pools") or {}
    # Run granularity: a segment run holds its gpu slot from start to end, waiting in the
    # queue; at op granularity a blocked step busy-polls its slot (Dagster's claim loop
    # sleeps 0 s) and starves the runs beside it.
    concurrency["pools"] = {**pools, "default_limit": gpu_workers, "granularity": "run"}
    runs = concurrency.get("runs") or {}
    concurrency["runs"] = {**runs, "max_concurrent_runs": gpu_workers + 2}
    settings["concurrency"] = concurrency
    return settings


def leading_comments(text: str) -> list[str]:
    """The comment block a file starts with (its explanation), kept as the new file's header."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return lines


def written_by_longvid(existing: str) -> bool:
    """Ours: marked as written here, or a plain copy of the project file (what `longvid
    render` wrote before it marked its files)."""
    if existing.startswith(MARKER):
        return True
    return PROJECT_INSTANCE.is_file() and existing == PROJECT_INSTANCE.read_text(encoding="utf-8")


def seed_dagster_home(
    home: Path, gpu_workers: int, instance_file: Path | None = None
) -> SeededHome:
    """Write `home/dagster.yaml` from the project's dagster.yaml (or `instance_file`) with
    `concurrency.pools.default_limit = gpu_workers` and `runs.max_concurrent_runs =
    gpu_workers + 2`. A dagster.yaml this function did not write is the user's: it is left
    as is and the result carries a warning instead."""
    # 1. Check the inputs.
    if isinstance(gpu_workers, bool) or not isinstance(gpu_workers, int) or gpu_workers < 1:
        raise ValueError(f"gpu_workers must be an integer >= 1, got {gpu_workers!r}")
    source = Path(instance_file) if instance_file is not None else PROJECT_INSTANCE
    if instance_file is not None and not source.is_file():
        raise ConfigError(f"{source}: instance file not found — pass a Dagster instance .yaml")
    home = Path(home)
    target = home / "dagster.yaml"
    # 2. Leave a file the user wrote alone.
    if target.is_file() and not written_by_longvid(target.read_text(encoding="utf-8")):
        return SeededHome(
            target,
            written=False,
            warning=(
                f"{target} was not written by longvid: left as is (pool limit and run queue "
                f"not set to {gpu_workers} / {gpu_workers + 2}); delete it to have it seeded"
            ),
        )
    # 3. The source's settings, resized; its leading comments as the header.
    # A missing project file (an installed wheel) still gets the sizing settings.
    source_text = source.read_text(encoding="utf-8") if source.is_file() else ""
    settings = instance_settings(source_text, source, gpu_workers)
    header = [
        f"{MARKER}{source}",
        f"# gpu workers: {gpu_workers} (pools.default_limit {gpu_workers}, "
        f"runs.max_concurrent_runs {gpu_workers + 2}). Rewritten on every `longvid dev` /",
        "# `longvid render`; remove the first line to keep your own edits.",
        *leading_comments(source_text),
    ]
    text = "\n".join(header) + "\n" + yaml.safe_dump(settings, sort_keys=False)
    # 4. Replace atomically: a running webserver or daemon may be reading it.
    home.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".dagster.yaml.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, target)
    return SeededHome(target, written=True)


def dagster_executable() -> str:
    """The `dagster` beside this Python (the venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("dagster")
    if beside.is_file():
        return str(beside)
    found = shutil.which("dagster")
    if found is None:
        raise LongvidError("the `dagster` command is not installed — pip install dagster")
    return found


def _child_before_exec() -> None:
    """In `dagster dev` before exec: its own process group, so one signal reaches it and its
    webserver, daemon and code servers; and default SIGINT/SIGTERM, because a shell starts
    background jobs with SIGINT ignored and `dagster dev` would inherit that."""
    os.setpgid(0, 0)
    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


class SignalForwarder:
    """A handler that passes SIGINT/SIGTERM/SIGHUP on to the child's process group; one that
    arrives before the child exists is sent as soon as it does (`attach`)."""

    def __init__(self) -> None:
        self.pgid: int | None = None
        self.pending: list[int] = []

    def __call__(self, signum, frame) -> None:
        if self.pgid is None:
            self.pending.append(signum)
        else:
            self.send(signum)

    def send(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signum)

    def attach(self, pgid: int) -> None:
        self.pgid = pgid
        for signum in self.pending:
            self.send(signum)


def run_forwarding_signals(command: list[str], env: dict[str, str]) -> int:
    """Run `command` in its own process group until it exits, forwarding our signals to
    it; its exit code (128 + N when signal N ended it, as a shell reports it)."""
    forwarder = SignalForwarder()
    previous = {signum: signal.signal(signum, forwarder) for signum in FORWARDED_SIGNALS}
    try:
        process = subprocess.Popen(command, env=env, preexec_fn=_child_before_exec)
        forwarder.attach(process.pid)
        returncode = process.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - returncode if returncode < 0 else returncode


def dev_command(
    config_name: str | None,
    instance_file: Path | None,
    extra_args: list[str],
    progress: Callable[[str], None] = logger.info,
) -> int:
    """`dagster dev -w <project workspace.yaml> *extra_args` on a seeded DAGSTER_HOME, with
    LONGVID_CONFIG naming the config for the definitions; returns dagster dev's exit code.
    `progress` gets one line per step (a left-alone dagster.yaml as "warning: ...")."""
    from longvid_assets.config import load_config

    # 1. The config decides the GPU workers; the instance file is sized for them.
    config = load_config(config_name)
    home = dagster_home()
    workers = gpu_workers_of(config)
    seeded = seed_dagster_home(home, workers, instance_file)
    if seeded.warning:
        progress(f"warning: {seeded.warning}")
    progress(f"DAGSTER_HOME={home}, config '{config.name}', {workers} GPU worker(s)")
    # 2. dagster dev on the project's workspace, in the same environment plus ours.
    env = {**os.environ, "DAGSTER_HOME": str(home), "LONGVID_CONFIG": config.path}
    command = [dagster_executable(), "dev", "-w", str(WORKSPACE), *extra_args]
    return run_forwarding_signals(command, env)
