"""GpuResource: YAML mapping → resource, devices (resolved only when a model loads),
offload policies, OOM advice.
The CUDA tests run where a GPU is present and skip with a reason elsewhere."""

import pytest
import torch

from longvid_assets.errors import BackendError
from longvid_assets.resources.diffusers_common import oom_advice, resident_gib
from longvid_assets.resources.gpu import (
    GpuResource,
    apply_offload,
)
from longvid_assets_tests.backend_helpers import load_with_store, write_config

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_yaml_mapping_becomes_a_gpu_resource(tmp_path):
    video = (
        "video_generator:\n  backend: wan_flf2v\n"
        "  gpu: {device: 'cuda:1', dtype: bfloat16, offload: group_block, blocks_per_group: 2,"
        " vae_tiling: true, attention_backend: flash}\n"
    )
    config = load_with_store(write_config(tmp_path, {"video_generator": video}), tmp_path)
    gpu = config.resources["video_generator"].gpu
    assert isinstance(gpu, GpuResource)
    assert (gpu.device, gpu.dtype, gpu.offload, gpu.blocks_per_group) == (
        "cuda:1",
        "bfloat16",
        "group_block",
        2,
    )
    # Only what changes pixels reaches the fingerprint.
    assert config.resources["video_generator"].identity()["gpu"] == {
        "dtype": "bfloat16",
        "vae_tiling": True,
    }


@pytest.mark.parametrize(
    "gpu,expected",
    [
        ("{offload: everything}", "offload"),
        ("{device: 'cuda:x'}", "gpu.device 'cuda:x' is not a device"),
        ("{dtype: float64}", "dtype"),
        ("{attention_backend: 'Flash Attn'}", "not a diffusers attention backend name"),
    ],
)
def test_bad_gpu_settings_fail_at_config_load(tmp_path, gpu, expected):
    from longvid_assets.errors import ConfigError

    video = f"video_generator:\n  backend: framepack\n  gpu: {gpu}\n"
    with pytest.raises(ConfigError) as caught:
        load_with_store(write_config(tmp_path, {"video_generator": video}), tmp_path)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_auto_is_cpu_float32_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    gpu = GpuResource()
    assert gpu.torch_device() == torch.device("cpu") and gpu.torch_dtype() == torch.float32
    assert gpu.peak_gib() is None and gpu.placement()["device"] == "cpu"
    with pytest.raises(BackendError, match="torch sees no CUDA device"):
        GpuResource(device="cuda:0").torch_device()


def test_a_gpu_resource_touches_cuda_only_when_a_model_needs_its_device(monkeypatch):
    """Dagster sets up every resource of a step; fingerprints read only the config, so a
    step that runs no model must never initialise CUDA (no device query, no context)."""
    calls = []
    for name in ("is_available", "device_count", "current_device", "init", "set_device"):
        monkeypatch.setattr(torch.cuda, name, lambda *a, _n=name, **k: calls.append(_n))
    gpu = GpuResource(device="auto", dtype="bfloat16")
    from dagster import build_init_resource_context

    context = build_init_resource_context()
    gpu.setup_for_execution(context)
    assert gpu.identity() == {"dtype": "bfloat16", "vae_tiling": False}
    gpu.teardown_after_execution(context)
    assert calls == []
    gpu.torch_device()  # a model is about to load: now the device is resolved
    assert calls == ["is_available"]


def test_group_offload_attaches_diffusers_hooks(tiny_sd):
    from diffusers import StableDiffusionPipeline
    from diffusers.hooks.group_offloading import _is_group_offload_enabled

    pipe = StableDiffusionPipeline.from_pretrained(tiny_sd)
    apply_offload(pipe, "group_block", torch.device("cpu"), blocks_per_group=1, streams=True)
    assert _is_group_offload_enabled(pipe.unet) and _is_group_offload_enabled(pipe.text_encoder)
    image = pipe("a fox", height=32, width=32, num_inference_steps=1, output_type="np").images[0]
    assert image.shape == (32, 32, 3)


def test_oom_advice_names_the_offload_policies_that_fit(tiny_sd):
    from diffusers import StableDiffusionPipeline

    sizes = resident_gib(StableDiffusionPipeline.from_pretrained(tiny_sd))
    assert sizes["none"] >= sizes["model"] >= sizes["group_block"] >= sizes["group_leaf"] > 0
    # A 14B-style budget: 33 GiB of weights, 7 GiB of activations, a 24 GiB card.
    resident = {
        "none": 33.0,
        "model": 28.0,
        "group_block": 1.5,
        "group_leaf": 0.3,
        "sequential": 0.3,
    }
    advice = oom_advice(resident, "none", 24.0, 7.0)
    assert advice.startswith("set gpu.offload to one that fits: group_block (~8.5 GiB")
    assert "group_leaf" in advice and "sequential" in advice and "model (" not in advice
    assert "no offload policy fits" in oom_advice(resident, "none", 6.0, 7.0)


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("offload", ["none", "model", "group_block", "group_leaf", "sequential"])
def test_offload_policies_run_on_cuda_and_report_vram(tiny_sd3, offload):
    from longvid_assets.resources.diffusers_images import SD3ImageGenerator
    from longvid_assets.resources.images import KeyframeRequest

    generator = SD3ImageGenerator(
        model=str(tiny_sd3), steps=2, gpu={"device": "cuda:0", "offload": offload}
    )
    request = KeyframeRequest("a red fox", "sketch", 64, 64, 1, 0, 2)
    image = generator.generate(request)
    assert image.size == (64, 64)
    assert request.metadata["device"] == "cuda:0" and request.metadata["peak_vram_gib"] >= 0
