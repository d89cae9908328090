"""A Dagster instance that can execute several in-process runs at once, in threads.

`longvid render` runs one segment per GPU worker at the same time, each as a real run in
this process (`materialize`). A stock `DagsterInstance` assumes one run per process, so the
instance handed to those threads differs from the user's in exactly three things:

1. No compute-log capture: it redirects the whole process's stdout/stderr per run. Each
   run's structured log (everything `context.log` says) is still in the event log.
2. No `logging.config.dictConfig` per run: a stock instance calls it while creating every
   run's log manager (for `python_logs.dagster_handler_config`), and dictConfig closes every
   handler in the process under the logging module lock — a lock-order deadlock with a
   handler of another run that is emitting. Such handler config therefore can't be used
   with parallel runs: `threaded_runs_instance` refuses it with a one-line error.

3. Pools at run granularity: the render's threads are the limit (one segment run per GPU
   worker), so a step never claims a pool slot. At op granularity a step blocked on its
   slot polls without sleeping and holds the GIL, starving the runs beside it.

Storage and every other setting are the user's instance's.
"""

import logging
from collections.abc import Sequence

from dagster import DagsterInstance
from dagster._serdes import ConfigurableClassData

from longvid_assets.errors import ConfigError


class ThreadedRunsInstance(DagsterInstance):
    """The user's instance, minus the per-run dictConfig (see the module docstring)."""

    def get_handlers(self) -> Sequence[logging.Handler]:
        return [self.get_event_log_handler()]


def threaded_runs_instance(instance: DagsterInstance) -> DagsterInstance:
    """`instance` (same storage and settings) for runs in several threads at once."""
    if instance.get_python_log_dagster_handler_config():
        raise ConfigError(
            "dagster.yaml: python_logs.dagster_handler_config can't be used with segments "
            "rendered in parallel — remove it, or set compute.workers: 1"
        )
    ref = instance.get_ref()
    settings = {**(ref.settings or {})}
    concurrency = {**(settings.get("concurrency") or {})}
    concurrency["pools"] = {**(concurrency.get("pools") or {}), "granularity": "run"}
    settings["concurrency"] = concurrency
    ref = ref._replace(
        settings=settings,
        compute_logs_data=ConfigurableClassData(
            "dagster._core.storage.noop_compute_log_manager", "NoOpComputeLogManager", "{}"
        ),
        custom_instance_class_data=ConfigurableClassData(
            __name__, ThreadedRunsInstance.__name__, "{}"
        ),
    )
    return DagsterInstance.from_ref(ref)
