"""The compute interface: run a `GpuTask` somewhere and return its `TaskResult`."""

from dataclasses import dataclass, field
from typing import Any

from longvid_assets.fingerprint import fingerprint
from longvid_assets.resources.base import BackendResource


def needs_gpu(backend: BackendResource) -> bool:
    """Whether a backend runs a model on a GPU (so its work belongs on a GPU worker).

    Embedded backends and remote services (OpenAI, vLLM over HTTP) run where they are.
    """
    return bool(getattr(backend, "runs_on_gpu", False))


@dataclass(frozen=True)
class BackendSpec:
    """A backend as plain data (its class and field values), to rebuild in another process:
    Dagster's live resource objects hold their run's context and do not pickle."""

    module: str
    name: str
    params: dict

    @classmethod
    def of(cls, resource) -> "BackendSpec":
        return cls(type(resource).__module__, type(resource).__name__, _fields(resource))

    def build(self):
        import importlib

        return getattr(importlib.import_module(self.module), self.name)(**self.params)


def _fields(resource) -> dict:
    from dagster import ConfigurableResource

    values = {}
    for name in type(resource).model_fields:
        value = getattr(resource, name)
        values[name] = _fields(value) if isinstance(value, ConfigurableResource) else value
    return values


@dataclass
class GpuTask:
    """One unit of GPU work: make the artifact `key` with `backend` from `params`.

    `key` is the output's fingerprint: two tasks with the same key are the same work, made
    once however many runs ask for it at the same time.
    """

    kind: str  # "keyframe", "clip" or "caption" (see compute/work.py)
    key: str
    backend: Any  # the backend resource; it travels to the worker that runs the task
    params: dict
    store_spec: dict | None = None  # how a worker on another host opens the store
    gpus: float = 1.0
    model_key: str = ""  # which loaded model it needs: workers holding it are preferred

    def __post_init__(self):
        if not self.model_key:
            self.model_key = fingerprint(self.backend.identity())

    def portable(self, store_spec: dict) -> "GpuTask":
        """This task with its backend as a `BackendSpec` and the store as a spec."""
        return GpuTask(
            kind=self.kind,
            key=self.key,
            backend=BackendSpec.of(self.backend),
            params=self.params,
            store_spec=store_spec,
            gpus=self.gpus,
            model_key=self.model_key,
        )

    @property
    def label(self) -> str:
        return f"{self.kind} {self.key[:12]}"


@dataclass
class TaskResult:
    metadata: dict = field(default_factory=dict)  # the backend's extras: model, s/step, VRAM
    logs: list[str] = field(default_factory=list)  # lines logged where the task ran
    model_loads: int = 0  # models loaded for this task (0: reused resident ones)
    worker: str = "in-process"
    node: str | None = None  # Ray node id where it ran
    gpu_ids: list[str] = field(default_factory=list)  # GPUs Ray assigned to that worker
    shared: bool = False  # another run asked for the same work at the same time
    made: bool = True  # False: the artifact was already stored when the task ran


class GpuCompute(BackendResource):
    """Interface: `run(task)` makes the task's artifact in the store and returns its result.

    Where the work runs never changes what it makes, so nothing here is in a fingerprint.
    """

    tier = "embedded"

    def identity(self) -> dict:
        return {}

    def run(self, task: GpuTask, store, log=None, preview=None) -> TaskResult:
        """Make the task's artifact in `store`; `log` gets progress lines, `preview` live
        thumbnails where the work runs in this process."""
        raise NotImplementedError

    def worker_count(self) -> int:
        """How many tasks can run at once: how many segments a render makes in parallel."""
        return 1

    def prepare(self) -> None:
        """Get ready before runs start in several threads (e.g. connect to a cluster)."""
