"""Shared pieces of the diffusers backends: loading with clear errors, step progress, GPU
stats, out-of-memory advice and size snapping. diffusers and torch are imported inside the
functions, never when longvid_assets is imported."""

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

from longvid_assets.errors import BackendError
from longvid_assets.resources.gpu import OFFLOAD_HELP, OFFLOAD_POLICIES, GpuResource

log = logging.getLogger(__name__)


# Loading ------------------------------------------------------------------------------------
def load_pretrained(cls, source: str, field: str, **kwargs):
    """`cls.from_pretrained(source, **kwargs)`; a missing model becomes one line naming the
    config field, the id or path, and how to fetch it."""
    try:
        return cls.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        message = missing_model_message(source, field, exc, kwargs.get("subfolder"))
        raise BackendError(message) from None


def missing_model_message(source: str, field: str, exc: BaseException, subfolder=None) -> str:
    path = Path(source).expanduser()
    where = f"{source}/{subfolder}" if subfolder else source
    if looks_like_path(source) and not path.exists():
        return (
            f"{field}: model folder {source} does not exist — download it there, e.g. "
            f"`huggingface-cli download <hub id> --local-dir {source}`, or set {field} to a "
            "Hugging Face hub id"
        )
    if path.is_dir():
        reason = " ".join(str(exc).split())[:200]
        return (
            f"{field}: {where} is not a loadable diffusers/transformers folder ({reason}) — "
            "point it at a folder written by save_pretrained or downloaded from the hub "
            "(the '-diffusers' repo for models published in several formats)"
        )
    return (
        f"{field}: model '{source}' is not in the local Hugging Face cache and could not be "
        f"downloaded — fetch it first with `huggingface-cli download {source}` (gated models: "
        "accept the license on huggingface.co and run `huggingface-cli login`), or copy it "
        f"and set {field} to its folder"
    )


def looks_like_path(source: str) -> bool:
    return source.startswith(("/", ".", "~")) or source.count("/") > 1 or "\\" in source


def dtype_kwargs(dtype, library: str = "diffusers") -> dict:
    """`dtype=` where the library takes it (diffusers ≥ 0.41, transformers ≥ 4.56), else the
    older `torch_dtype=`."""
    if library == "transformers":
        import transformers
        from packaging.version import Version

        new = Version(transformers.__version__) >= Version("4.56")
    else:
        from diffusers.utils import deprecation_utils

        new = hasattr(deprecation_utils, "_resolve_dtype")
    return {"dtype": dtype} if new else {"torch_dtype": dtype}


def load_pipeline(class_name: str, model: str, gpu: GpuResource, field: str, logger=log, **extra):
    """Load a diffusers pipeline by class name (e.g. "WanImageToVideoPipeline") in the GPU
    resource's dtype and place it on its device with its offload policy."""
    import diffusers

    cls = getattr(diffusers, class_name)
    started = time.perf_counter()
    pipe = load_pretrained(cls, model, field, **dtype_kwargs(gpu.torch_dtype()), **extra)
    pipe.set_progress_bar_config(disable=True)  # progress goes to the Dagster log instead
    gpu.place(pipe, logger)
    logger.info(
        f"loaded {type(pipe).__name__} from {model} in {time.perf_counter() - started:.1f} s "
        f"({gpu.torch_device()}, {gpu.torch_dtype()}, offload {gpu.offload})"
    )
    return pipe


# Running ------------------------------------------------------------------------------------
class RequestLogger:
    """`info`/`warning` over a request's `log` function. Assets pass `context.log.info`; its
    owner's `warning` is used for warnings so they show as warnings in the Dagster UI."""

    def __init__(self, log_fn: Callable[[str], None]):
        self.info = log_fn
        owner = getattr(log_fn, "__self__", None)
        self._warning = getattr(owner, "warning", None)

    def warning(self, message: str) -> None:
        if self._warning is not None:
            self._warning(message)
        else:
            self.info(f"WARNING: {message}")


class StepProgress:
    """`callback_on_step_end` for a pipeline call: logs "label: step i/n (s/step)" after each
    denoising step and, at the end of each denoising pass (a FramePack section, a window),
    calls `on_pass_end(pipe, callback_kwargs)`."""

    def __init__(
        self,
        label: str,
        logger: Callable[[str], None],
        on_pass_end: Callable[[object, dict], None] | None = None,
    ):
        self.label, self.logger, self.on_pass_end = label, logger, on_pass_end
        self.step_seconds: list[float] = []
        self.passes = 0
        self._last = time.perf_counter()

    def restart_clock(self) -> None:
        self._last = time.perf_counter()

    def __call__(self, pipe, step: int, timestep, callback_kwargs: dict) -> dict:
        now = time.perf_counter()
        self.step_seconds.append(now - self._last)
        self._last = now
        total = getattr(pipe, "num_timesteps", None) or "?"
        self.logger(f"{self.label}: step {step + 1}/{total} ({self.step_seconds[-1]:.2f} s/step)")
        if step + 1 == total:
            self.passes += 1
            if self.on_pass_end is not None:
                self.on_pass_end(pipe, callback_kwargs)
            self._last = time.perf_counter()  # the hook's own time is not a step's
        return {}

    @property
    def seconds_per_step(self) -> float | None:
        """Mean step time, leaving out the first (warm-up, compilation, onloading)."""
        times = self.step_seconds[1:] or self.step_seconds
        return round(sum(times) / len(times), 4) if times else None


