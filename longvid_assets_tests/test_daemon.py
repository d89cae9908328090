"""End to end through the real daemon: a prompt file dropped in the watched folder renders itself.

Starts `dagster-daemon run -m longvid_assets.definitions` in a temporary DAGSTER_HOME (the
project's dagster.yaml: queued runs, default run launcher, the `gpu` pool) with a config
whose sensor watches a temporary folder every second, drops a 2-segment prompt there and
waits (bounded) for the final MP4. The daemon's process group — the daemon, its code
server and the runs they launched — is stopped by the daemon's PID in every case.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter

from longvid_assets.media.probe import probe
from longvid_assets_tests.rerun_helpers import tiny_prompt, write_prompt

ROOT = Path(__file__).resolve().parent.parent
WAIT_S = 240


def default_sigint():
    """Run in the child before exec: a SIGINT ignored by the test runner must not be
    inherited, or the daemon could not be interrupted."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def processes_in_group(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM the daemon's process group (its id is the daemon's PID), then SIGKILL."""
    pgid = process.pid
    for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and processes_in_group(pgid):
            process.poll()  # reap the daemon once it exits
            time.sleep(0.2)
        if not processes_in_group(pgid):
            break
    process.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups via /proc")
def test_daemon_renders_a_dropped_prompt_file(tmp_path):
    home, prompts = tmp_path / "dagster_home", tmp_path / "prompts"
    home.mkdir()
    prompts.mkdir()
    # The project's instance settings, dequeuing queued runs every second instead of 5.
    instance_yaml = yaml.safe_load((ROOT / "dagster.yaml").read_text(encoding="utf-8"))
    instance_yaml["run_coordinator"]["config"] = {"dequeue_interval_seconds": 1}
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance_yaml), encoding="utf-8")
    config = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text(encoding="utf-8"))
    config["sensor"] = {"prompts_dir": str(prompts), "interval_s": 1}
    config["schedule"] = {"cron": "0 0 1 1 *"}  # the re-render schedule stays out of the way
    config_path = tmp_path / "e2e.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {**os.environ, "DAGSTER_HOME": str(home), "LONGVID_CONFIG": str(config_path)}
    daemon_bin = Path(sys.executable).with_name("dagster-daemon")
    log = (tmp_path / "daemon.log").open("w")
    process = subprocess.Popen(
        [str(daemon_bin), "run", "-m", "longvid_assets.definitions"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=default_sigint,
    )
    output = home / "longvid" / "renders" / "walk" / "walk.mp4"
    try:
        write_prompt(prompts / "walk.yaml", tiny_prompt(2))
        deadline = time.monotonic() + WAIT_S
        while not output.is_file() and time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
            time.sleep(1)
        tail = (tmp_path / "daemon.log").read_text()[-3000:]
        assert output.is_file(), f"no MP4 in {WAIT_S} s:\n{tail}"
        info = probe(output)
        assert info.video_codec == "h264" and abs(info.duration_s - 4.0) <= 0.2
        with DagsterInstance.from_config(str(home)) as instance:
            runs = instance.get_runs(RunsFilter(tags={"longvid/render": "walk"}))
            by_job = sorted(run.job_name for run in runs)
            # The plan; both segments and, meanwhile, audio_tracks; then final_video.
            assert by_job == [
                "plan_job",
                "render_job",
                "render_job",
                "segment_job",
                "segment_job",
            ], by_job
            assert all(
                run.status == DagsterRunStatus.SUCCESS
                for run in runs
                if run.job_name != "render_job"
            )
            audio = instance.fetch_materializations(AssetKey("audio_tracks"), limit=1).records
            # One run narrated both segments with one voice load.
            assert audio[0].asset_materialization.metadata["model_loads"].value == 1
            # The folder sensor's cursor (file -> content hash) is in the instance's storage,
            # which is what a restarted daemon resumes from.
            states = {s.name: s for s in instance.all_instigator_state()}
            cursor = json.loads(states["prompt_folder_sensor"].instigator_data.cursor)
            assert set(cursor["files"]) == {"walk.yaml"}
    finally:
        stop_group(process)
        log.close()
    assert processes_in_group(process.pid) == []
