"""Wan2.1 FLF2V: a tiny random-weight WanImageToVideoPipeline saved with save_pretrained,
loaded by path from YAML, rendered end to end with SD3 keyframes on CPU."""

from pathlib import Path

import numpy as np
import pytest
from dagster import AssetKey
from PIL import Image

from longvid_assets.artifacts import CLIP_FILE
from longvid_assets.errors import BackendError, ConfigError
from longvid_assets.media.probe import probe
from longvid_assets.render import render_prompt_file
from longvid_assets.resources import model_cache
from longvid_assets.resources.clip_frames import resample_indices, round_frames_4k1
from longvid_assets.resources.video import ClipRequest
from longvid_assets.resources.wan_video import (
    WanFLF2VVideoGenerator,
    check_flf2v_model,
    guide_targets,
    plan_windows,
)
from longvid_assets_tests.backend_helpers import (
    TWO_SEGMENTS,
    assert_clip,
    load_with_store,
    write_config,
)


def sections(sd3: Path, wan: Path) -> dict[str, str]:
    return {
        "image_generator": (
            f"image_generator:\n  backend: sd3\n  model: {sd3}\n  steps: 2\n"
            "  gpu: {device: cpu, dtype: float32}\n"
        ),
        "video_generator": (
            f"video_generator:\n  backend: wan_flf2v\n  model: {wan}\n  steps: 2\n"
            "  window_frames: 9\n  gpu:\n    device: auto\n    offload: model\n"
        ),
    }


@pytest.mark.slow
def test_sd3_keyframes_and_wan_clips_render_end_to_end(tmp_path, longvid_env, tiny_sd3, tiny_wan):
    _, instance, store_root = longvid_env
    config = load_with_store(write_config(tmp_path, sections(tiny_sd3, tiny_wan)), store_root)
    assert type(config.resources["video_generator"].gpu).__name__ == "GpuResource"
    prompt = tmp_path / "tiny fox.yaml"
    prompt.write_text(TWO_SEGMENTS, encoding="utf-8")
    loads_before = model_cache.LOADS["wan_flf2v"]

    outcome = render_prompt_file(prompt, config, instance)

    # Each clip: exactly the planned frames (16 → 17 generated in 2 chained windows after a
    # guide pass; 8 → 9 in one), at the render's fps and size, with real pixels.
    plan = outcome.plan
    clips = instance.fetch_materializations(AssetKey("segment_clips"), limit=10).records
    assert len(clips) == 2
    for record in clips:
        metadata = {k: v.value for k, v in record.asset_materialization.metadata.items()}
        index = int(record.partition_key.split("|")[1])
        frames = plan.frame_count(index)
        assert metadata["frames"] == frames
        assert metadata["backend"] == "wan_flf2v" and metadata["tier"] == "production"
        assert metadata["backend_generated_frames"] == round_frames_4k1(frames, "test")
        assert metadata["backend_windows"] == (2 if frames > 9 else 1)
        assert metadata["backend_s_per_step"] > 0 and metadata["backend_device"] == "cpu"
        assert "data:image/png;base64" in metadata["backend_preview"]
        clip = config.resources["store"].artifact_path("clips", metadata["fingerprint"], CLIP_FILE)
        assert_clip(clip, frames, 8, (72, 64))
    # Keyframes came from SD3, fitted from 64x64 to 72x64; they are what the clips start on.
    keyframes = instance.fetch_materializations(AssetKey("keyframe_images"), limit=10).records
    for record in keyframes:
        metadata = record.asset_materialization.metadata
        assert metadata["backend"].value == "sd3"
        assert metadata["backend_size"].value == "64x64"
        with Image.open(metadata["first_keyframe"].value) as image:
            assert image.size == (72, 64) and np.asarray(image).std() > 1
    # A preview of each decoded window was observed while the long clip was made.
    observations = instance.fetch_observations(AssetKey("segment_clips"), limit=10).records
    assert len(observations) == 3
    labels = sorted(r.asset_observation.metadata["part"].value for r in observations)
    assert labels == ["wan_flf2v window 1/1", "wan_flf2v window 1/2", "wan_flf2v window 2/2"]
    # The final MP4 assembles: both clips, the planned length, audio.
    info = probe(Path(outcome.path))
    assert info.frames == plan.frame_count(0) + plan.frame_count(1) == 24
    assert (info.width, info.height) == (72, 64) and info.audio_codec == "aac"
    # One load for the whole render (two segment runs in this process).
    assert model_cache.LOADS["wan_flf2v"] - loads_before <= 1


