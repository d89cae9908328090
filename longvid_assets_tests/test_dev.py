"""`longvid dev`: DAGSTER_HOME is seeded with the pool and run queue sized for the GPU
workers (a user's own dagster.yaml is left alone), and `longvid dev` runs a real `dagster
dev` that serves the UI and stops, with all its processes, on SIGINT."""

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance

from longvid_assets.cli import ensure_dagster_home
from longvid_assets.dev import MARKER, PROJECT_INSTANCE, gpu_workers_of, seed_dagster_home
from longvid_assets_tests.cluster_services import descendants, free_port, pid_alive, wait_until

ROOT = Path(__file__).resolve().parent.parent
UI_WAIT_S = 240  # dagster dev loads the definitions in a code server: slow on 2 busy cores
STOP_WAIT_S = 30


def read_settings(home: Path) -> tuple[int, int]:
    settings = yaml.safe_load((home / "dagster.yaml").read_text(encoding="utf-8"))
    concurrency = settings["concurrency"]
    return concurrency["pools"]["default_limit"], concurrency["runs"]["max_concurrent_runs"]


@pytest.mark.parametrize("workers", [1, 8])
def test_seed_sizes_the_gpu_pool_and_the_run_queue(tmp_path, workers):
    seeded = seed_dagster_home(tmp_path / "home", workers)
    assert seeded.written and seeded.warning is None
    assert read_settings(tmp_path / "home") == (workers, workers + 2)
    text = seeded.instance_yaml.read_text(encoding="utf-8")
    assert text.startswith(f"{MARKER}{PROJECT_INSTANCE}\n")
    # The project's other settings come along, and Dagster reads the same numbers.
    with DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        config = instance.get_concurrency_config()
        assert config.pool_config.default_pool_limit == workers
        assert config.run_queue_config.max_concurrent_runs == workers + 2
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"


def test_reseeding_follows_the_worker_count_and_keeps_other_settings(tmp_path):
    source = tmp_path / "postgres.yaml"
    source.write_text((ROOT / "configs" / "instance" / "postgres.yaml").read_text())
    seed_dagster_home(tmp_path, 2, instance_file=source)
    seeded = seed_dagster_home(tmp_path, 4, instance_file=source)
    assert seeded.written and read_settings(tmp_path) == (4, 6)
    settings = yaml.safe_load(seeded.instance_yaml.read_text(encoding="utf-8"))
    assert settings["storage"]["postgres"]["postgres_db"]["port"] == {"env": "LONGVID_PG_PORT"}
    assert settings["concurrency"]["pools"]["granularity"] == "run"


def test_a_user_written_dagster_yaml_is_left_alone(tmp_path):
    mine = "concurrency:\n  pools:\n    default_limit: 3\n"
    (tmp_path / "dagster.yaml").write_text(mine)
    seeded = seed_dagster_home(tmp_path, 8)
    assert not seeded.written
    assert "not written by longvid" in seeded.warning and "\n" not in seeded.warning
    assert (tmp_path / "dagster.yaml").read_text() == mine


def test_a_plain_copy_from_older_longvid_render_is_reseeded(tmp_path):
    (tmp_path / "dagster.yaml").write_text(PROJECT_INSTANCE.read_text(encoding="utf-8"))
    assert seed_dagster_home(tmp_path, 3).written
    assert read_settings(tmp_path) == (3, 5)


def test_bad_inputs_fail_in_one_line(tmp_path):
    from longvid_assets.errors import ConfigError

    with pytest.raises(ValueError, match="gpu_workers must be an integer >= 1, got 0"):
        seed_dagster_home(tmp_path, 0)
    with pytest.raises(ConfigError, match="instance file not found"):
        seed_dagster_home(tmp_path, 1, instance_file=tmp_path / "missing.yaml")


def test_gpu_workers_come_from_the_compute_resource():
    class Config:
        def __init__(self, resources):
            self.resources = resources

    class Compute:
        def worker_count(self) -> int:
            return 6

    assert gpu_workers_of(Config({"compute": Compute()})) == 6
    assert gpu_workers_of(Config({})) == 1


def test_longvid_render_seeds_the_home_like_longvid_dev(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert ensure_dagster_home() == tmp_path / "home"
    assert read_settings(tmp_path / "home") == (1, 3)


# --- end to end ------------------------------------------------------------------------------


def default_sigint():
    """In the child before exec: pytest's SIGINT handling must not be inherited."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def server_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as reply:
            return reply.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def quiet_config(tmp_path: Path) -> Path:
    """The default config whose sensor watches an empty folder and whose re-render schedule
    stays away: `dagster dev` starts them, and they must find nothing to render."""
    config = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text(encoding="utf-8"))
    (tmp_path / "prompts").mkdir()
    config["sensor"] = {"prompts_dir": str(tmp_path / "prompts"), "interval_s": 30}
    config["schedule"] = {"cron": "0 0 1 1 *"}
    path = tmp_path / "quiet.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def groups_of(pids: set[int]) -> set[int]:
    """The process groups of the live `pids`, noted while they run (not after the fact, when
    a PID may belong to someone else)."""
    groups = set()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            groups.add(os.getpgid(pid))
    return groups


def kill_groups(groups: set[int]) -> None:
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process tree via /proc")
def test_longvid_dev_serves_the_ui_and_stops_on_sigint(tmp_path):
    home, port = tmp_path / "dagster_home", free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    env.pop("LONGVID_CONFIG", None)
    command = [sys.executable, "-m", "longvid_assets.cli", "dev", "--config"]
    command += [str(quiet_config(tmp_path)), "--", "--host", "127.0.0.1", "--port", str(port)]
    log_path = tmp_path / "dev.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=default_sigint,
        )
    seen: set[int] = set()
    groups = {process.pid}  # started in its own session

    def observe() -> None:
        found = set(descendants(process.pid))
        seen.update(found)
        groups.update(groups_of(found))

    try:
        # 1. The UI answers on the port passed through to dagster dev.
        def up() -> bool:
            assert process.poll() is None, log_path.read_text()[-3000:]
            observe()
            return server_answers(port)

        started = time.monotonic()
        assert wait_until(up, UI_WAIT_S, interval_s=1), log_path.read_text()[-3000:]
        print(f"UI up after {time.monotonic() - started:.1f} s")
        # 2. The instance dagster dev runs on has longvid's settings (1 GPU worker).
        with DagsterInstance.from_config(str(home)) as instance:
            concurrency = instance.get_concurrency_config()
            assert concurrency.pool_config.default_pool_limit == 1
            assert concurrency.run_queue_config.max_concurrent_runs == 3
        # 3. SIGINT to `longvid dev` alone stops it and every process under it.
        observe()
        assert seen, "dagster dev started no processes"
        stopping = time.monotonic()
        os.kill(process.pid, signal.SIGINT)
        process.wait(timeout=STOP_WAIT_S)

        def all_gone() -> bool:
            return not [pid for pid in seen if pid_alive(pid)]

        left = STOP_WAIT_S - (time.monotonic() - stopping)
        assert wait_until(all_gone, max(left, 1)), [pid for pid in seen if pid_alive(pid)]
        print(f"stopped in {time.monotonic() - stopping:.1f} s, exit code {process.returncode}")
        assert not server_answers(port)
    finally:
        if process.poll() is None:
            observe()
        kill_groups(groups)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
