"""Models load once per process and are reused by every partition a run covers.

Dagster calls `setup_for_execution` once per run (per process with the in-process
executor); keying loaded models by their identity here also lets several runs in one
process (the CLI, tests) share them. `LOADS` counts real loads per key, for tests and
metadata.
"""

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from longvid_assets.fingerprint import fingerprint

LOADS: Counter = Counter()
_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()


def load_once(kind: str, identity: dict, loader: Callable[[], Any]) -> Any:
    key = f"{kind}:{fingerprint(identity)}"
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = loader()
            LOADS[kind] += 1
        return _MODELS[key]


def release(kind: str | None = None) -> None:
    """Drop cached models (all, or one kind), e.g. to free GPU memory after a run."""
    with _LOCK:
        for key in [k for k in _MODELS if kind is None or k.startswith(f"{kind}:")]:
            del _MODELS[key]