def test_wan_window_plan_covers_every_frame_once():
    assert plan_windows(9, 81) == [9]
    assert plan_windows(81, 81) == [81]
    windows = plan_windows(193, 81)  # 12 s at 16 fps
    assert windows == [65, 65, 65] and sum(w - 1 for w in windows) == 192
    windows = plan_windows(85, 81)
    assert all(w % 4 == 1 and w <= 81 for w in windows) and sum(w - 1 for w in windows) == 84
    guide = np.broadcast_to(np.arange(81, dtype=np.uint8)[:, None, None, None], (81, 2, 2, 3))
    targets = guide_targets(guide, [65, 65, 65])
    assert [np.asarray(t)[0, 0, 0] for t in targets] == [27, 53]


def test_frame_rounding_and_even_resampling_keep_both_ends():
    assert [round_frames_4k1(n, "t") for n in (1, 5, 8, 9, 72, 81)] == [5, 5, 9, 9, 73, 81]
    picks = resample_indices(73, 72)
    assert picks[0] == 0 and picks[-1] == 72 and len(picks) == 72
    assert len(set(picks)) == 72  # one frame dropped, none repeated
    assert resample_indices(13, 20)[-1] == 12  # FramePack can return fewer: repeat evenly


@pytest.mark.parametrize(
    "model,expected",
    [
        ("Wan-AI/Wan2.1-T2V-14B-Diffusers", "text-to-video"),
        ("Wan-AI/Wan2.1-I2V-14B-720P-Diffusers", "first frame only"),
        ("Wan-AI/Wan2.2-TI2V-5B-Diffusers", "first frame only"),
    ],
)
def test_non_flf2v_wan_checkpoints_are_refused_at_config_load(tmp_path, model, expected):
    video = f"video_generator:\n  backend: wan_flf2v\n  model: {model}\n"
    with pytest.raises(ConfigError) as caught:
        load_with_store(write_config(tmp_path, {"video_generator": video}), tmp_path)
    assert expected in str(caught.value) and "FLF2V" in str(caught.value)


def test_local_i2v_folder_is_refused_by_its_transformer_config(tmp_path):
    folder = tmp_path / "my-wan"
    (folder / "transformer").mkdir(parents=True)
    (folder / "transformer" / "config.json").write_text('{"image_dim": 1280}')
    with pytest.raises(ValueError, match="not FLF2V"):
        check_flf2v_model(str(folder))


def test_window_frames_must_be_4k_plus_1(tmp_path):
    video = "video_generator:\n  backend: wan_flf2v\n  window_frames: 80\n"
    with pytest.raises(ConfigError, match="window_frames 80 is not 4k\\+1: use e.g. 81"):
        load_with_store(write_config(tmp_path, {"video_generator": video}), tmp_path)


def test_missing_model_names_it_and_how_to_fetch_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    request = ClipRequest(
        first_image=tmp_path / "a.png",
        last_image=tmp_path / "b.png",
        prompt="p",
        num_frames=9,
        fps=8,
        width=64,
        height=48,
        seed=0,
    )
    for path in (request.first_image, request.last_image):
        Image.new("RGB", (64, 48)).save(path)
    folder = tmp_path / "models" / "wan"
    with pytest.raises(BackendError) as caught:
        WanFLF2VVideoGenerator(model=str(folder)).generate(request, tmp_path / "out.mp4")
    assert f"model folder {folder} does not exist" in str(caught.value)
    assert "huggingface-cli download" in str(caught.value)
    with pytest.raises(BackendError) as caught:
        generator = WanFLF2VVideoGenerator(model="nobody/wan-flf2v-missing")
        generator.generate(request, tmp_path / "o.mp4")
    message = str(caught.value)
    assert "video_generator.model: model 'nobody/wan-flf2v-missing'" in message
    assert "`huggingface-cli download nobody/wan-flf2v-missing`" in message
