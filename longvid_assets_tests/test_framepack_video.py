"""FramePack: a tiny random-weight HunyuanVideoFramepackPipeline saved with save_pretrained,
its transformer and SigLIP encoder loaded from their own paths as a user's hub ids would be,
rendered end to end on CPU with AutoPipeline img2img keyframes."""

from pathlib import Path

import pytest
from dagster import AssetKey

from longvid_assets.artifacts import CLIP_FILE
from longvid_assets.errors import ConfigError
from longvid_assets.media.probe import probe
from longvid_assets.render import render_prompt_file
from longvid_assets.resources.framepack_video import FramePackVideoGenerator, is_framepack_f1
from longvid_assets.resources.video import ClipRequest
from longvid_assets_tests.backend_helpers import (
    TWO_SEGMENTS,
    assert_clip,
    load_with_store,
    write_config,
)


def framepack_section(folder: Path, **extra) -> str:
    lines = [
        "video_generator:",
        "  backend: framepack",
        f"  model: {folder}",
        f"  transformer: {folder / 'transformer'}",
        f"  image_encoder: {folder}",
        "  steps: 2",
        "  latent_window_size: 3",
        "  gpu: {offload: group_block, vae_tiling: false}",
    ]
    lines += [f"  {key}: {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_img2img_keyframes_and_framepack_clips_render_end_to_end(
    tmp_path, longvid_env, tiny_sd, tiny_framepack
):
    _, instance, store_root = longvid_env
    images = (
        f"image_generator:\n  backend: diffusers\n  model: {tiny_sd}\n  steps: 2\n"
        "  mode: img2img\n  strength: 0.7\n"
    )
    path = write_config(
        tmp_path,
        {"image_generator": images, "video_generator": framepack_section(tiny_framepack)},
    )
    config = load_with_store(path, store_root)
    prompt = tmp_path / "tiny fox.yaml"
    prompt.write_text(TWO_SEGMENTS, encoding="utf-8")

    outcome = render_prompt_file(prompt, config, instance)

    plan = outcome.plan
    store = config.resources["store"]
    records = instance.fetch_materializations(AssetKey("segment_clips"), limit=10).records
    assert len(records) == 2
    for record in records:
        metadata = {k: v.value for k, v in record.asset_materialization.metadata.items()}
        frames = plan.frame_count(int(record.partition_key.split("|")[1]))
        # Whole 9-frame sections were generated, then resampled to exactly the plan.
        sections = -(-frames // 9)
        assert metadata["backend_sections"] == sections
        assert metadata["backend_generated_frames"] >= frames
        assert metadata["backend"] == "framepack" and metadata["backend_s_per_step"] > 0
        assert "data:image/png;base64" in metadata["backend_preview"]
        clip = store.artifact_path("clips", metadata["fingerprint"], CLIP_FILE)
        assert_clip(clip, frames, 8, (72, 64))
    # Keyframes 1 and 2 were refined from the keyframe before them (img2img).
    keyframes = instance.fetch_materializations(AssetKey("keyframe_images"), limit=10).records
    modes = {r.asset_materialization.metadata["backend_mode"].value for r in keyframes}
    assert modes == {"img2img"}
    info = probe(Path(outcome.path))
    assert info.frames == 24 and (info.width, info.height) == (72, 64)


def test_framepack_streams_a_preview_per_section(tmp_path, tiny_framepack):
    from PIL import Image

    for name, colour in (("a.png", (220, 30, 30)), ("b.png", (30, 30, 220))):
        Image.new("RGB", (64, 64), colour).save(tmp_path / name)
    previews = []
    request = ClipRequest(
        first_image=tmp_path / "a.png",
        last_image=tmp_path / "b.png",
        prompt="a fox",
        num_frames=20,
        fps=8,
        width=64,
        height=64,
        seed=1,
        preview=lambda thumbnail, label: previews.append(label),
    )
    generator = FramePackVideoGenerator(
        model=str(tiny_framepack),
        transformer=None,
        image_encoder=None,
        steps=2,
        latent_window_size=3,
    )
    result = generator.generate(request, tmp_path / "clip.mp4")
    assert previews == ["framepack section 1/3", "framepack section 2/3", "framepack section 3/3"]
    assert result.num_frames == 20
    assert_clip(tmp_path / "clip.mp4", 20, 8, (64, 64))


@pytest.mark.parametrize(
    "transformer", ["lllyasviel/FramePack_F1_I2V_HY_20250503", "/models/framepack-f1-i2v"]
)
def test_framepack_f1_is_refused_at_config_load(tmp_path, transformer):
    video = f"video_generator:\n  backend: framepack\n  transformer: {transformer}\n"
    with pytest.raises(ConfigError) as caught:
        load_with_store(write_config(tmp_path, {"video_generator": video}), tmp_path)
    message = str(caught.value)
    assert "FramePack F1" in message and "cannot end on a last keyframe" in message
    assert "lllyasviel/FramePackI2V_HY" in message and "\n" not in message
    assert not is_framepack_f1("lllyasviel/FramePackI2V_HY")


def test_a_plain_hunyuan_transformer_folder_is_refused(tmp_path):
    folder = tmp_path / "hunyuan-t2v"
    folder.mkdir()
    (folder / "config.json").write_text('{"_class_name": "HunyuanVideoTransformer3DModel"}')
    video = f"video_generator:\n  backend: framepack\n  transformer: {folder}\n"
    with pytest.raises(ConfigError, match="not a HunyuanVideoFramepackTransformer3DModel"):
        load_with_store(write_config(tmp_path, {"video_generator": video}), tmp_path)
