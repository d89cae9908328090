"""The production presets in configs/ load, validate and resolve into definitions (no model
is loaded: models load lazily on first use)."""

from pathlib import Path

import pytest

from longvid_assets.config import load_config
from longvid_assets.definitions import build_definitions
from longvid_assets.resources import model_cache

PRESETS = {
    "sd3_wan_8gpu": ("SD3ImageGenerator", "WanFLF2VVideoGenerator"),
    "wan_torchrun_8gpu": ("SD3ImageGenerator", "CommandVideoGenerator"),
    "framepack_6gb": ("SD3ImageGenerator", "FramePackVideoGenerator"),
    "openai_images": ("OpenAIImageGenerator", "AnimaticVideoGenerator"),
}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_loads_validates_and_resolves(name, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-preset-test")
    loads = sum(model_cache.LOADS.values())
    config = load_config(name)
    images, video = PRESETS[name]
    assert type(config.resources["image_generator"]).__name__ == images
    assert type(config.resources["video_generator"]).__name__ == video
    defs = build_definitions(config)
    assert defs.resolve_job_def("segment_job") is not None
    assert sum(model_cache.LOADS.values()) == loads  # nothing loaded at definition time
    # Every GPU preset says how to set the Dagster pool limit for its GPUs.
    text = Path(config.path).read_text(encoding="utf-8")
    if name != "openai_images":
        assert "dagster instance concurrency set gpu" in text


def test_gpu_presets_pick_the_documented_settings():
    wan = load_config("sd3_wan_8gpu").resources["video_generator"]
    assert wan.model == "Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers" and wan.gpu.device == "auto"
    assert wan.gpu.dtype == "bfloat16"
    framepack = load_config("framepack_6gb").resources["video_generator"]
    assert framepack.gpu.offload == "group_block" and framepack.gpu.vae_tiling
    assert framepack.transformer == "lllyasviel/FramePackI2V_HY"
    torchrun = load_config("wan_torchrun_8gpu").resources["video_generator"]
    request_args = torchrun.command.split()
    assert request_args[:2] == ["torchrun", "--nproc_per_node={gpus}"] and torchrun.gpus == 8
