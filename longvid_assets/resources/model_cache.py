"""Models load once per process and stay resident until their identity changes.

A model is keyed by its kind ("wan_flf2v", "sd3", "piper", …) and the identity of what it
was loaded from. One model per kind stays loaded: loading a new identity of a kind first
drops the old one (and frees the GPU allocator's cache), so a long-lived GPU worker that
serves renders with different checkpoints never holds two copies of a 14B model. `LOADS`
counts real loads per kind, for tests and metadata.

In-process (`compute: local`) every run of the process shares the cache; under
`compute: ray` each GPU worker has its own and keeps it across segments and renders.
"""

import gc
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from longvid_assets.fingerprint import fingerprint

LOADS: Counter = Counter()
_MODELS: dict[str, tuple[str, Any]] = {}  # kind -> (identity fingerprint, model)
_LOCK = threading.RLock()


def load_once(kind: str, identity: dict, loader: Callable[[], Any]) -> Any:
    key = fingerprint(identity)
    with _LOCK:
        held = _MODELS.get(kind)
        if held is not None and held[0] == key:
            return held[1]
        if held is not None:
            release(kind)  # another checkpoint of this kind: make room first
        model = loader()
        _MODELS[kind] = (key, model)
        LOADS[kind] += 1
        return model


def loaded() -> dict[str, str]:
    """kind -> identity fingerprint of what is resident now."""
    with _LOCK:
        return {kind: key for kind, (key, _) in _MODELS.items()}


def release(kind: str | None = None) -> None:
    """Drop cached models (all, or one kind), e.g. to free GPU memory after a run."""
    with _LOCK:
        for name in [k for k in _MODELS if kind is None or k == kind]:
            del _MODELS[name]
    gc.collect()
    _empty_cuda_cache()


def _empty_cuda_cache() -> None:
    import sys

    torch = sys.modules.get("torch")  # only if a model already imported it
    if torch is not None and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
