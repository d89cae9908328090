"""`compute: ray` — GPU work on long-lived Ray actors, one per GPU, models kept resident.

    compute:
      backend: ray
      address: null          # null: this machine's Ray (started if none runs); or
                             # "ray://head:10001" / "head:6379" (KubeRay, `ray start` hosts)
      gpus_per_worker: 1     # a segment needing several GPUs (torchrun) asks for more
      workers: null          # null: the cluster's GPUs / gpus_per_worker

Every Dagster run sends its tasks to one detached scheduler actor (see `ray_actors.py`),
which hands them to free workers and makes each artifact once. Workers read and write
artifacts through the store (`store.spec()`), so any node that reaches it can take part.
Backends that run no model here (embedded, OpenAI, vLLM over HTTP) run in the step itself.
"""

import hashlib
import logging
import os
import shutil
import subprocess
import threading
import time
from functools import cache
from importlib.metadata import version

from pydantic import Field

from longvid_assets.compute.base import GpuCompute, GpuTask, TaskResult, needs_gpu
from longvid_assets.compute.local import LocalCompute
from longvid_assets.errors import BackendError, ConfigError

log = logging.getLogger(__name__)
NAMESPACE = "longvid"
HEAD_NODE_RESOURCE = "node:__internal_head__"  # Ray gives the head node 1 of it
INFO_GROUP = "info"  # a worker's concurrency group for stats while a task runs
_CONNECT_LOCK = threading.Lock()


class RayCompute(GpuCompute):
    backend_name = "ray"
    tier = "production"

    address: str | None = Field(None, description="null: this machine's Ray, started if none")
    workers: int | None = Field(None, ge=1, description="null: cluster GPUs / gpus_per_worker")
    gpus_per_worker: float = Field(1.0, ge=0)
    cpus_per_worker: float = Field(1.0, ge=0)
    max_attempts: int = Field(3, ge=1, description="tries of a task whose worker died")
    connect_timeout_s: float = Field(120.0, gt=0)

    def worker_count(self) -> int:
        """Segments a render makes at once: `workers`, else one per GPU of the cluster."""
        if self.workers:
            return self.workers
        if self.address is None and self.gpus_per_worker:
            return max(1, int(local_gpu_count() // self.gpus_per_worker))
        return self._cluster_workers(_import_ray()) if self.connect() else 1

    # Connection -----------------------------------------------------------------------
    def connect(self):
        """Connect this process to the cluster (once) and return the scheduler actor."""
        ray = _import_ray()
        with _CONNECT_LOCK:  # segment runs of `longvid render` share the process
            if not ray.is_initialized():
                address = self.address or _local_cluster_address()
                ray.init(
                    address=address,
                    namespace=NAMESPACE,
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                )
            return self._scheduler(ray)

    def _scheduler(self, ray):
        from longvid_assets.compute.ray_actors import Scheduler

        name = self.pool_name()
        workers = self.workers or self._cluster_workers(ray)
        actor = ray.remote(Scheduler).options(
            name=name,
            namespace=NAMESPACE,
            lifetime="detached",
            get_if_exists=True,
            num_cpus=0,
            # On the head node, which the cluster can't lose anyway (it holds Ray's GCS):
            # losing a GPU node then costs its tasks, never the queue.
            resources={HEAD_NODE_RESOURCE: 0.001},
            max_concurrency=1000,
        )
        return actor.remote(
            workers, self.gpus_per_worker, self.cpus_per_worker, self.max_attempts, name
        )

    def _cluster_workers(self, ray) -> int:
        gpus = ray.cluster_resources().get("GPU", 0)
        if self.gpus_per_worker == 0:
            raise ConfigError("compute.workers must be set when compute.gpus_per_worker is 0")
        count = int(gpus // self.gpus_per_worker)
        if count < 1:
            raise BackendError(
                f"the Ray cluster has {gpus:g} GPU(s), fewer than compute.gpus_per_worker "
                f"({self.gpus_per_worker:g}) — add GPU nodes or lower gpus_per_worker"
            )
        return count

    def pool_name(self) -> str:
        """One scheduler per longvid version and worker shape: a new release or a new
        `gpus_per_worker` starts fresh workers instead of reusing old ones."""
        shape = f"{version('longvid')}|{self.workers}|{self.gpus_per_worker}|{self.cpus_per_worker}"
        return f"longvid-{hashlib.sha256(shape.encode()).hexdigest()[:10]}"

    def prepare(self) -> None:
        self.connect()

    # Work -----------------------------------------------------------------------------
    def run(self, task: GpuTask, store, log=None, preview=None) -> TaskResult:
        if not needs_gpu(task.backend):
            return LocalCompute().run(task, store, log, preview)
        if task.gpus > self.gpus_per_worker:
            raise ConfigError(
                f"{task.backend.backend_name} needs {task.gpus:g} GPUs per segment but "
                f"compute.gpus_per_worker is {self.gpus_per_worker:g} — set it to {task.gpus:g}"
            )
        ray = _import_ray()
        scheduler = self.connect()
        try:
            result = ray.get(scheduler.run.remote(task.portable(store.spec())))
        except ray.exceptions.RayTaskError as exc:
            raise _cause(exc) from None
        for line in result.logs:
            (log or (lambda _line: None))(f"[{result.worker}] {line}")
        return result

    def stats(self) -> dict:
        """Per worker: node, GPUs, tasks run and models loaded (for tests and `doctor`)."""
        ray = _import_ray()
        return ray.get(self.connect().stats.remote())

    def wait_for_workers(self, count: int, timeout_s: float = 60.0) -> int:
        ray = _import_ray()
        return ray.get(self.connect().wait_for_workers.remote(count, timeout_s))


def _cause(exc):
    """The user-facing error inside a Ray task error (ours are one line), else the error."""
    cause = getattr(exc, "cause", None)
    while cause is not None and hasattr(cause, "cause") and type(cause).__name__.startswith("Ray"):
        cause = cause.cause
    return cause if isinstance(cause, Exception) else exc


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("compute.backend 'ray' needs Ray — pip install 'longvid[ray]'") from None
    return ray


def _local_cluster_address() -> str:
    """This machine's running Ray cluster; if none runs, start one on its GPUs (it keeps
    running for later runs and renders: stop it with `ray stop`)."""
    from ray._private.services import find_bootstrap_address  # noqa: PLC0415

    if os.environ.get("RAY_ADDRESS") or find_bootstrap_address(None):
        return "auto"
    if shutil.which("ray") is None:
        raise ConfigError("compute: no Ray cluster runs here and the `ray` command is missing")
    log.warning("compute: no Ray cluster runs on this machine: starting one (`ray stop` ends it)")
    command = ["ray", "start", "--head", "--disable-usage-stats", "--include-dashboard=false"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        raise BackendError(f"compute: `ray start --head` failed: {' '.join(tail)}")
    time.sleep(1.0)
    return "auto"


def local_gpu_count() -> int:
    """GPUs on this machine, without initialising CUDA here (nvidia-smi), else 0."""
    if shutil.which("nvidia-smi") is None:
        return 0
    done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    return sum(line.startswith("GPU ") for line in done.stdout.splitlines())


@cache
def remote_worker_class():
    import ray

    from longvid_assets.compute.ray_actors import GpuWorker

    # `execute` runs one task at a time (the default group); `stats` answers beside it.
    return ray.remote(concurrency_groups={INFO_GROUP: 1})(GpuWorker)
