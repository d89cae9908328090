"""Small pieces every asset uses: user errors as clean failures, timing, metadata."""

import time
from contextlib import contextmanager

from dagster import Failure, MetadataValue

from longvid_assets.errors import LongvidError


@contextmanager
def user_errors():
    """Turn a LongvidError into a Dagster Failure whose description is its one line."""
    try:
        yield
    except LongvidError as exc:
        raise Failure(description=str(exc), allow_retries=False) from None


class Timer:
    def __init__(self):
        self.started = time.perf_counter()

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
    }
    for key, value in extra.items():
        if isinstance(value, str) and value.startswith("/"):
            metadata[key] = MetadataValue.path(value)
        else:
            metadata[key] = value
    return metadata