def run_pipeline(pipe, gpu: GpuResource, what: str, **kwargs):
    """Call the pipeline; CUDA out-of-memory becomes advice naming offload options."""
    import torch

    try:
        return pipe(**kwargs)
    except torch.cuda.OutOfMemoryError as exc:
        gpu.free_memory()
        raise BackendError(oom_message(pipe, gpu, what, exc)) from None


def run_metadata(gpu: GpuResource, progress: StepProgress, steps: int) -> dict:
    """s/step always; peak VRAM when on CUDA."""
    metadata = {"steps": steps, "s_per_step": progress.seconds_per_step}
    metadata["device"] = str(gpu.torch_device())
    peak = gpu.peak_gib()
    if peak is not None:
        metadata["peak_vram_gib"] = peak
    return metadata


def cpu_generator(seed: int):
    """A CPU generator: the same noise for a seed on every device and GPU index."""
    import torch

    return torch.Generator(device="cpu").manual_seed(seed)


# Out-of-memory advice -----------------------------------------------------------------------
def resident_gib(pipe, blocks_per_group: int = 1) -> dict[str, float]:
    """Estimated GiB of weights on the GPU at once under each offload policy."""
    import torch

    components = [c for c in pipe.components.values() if isinstance(c, torch.nn.Module)]
    sizes = [_module_bytes(c) for c in components]
    block = 0
    leaf = 0
    for component in components:
        lists = [m for m in component.modules() if isinstance(m, torch.nn.ModuleList)]
        in_lists = sum(_module_bytes(m) for m in lists if len(m))
        largest = max((_module_bytes(child) for m in lists for child in m), default=0)
        block = max(block, largest * blocks_per_group, _module_bytes(component) - in_lists)
        for module in component.modules():
            if not list(module.children()):
                leaf = max(leaf, _module_bytes(module))
    gib = 2**30
    return {
        "none": sum(sizes) / gib,
        "model": max(sizes, default=0) / gib,
        "group_block": block / gib,
        "group_leaf": leaf / gib,
        "sequential": leaf / gib,
    }


def _module_bytes(module) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters())


def oom_advice(
    resident: dict[str, float], current: str, total_gib: float, activations_gib: float
) -> str:
    """Which offload policies leave room for the activations that did not fit."""
    fits = []
    for policy in OFFLOAD_POLICIES[OFFLOAD_POLICIES.index(current) + 1 :]:
        need = resident[policy] + activations_gib
        if need <= total_gib * 0.95:
            fits.append(f"{policy} (~{need:.1f} GiB: {OFFLOAD_HELP[policy]})")
    if fits:
        return "set gpu.offload to one that fits: " + "; ".join(fits)
    return (
        f"no offload policy fits the ~{activations_gib:.1f} GiB of activations: set "
        "gpu.vae_tiling: true, lower the resolution, or generate fewer frames per window"
    )


def oom_message(pipe, gpu: GpuResource, what: str, exc: BaseException) -> str:
    import torch

    device = gpu.torch_device()
    total = gpu.total_gib() or 0.0
    resident = resident_gib(pipe, gpu.blocks_per_group)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0
    tried = _tried_gib(str(exc))
    activations = max(peak - resident[gpu.offload], 0.0) + tried
    tiling = "" if gpu.vae_tiling else "; gpu.vae_tiling: true also lowers the decode peak"
    return (
        f"CUDA out of memory on {device} ({total:.0f} GiB, gpu.offload '{gpu.offload}') while "
        f"{what} — {oom_advice(resident, gpu.offload, total, activations)}{tiling}"
    )


def _tried_gib(message: str) -> float:
    match = re.search(r"Tried to allocate ([\d.]+) (GiB|MiB)", message)
    if not match:
        return 0.0
    value = float(match.group(1))
    return value if match.group(2) == "GiB" else value / 1024


# Sizes and frames ---------------------------------------------------------------------------
def snap_size(width: int, height: int, multiple: int, what: str, logger=log) -> tuple[int, int]:
    """Round a size down to multiples of `multiple` (at least one), warning with old → new."""
    new_w = max(multiple, width // multiple * multiple)
    new_h = max(multiple, height // multiple * multiple)
    if (new_w, new_h) != (width, height):
        logger.warning(
            f"{what}: size {width}x{height} snapped to {new_w}x{new_h} (multiples of "
            f"{multiple}); the result is fitted back to {width}x{height}"
        )
    return new_w, new_h
