"""Small pieces every asset uses: user errors as clean failures, timing, metadata."""

import time
from contextlib import contextmanager

from dagster import Failure, MetadataValue

from longvid_assets.errors import LongvidError
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
