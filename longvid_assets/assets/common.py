"""Small pieces every asset uses: user errors as clean failures, timing, metadata."""

import time
from contextlib import contextmanager

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    DataVersion,
    Failure,
    MetadataValue,
    Output,
)

from longvid_assets.errors import LongvidError
from longvid_assets.partitions import NOT_IN_PLAN
from longvid_assets.resources.model_cache import LOADS


@contextmanager
def user_errors():
    """Turn a LongvidError into a Dagster Failure whose description is its one line."""
    try:
        yield
    except LongvidError as exc:
        raise Failure(description=str(exc), allow_retries=False) from None


class Timer:
    """Wall time of a materialization, and how many models it loaded (0: all reused)."""

    def __init__(self):
        self.started = time.perf_counter()
        self.loads_before = sum(LOADS.values())

    @property
    def model_loads(self) -> int:
        return sum(LOADS.values()) - self.loads_before

    @property
    def seconds(self) -> float:
        return round(time.perf_counter() - self.started, 3)


def stage_metadata(resource, fingerprint: str, cached: bool, timer: Timer, **extra) -> dict:
    """Backend, fingerprint, cache hit and wall time, plus the stage's own fields."""
    metadata = {
        "backend": resource.made_by(),
        "tier": resource.tier,
        "fingerprint": fingerprint,
        "cached": cached,
        "wall_time_s": timer.seconds,
        "model_loads": timer.model_loads,  # models loaded by this step; reused ones count 0
    }
    for key, value in extra.items():
        if isinstance(value, str) and value.startswith("/"):
            metadata[key] = MetadataValue.path(value)
        else:
            metadata[key] = value
    return metadata


def in_plan(plan, index: int) -> bool:
    """Whether a segment partition is one of this render's segments.

    Dagster's dynamic `segments` set is shared by every render, so a render of 4 segments
    also has partitions 004, 005, … once a longer render exists."""
    return index < len(plan.segments)


def absent_output(plan, index: int, checks: list[str] = ()):
    """What a per-segment asset yields for a partition its render's plan does not have: a
    materialization saying so (a backfill or "materialize all" succeeds on it, and the UI
    shows no missing work), no artifact, and checks that state there is nothing to check."""
    note = f"render '{plan.render}' has {len(plan.segments)} segments; {index:03d} is not one"
    output = Output(
        None, data_version=DataVersion(NOT_IN_PLAN), metadata={"in_plan": False, "note": note}
    )
    if not checks:
        return output
    results = [
        AssetCheckResult(
            check_name=name,
            passed=True,
            severity=AssetCheckSeverity.WARN,
            metadata={"in_plan": False, "note": f"nothing to check: {note}"},
        )
        for name in checks
    ]
    return [output, *results]


def task_metadata(results) -> dict:
    """Where the GPU work ran and what it loaded, plus each backend's extras (`backend_*`)."""
    if not results:
        return {}
    metadata = {
        "model_loads": sum(r.model_loads for r in results),
        "worker": ", ".join(sorted({r.worker for r in results})),
    }
    nodes = sorted({r.node for r in results if r.node})
    if nodes:
        metadata["ray_node"] = ", ".join(n[:12] for n in nodes)
        metadata["ray_gpu_ids"] = ", ".join(sorted({g for r in results for g in r.gpu_ids}))
    if any(r.shared for r in results):
        metadata["shared_with_another_run"] = True
    for result in results:
        for key, value in result.metadata.items():
            metadata[f"backend_{key}"] = value
    return metadata


def artifact_location(store, ref) -> str:
    """For the UI: the file's local path where the store is local, else its reference."""
    from longvid_assets.resources.store import LocalArtifactStore

    if isinstance(store, LocalArtifactStore):
        return str(store.artifact_path(*ref.parts))
    return str(ref)
