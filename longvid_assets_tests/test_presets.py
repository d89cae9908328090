"""The production presets in configs/ load, validate and resolve into definitions (no model
is loaded: models load lazily on first use)."""

import pytest

from longvid_assets.config import load_config
from longvid_assets.definitions import build_definitions
from longvid_assets.resources import model_cache

PRESETS = {
    "sd3_wan_8gpu": ("SD3ImageGenerator", "WanFLF2VVideoGenerator"),
    "wan_torchrun_8gpu": ("SD3ImageGenerator", "CommandVideoGenerator"),
    "framepack_6gb": ("SD3ImageGenerator", "FramePackVideoGenerator"),
    "openai_images": ("OpenAIImageGenerator", "AnimaticVideoGenerator"),
    "ray_cluster_s3": ("SD3ImageGenerator", "WanFLF2VVideoGenerator"),
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


def test_gpu_presets_run_their_gpu_work_on_ray_workers_of_the_right_shape():
    """One worker per GPU for Wan on an 8-GPU node; one 8-GPU worker for torchrun; a
    cluster preset that joins an existing Ray cluster and keeps artifacts in S3."""
    node = load_config("sd3_wan_8gpu").resources["compute"]
    assert (node.backend_name, node.workers, node.gpus_per_worker) == ("ray", 8, 1)
    assert node.worker_count() == 8
    torchrun = load_config("wan_torchrun_8gpu").resources
    assert torchrun["compute"].gpus_per_worker == torchrun["video_generator"].gpus == 8
    assert torchrun["compute"].worker_count() == 1
    cluster = load_config("ray_cluster_s3").resources
    assert cluster["compute"].address and cluster["store"].backend_name == "s3"
    assert load_config("default").resources["compute"].backend_name == "local"
