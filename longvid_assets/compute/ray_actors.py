"""The Ray side of `compute: ray`: one scheduler actor and one worker actor per GPU.

- `GpuWorker` (`num_gpus` each; Ray sets CUDA_VISIBLE_DEVICES): runs tasks one at a time.
  Models load on first use (`model_cache`) and stay resident across segments and renders;
  a new identity of the same model kind replaces the old one.
- `Scheduler` (detached, no resources): the one place every Dagster run sends tasks. It
  hands each task to a free worker — one that already holds the task's model first — and
  makes each key once: a second request for a key in flight waits for the first. A worker
  that dies (its node killed, OOM-killed) is dropped, its task goes to another worker, and a
  replacement is started that Ray places when a GPU is free.

These classes are plain Python; `ray_compute.py` wraps them with `ray.remote`.
"""

import asyncio
import contextlib
import logging
import os
import socket

from longvid_assets.compute.base import GpuTask, TaskResult

log = logging.getLogger(__name__)


class GpuWorker:
    def __init__(self, name: str):
        self.name = name
        self.tasks = 0
        self.made: dict[str, list[str]] = {}  # kind -> keys of artifacts this worker made

    def ready(self) -> dict:
        import ray

        context = ray.get_runtime_context()
        return {
            "name": self.name,
            "node": context.get_node_id(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        }

    def execute(self, task: GpuTask) -> TaskResult:
        from longvid_assets.compute.work import run_task
        from longvid_assets.resources.model_cache import LOADS
        from longvid_assets.resources.store import store_from_spec

        lines: list[str] = []
        loads_before = sum(LOADS.values())
        store = store_from_spec(task.store_spec)
        task.backend = task.backend.build()
        metadata = run_task(task, store, lines.append)
        self.tasks += 1
        if metadata is not None:
            self.made.setdefault(task.kind, []).append(task.key)
        info = self.ready()
        return TaskResult(
            metadata=metadata or {},
            made=metadata is not None,
            logs=lines,
            model_loads=sum(LOADS.values()) - loads_before,
            worker=self.name,
            node=info["node"],
            gpu_ids=info["gpu_ids"],
        )

    def stats(self) -> dict:
        from longvid_assets.resources.model_cache import LOADS

        return {**self.ready(), "tasks": self.tasks, "loads": dict(LOADS), "made": self.made}


class _Slot:
    """The scheduler's view of one worker."""

    def __init__(self, name: str, handle, info: dict):
        self.name, self.handle, self.info = name, handle, info
        self.busy = False
        self.running = ""  # the task it runs now ("clip 1a2b3c4d5e6f"), for stats
        self.models: list[str] = []  # model keys it has loaded, most recent last


class Scheduler:
    def __init__(self, workers: int, gpus: float, cpus: float, max_attempts: int, prefix: str):
        self.wanted, self.gpus, self.cpus = workers, gpus, cpus
        self.max_attempts, self.prefix = max_attempts, prefix
        self.slots: dict[str, _Slot] = {}
        self.inflight: dict[str, asyncio.Task] = {}
        self.started = 0  # workers ever started (names stay unique across replacements)
        self.failures: list[str] = []
        self._changed: asyncio.Condition | None = None
        self._starting: set[asyncio.Task] = set()

    # Workers ------------------------------------------------------------------------------
    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
            for _ in range(self.wanted):
                self._start_worker()
        return self._changed

    def _start_worker(self) -> None:
        import ray

        from longvid_assets.compute.ray_compute import remote_worker_class

        self.started += 1
        name = f"{self.prefix}-worker-{self.started}"
        handle = (
            remote_worker_class()
            .options(name=name, num_gpus=self.gpus, num_cpus=self.cpus, max_restarts=0)
            .remote(name)
        )

        async def wait_ready():
            try:
                info = await handle.ready.remote()
            except ray.exceptions.RayError as exc:  # never placed: its node went away
                self.failures.append(f"{name}: {type(exc).__name__}")
                return
            async with self._changed:
                self.slots[name] = _Slot(name, handle, info)
                self._changed.notify_all()

        task = asyncio.get_running_loop().create_task(wait_ready())
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def _acquire(self, model_key: str) -> _Slot:
        changed = self._condition()
        async with changed:
            while True:
                idle = [s for s in self.slots.values() if not s.busy]
                if idle:
                    holding = [s for s in idle if model_key in s.models]
                    slot = (holding or sorted(idle, key=lambda s: len(s.models)))[0]
                    slot.busy = True
                    return slot
                await changed.wait()

    async def _release(self, slot: _Slot, model_key: str | None) -> None:
        async with self._changed:
            slot.busy, slot.running = False, ""
            if model_key is not None:
                if model_key in slot.models:
                    slot.models.remove(model_key)
                slot.models.append(model_key)
            self._changed.notify_all()

    async def _retire(self, slot: _Slot, reason: str) -> None:
        import ray

        self.failures.append(f"{slot.name}: {reason}")
        async with self._changed:
            self.slots.pop(slot.name, None)
        with contextlib.suppress(Exception):  # already gone
            ray.kill(slot.handle, no_restart=True)
        self._start_worker()  # placed by Ray when a GPU is free again

    # Tasks --------------------------------------------------------------------------------
    async def run(self, task: GpuTask) -> TaskResult:
        """The task's result; the same key in flight is made once and shared."""
        running = self.inflight.get(task.key)
        if running is not None:
            result = await asyncio.shield(running)
            return TaskResult(**{**result.__dict__, "shared": True, "model_loads": 0})
        running = asyncio.get_running_loop().create_task(self._dispatch(task))
        self.inflight[task.key] = running
        try:
            return await asyncio.shield(running)
        finally:
            if running.done():
                self.inflight.pop(task.key, None)

    async def _dispatch(self, task: GpuTask) -> TaskResult:
        import ray

        last_error = ""
        for _attempt in range(self.max_attempts):
            slot = await self._acquire(task.model_key)
            slot.running = f"{task.kind} {task.key[:12]}"
            try:
                result = await slot.handle.execute.remote(task)
            except ray.exceptions.RayTaskError as exc:  # the task itself failed: not retried
                await self._release(slot, task.model_key)
                raise exc.cause if exc.cause is not None else exc from None
            except ray.exceptions.RayError as exc:  # the worker died: retry elsewhere
                last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                await self._retire(slot, last_error)
                continue
            await self._release(slot, task.model_key)
            return result
        raise RuntimeError(
            f"{task.label}: {self.max_attempts} GPU workers died running it ({last_error})"
        )

    async def stats(self) -> dict:
        from longvid_assets.compute.ray_compute import INFO_GROUP

        self._condition()
        workers = []
        for slot in list(self.slots.values()):
            try:
                stats = await slot.handle.stats.options(concurrency_group=INFO_GROUP).remote()
                workers.append({**stats, "running": slot.running})
            except Exception as exc:  # dying: report, don't fail
                workers.append({"name": slot.name, "error": type(exc).__name__})
        return {"workers": workers, "failures": list(self.failures), "started": self.started}

    async def wait_for_workers(self, count: int, timeout_s: float) -> int:
        """Until `count` workers are placed (or the timeout): how many are."""
        changed = self._condition()
        try:
            async with changed:
                await asyncio.wait_for(
                    changed.wait_for(lambda: len(self.slots) >= count), timeout_s
                )
        except asyncio.TimeoutError:
            pass
        return len(self.slots)
