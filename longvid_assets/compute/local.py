"""`compute: local` — GPU work in the Dagster step's own process (the embedded default).

Models load once per process (`model_cache`). Tasks with the same key (a keyframe two
segment runs share) are made once: a lock per key, held across threads and processes on this
host, and the store is checked again once the lock is held.
"""

import fcntl
import os
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from longvid_assets.compute.base import GpuCompute, GpuTask, TaskResult
from longvid_assets.compute.work import run_task
from longvid_assets.resources.model_cache import LOADS

_THREAD_LOCKS: dict[str, threading.Lock] = {}
_GUARD = threading.Lock()


class LocalCompute(GpuCompute):
    """Runs every task here, one at a time per key."""

    backend_name = "local"

    def run(self, task: GpuTask, store, log=None, preview=None) -> TaskResult:
        log = log or (lambda line: None)
        loads_before = sum(LOADS.values())
        with task_lock(task.key):
            metadata = run_task(task, store, log, preview)
        return TaskResult(
            metadata=metadata or {},
            model_loads=sum(LOADS.values()) - loads_before,
            made=metadata is not None,
        )


@contextmanager
def task_lock(key: str):
    """Exclusive while held, for this key, across this process's threads and other processes."""
    with _GUARD:
        lock = _THREAD_LOCKS.setdefault(key, threading.Lock())
    folder = Path(tempfile.gettempdir()) / f"longvid-task-locks-{os.getuid()}"
    folder.mkdir(parents=True, exist_ok=True)
    with lock, open(folder / f"{key[:32]}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        yield
