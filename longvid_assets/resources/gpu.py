"""Where and how models run: device, dtype, offload policy, VAE tiling, attention backend.

Model resources take it as a nested field (`gpu: GpuResource = GpuResource()`), written in
YAML as a mapping under the backend's section:

    video_generator:
      backend: wan_flf2v
      gpu: {device: auto, dtype: bfloat16, offload: model}

Devices. `cuda:N` is the N-th device *visible to the process*, so it honours
`CUDA_VISIBLE_DEVICES` exactly as torch does. `auto` is the process's CUDA device (under
`compute: ray` each GPU worker sees only the GPU Ray gave it), else `cpu`. Which GPU a task
runs on is Ray's choice (`compute.py`), never a lock file.

Lifecycle. The device is resolved on first use, where a model loads — never in Dagster's
`setup_for_execution`, so a step that runs no model never initialises CUDA. At teardown
the allocator's cache is released (with `keep_loaded: false` the model resources also drop
their models). Models load lazily on first use (`model_cache.load_once`), so a run whose
partitions are all cached never loads one.

Fingerprints. `identity()` holds what changes pixels: dtype and VAE tiling (tiles are
blended). Device, offload policy and attention kernel only change where and how fast the
same computation runs, so they are left out: moving a render to another GPU or a smaller
offload budget reuses its artifacts.
"""

import gc
import logging
import os
import re
from typing import Any, ClassVar, Literal

from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr, field_validator

from longvid_assets.errors import BackendError
from longvid_assets.resources import model_cache
from longvid_assets.resources.base import BackendResource

log = logging.getLogger(__name__)

# Ordered from most to least GPU memory.
OFFLOAD_POLICIES = ("none", "model", "group_block", "group_leaf", "sequential")
OFFLOAD_HELP = {
    "none": "everything on the GPU",
    "model": "whole models moved to the GPU in turn",
    "group_block": "transformer blocks streamed to the GPU",
    "group_leaf": "single layers streamed to the GPU",
    "sequential": "single layers moved synchronously (slowest)",
}
DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")


class GpuResource(ConfigurableResource):
    device: str = "auto"  # "auto" (the process's GPU, else cpu), "cpu", "cuda", "cuda:N"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    offload: Literal["none", "model", "group_block", "group_leaf", "sequential"] = "none"
    blocks_per_group: int = Field(1, ge=1, description="group_block: blocks onloaded at once")
    use_streams: bool = Field(True, description="group offload: prefetch on a CUDA stream")
    low_cpu_mem_usage: bool = Field(
        False, description="group offload with streams: pin weights as needed, not all at once"
    )
    vae_tiling: bool = False
    attention_backend: str | None = None  # e.g. "flash", "_native_cudnn"; None = torch SDPA
    keep_loaded: bool = Field(True, description="keep models loaded between runs in a process")

    _claimed: Any = PrivateAttr(default=None)  # torch.device, resolved on first use

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if not DEVICE_PATTERN.match(value):
            raise ValueError(
                f"gpu.device {value!r} is not a device: use auto, cpu, cuda or cuda:N "
                "(N counts the GPUs in CUDA_VISIBLE_DEVICES)"
            )
        return value

    @field_validator("attention_backend")
    @classmethod
    def _backend_name(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^_?[a-z0-9_]+$", value):
            raise ValueError(
                f"gpu.attention_backend {value!r} is not a diffusers attention backend name: "
                "use e.g. flash, _native_cudnn, sage, or leave it unset for torch SDPA"
            )
        return value

    # Dagster lifecycle ------------------------------------------------------------------
    def teardown_after_execution(self, context) -> None:
        self.free_memory()

    # Device and dtype -------------------------------------------------------------------
    def torch_device(self):
        """The device models run on, resolved on first use (this initialises CUDA)."""
        if self._claimed is None:
            self._claimed = self._resolve()
        return self._claimed

    def torch_dtype(self):
        import torch

        if self.dtype == "auto":
            return torch.bfloat16 if self.torch_device().type == "cuda" else torch.float32
        return getattr(torch, self.dtype)

    def identity(self) -> dict:
        return {"dtype": self.dtype, "vae_tiling": self.vae_tiling}

    def placement(self) -> dict:
        """What a loaded model depends on besides its identity: the model cache key part."""
        return {
            "device": str(self.torch_device()),
            "dtype": str(self.torch_dtype()),
            "offload": self.offload,
            "blocks_per_group": self.blocks_per_group,
            "use_streams": self.use_streams,
            "low_cpu_mem_usage": self.low_cpu_mem_usage,
            "vae_tiling": self.vae_tiling,
            "attention_backend": self.attention_backend,
        }

    def _resolve(self):
        import torch

        if self.device == "cpu":
            return torch.device("cpu")
        if not torch.cuda.is_available():
            if self.device == "auto":
                return torch.device("cpu")
            raise BackendError(
                f"gpu.device is {self.device!r} but torch sees no CUDA device — install a CUDA "
                "build of torch, check CUDA_VISIBLE_DEVICES, or set gpu.device: cpu"
            )
        count = torch.cuda.device_count()
        if self.device.startswith("cuda:"):
            index = int(self.device.split(":")[1])
            if index >= count:
                visible = os.environ.get("CUDA_VISIBLE_DEVICES", "all")
                raise BackendError(
                    f"gpu.device {self.device} does not exist: {count} GPU(s) are visible "
                    f"(CUDA_VISIBLE_DEVICES={visible}) — use cuda:0..cuda:{count - 1} or auto"
                )
            return torch.device("cuda", index)
        return torch.device("cuda", torch.cuda.current_device())

    # Placement --------------------------------------------------------------------------
    def place(self, pipe, logger=log) -> None:
        """Move a loaded diffusers pipeline to the device with the offload policy, VAE tiling
        and attention backend. On CPU offload does not apply and is skipped with a note."""
        device = self.torch_device()
        # 1. Offload policy (or plain placement).
        if device.type != "cuda" and self.offload != "none":
            logger.info(f"gpu.offload '{self.offload}' ignored on {device}: nothing to offload to")
            pipe.to(device)
        else:
            apply_offload(
                pipe,
                self.offload,
                device,
                self.blocks_per_group,
                self.use_streams,
                self.low_cpu_mem_usage,
            )
        # 2. VAE tiling: decode large frames tile by tile.
        vae = getattr(pipe, "vae", None)
        if self.vae_tiling and vae is not None and hasattr(vae, "enable_tiling"):
            vae.enable_tiling()
        # 3. Attention kernel, where the model supports choosing one.
        if self.attention_backend:
            for name in ("transformer", "transformer_2", "unet"):
                model = getattr(pipe, name, None)
                if model is not None and hasattr(model, "set_attention_backend"):
                    model.set_attention_backend(self.attention_backend)

    # Memory -----------------------------------------------------------------------------
    def reset_peak(self) -> None:
        device = self.torch_device()
        if device.type == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats(device)

    def peak_gib(self) -> float | None:
        """Peak allocated GPU memory since `reset_peak`, in GiB; None on CPU."""
        device = self.torch_device()
        if device.type != "cuda":
            return None
        import torch

        return round(torch.cuda.max_memory_allocated(device) / 2**30, 2)

    def total_gib(self) -> float | None:
        device = self.torch_device()
        if device.type != "cuda":
            return None
        import torch

        return round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1)

    def free_memory(self) -> None:
        gc.collect()
        if self._claimed is not None and self._claimed.type == "cuda":
            import torch

            torch.cuda.empty_cache()


