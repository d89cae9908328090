"""Where and how models run: device, dtype, offload policy, VAE tiling, attention backend.

Model resources take it as a nested field (`gpu: GpuResource = GpuResource()`), written in
YAML as a mapping under the backend's section:

    video_generator:
      backend: wan_flf2v
      gpu: {device: "cuda:0", dtype: bfloat16, offload: model}
"""

from typing import Literal

from dagster import ConfigurableResource

OFFLOAD_POLICIES = ("none", "model", "group_leaf", "group_block", "sequential")


class GpuResource(ConfigurableResource):
    device: str = "auto"  # "auto" (cuda:0 if available, else cpu), "cpu", "cuda", "cuda:N"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    offload: Literal["none", "model", "group_leaf", "group_block", "sequential"] = "none"
    vae_tiling: bool = False
    attention_backend: str | None = None  # e.g. "flash", "_native_cudnn"; None = default

    def torch_device(self):
        import torch

        if self.device == "auto":
            return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def torch_dtype(self):
        import torch

        if self.dtype == "auto":
            return torch.bfloat16 if self.torch_device().type == "cuda" else torch.float32
        return getattr(torch, self.dtype)
