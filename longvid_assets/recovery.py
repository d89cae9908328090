"""What a killed `longvid render` leaves behind, cleaned up by the next render and the sensor.

`longvid render` executes its runs in its own process, so no run launcher or run monitor
watches them: a `kill -9` leaves them NOT_STARTED or STARTED forever, and the plan sensor
then thinks their render is busy. Each such run is tagged with the process that executes it
(host, pid and the process's start time, so a reused pid is not mistaken for it):

1. `fail_dead_runs` marks the unfinished runs whose process is gone as failed (a RUN_FAILURE
   event in the run's log, naming the process) and frees any pool slot they held.
2. Temp files and folders in the store name their writer's pid (`store.TEMP_PREFIX`), so
   `store.sweep_temp()` deletes those of dead processes at once, the rest after an hour.
"""

import logging
import os

import psutil
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from longvid_assets.resources.store import this_host

log = logging.getLogger(__name__)

HOST_TAG = "longvid/host"
PID_TAG = "longvid/pid"
STARTED_TAG = "longvid/process_started"  # the process's start time (psutil), 2 decimals
UNFINISHED = [
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def process_tags() -> dict[str, str]:
    """Tags naming this process, for the runs it executes itself."""
    me = psutil.Process(os.getpid())
    return {HOST_TAG: this_host(), PID_TAG: str(me.pid), STARTED_TAG: f"{me.create_time():.2f}"}


def process_alive(pid: int, started: str) -> bool:
    """Whether the process `pid` that started at `started` still runs (not a zombie)."""
    try:
        process = psutil.Process(pid)
        return (
            f"{process.create_time():.2f}" == started
            and process.status() != psutil.STATUS_ZOMBIE
        )
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def fail_dead_runs(instance: DagsterInstance) -> list[str]:
    """Mark failed the unfinished runs that a process on this host executed and that died
    with it; free their pool slots. Returns their run ids."""
    records = instance.get_run_records(
        RunsFilter(statuses=UNFINISHED, tags={HOST_TAG: this_host()})
    )
    failed = []
    for record in records:
        run, tags = record.dagster_run, record.dagster_run.tags
        try:
            pid = int(tags.get(PID_TAG, ""))
        except ValueError:
            continue
        if process_alive(pid, tags.get(STARTED_TAG, "")):
            continue
        instance.report_run_failed(
            run, message=f"longvid: the process that ran it (pid {pid}) ended without finishing"
        )
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
    if failed:
        log.warning(f"marked {len(failed)} run(s) of a killed longvid process as failed")
    return failed