class GpuModelResource(BackendResource):
    """A backend that runs a model on `gpu`: normalizes the YAML mapping, and at teardown
    drops its `model_kind` from the model cache unless `gpu.keep_loaded`.

    Subclass it first, beside the interface: `class X(GpuModelResource, VideoGenerator)`."""

    model_kind: ClassVar[str] = ""
    runs_on_gpu: ClassVar[bool] = True  # `compute: ray` runs its work on a GPU worker
    gpu: GpuResource = GpuResource()

    def __init__(self, **data: Any):
        data["gpu"] = as_gpu_resource(data.get("gpu"))
        super().__init__(**data)

    def teardown_after_execution(self, context) -> None:
        if not self.gpu.keep_loaded:
            model_cache.release(self.model_kind)
            self.gpu.free_memory()


def as_gpu_resource(value) -> GpuResource:
    """A model resource's `gpu` field from YAML (a mapping), code (a GpuResource) or nothing.

    Built here rather than by Dagster's nested-resource handling, which neither applies a
    default nor reports a bad value in the mapping by name."""
    if value is None:
        return GpuResource()
    if isinstance(value, dict):
        return GpuResource(**value)
    return value


def apply_offload(
    pipe,
    policy: str,
    device,
    blocks_per_group: int = 1,
    streams: bool = True,
    low_cpu_mem_usage: bool = False,
):
    """Apply one of OFFLOAD_POLICIES to a diffusers pipeline (diffusers' own hooks)."""
    import torch

    if policy == "none":
        pipe.to(device)
    elif policy == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif policy == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    elif policy in ("group_block", "group_leaf"):
        on_cuda = torch.device(device).type == "cuda"
        pipe.enable_group_offload(
            onload_device=torch.device(device),
            offload_device=torch.device("cpu"),
            offload_type="block_level" if policy == "group_block" else "leaf_level",
            num_blocks_per_group=blocks_per_group if policy == "group_block" else None,
            use_stream=streams and on_cuda,
            non_blocking=on_cuda,
            low_cpu_mem_usage=low_cpu_mem_usage,
        )
    else:
        choices = ", ".join(OFFLOAD_POLICIES)
        raise ValueError(f"gpu.offload {policy!r} is unknown: use one of {choices}")
