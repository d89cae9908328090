"""Keyframes from diffusers: tiny random-weight SD3 and SD (AutoPipeline text2img, img2img,
inpaint) pipelines saved with save_pretrained, loaded by path from YAML, materialized."""

import numpy as np
import pytest
from dagster import AssetKey, materialize
from PIL import Image

from longvid_assets.artifacts import KEYFRAME_FILE
from longvid_assets.definitions import ALL_ASSETS
from longvid_assets.errors import BackendError, ConfigError
from longvid_assets.fingerprint import keyframe_fp
from longvid_assets.partitions import register_render, segment_partition_key
from longvid_assets.resources.clip_frames import to_uint8
from longvid_assets.resources.diffusers_images import (
    DiffusersImageGenerator,
    SD3ImageGenerator,
    make_mask,
)
from longvid_assets_tests.backend_helpers import TWO_SEGMENTS, load_with_store, write_config


def materialize_keyframes(tmp_path, instance, config, segments_in_order: list[str]):
    """Plan the tiny prompt, then materialize keyframe_images per segment in the given order."""
    prompt = tmp_path / "tiny fox.yaml"
    prompt.write_text(TWO_SEGMENTS, encoding="utf-8")
    config.resources["store"].remember_source("tiny_fox", prompt)
    register_render(instance, "tiny_fox")
    resources = config.resources
    plan_run = materialize(
        ALL_ASSETS,
        selection=["segment_plan"],
        partition_key="tiny_fox",
        instance=instance,
        resources=resources,
    )
    plan = plan_run.output_for_node("segment_plan")
    for segment in segments_in_order:
        run = materialize(
            ALL_ASSETS,
            selection=["keyframe_images"],
            instance=instance,
            resources=resources,
            partition_key=segment_partition_key("tiny_fox", segment),
        )
        assert run.success
    return plan


@pytest.mark.parametrize("mode", ["text2img", "img2img", "inpaint"])
def test_autopipeline_keyframes_materialize(tmp_path, longvid_env, tiny_sd, mode):
    _, instance, store_root = longvid_env
    images = (
        f"image_generator:\n  backend: diffusers\n  model: {tiny_sd}\n  steps: 2\n"
        f"  mode: {mode}\n  mask: border\n  negative_prompt: blurry\n  guidance: 6.0\n"
    )
    config = load_with_store(write_config(tmp_path, {"image_generator": images}), store_root)
    generator = config.resources["image_generator"]
    # Segment 001 first: a refining mode must make boundary 0 and 1 before 2.
    plan = materialize_keyframes(tmp_path, instance, config, ["001", "000"])

    store = config.resources["store"]
    identity = generator.identity()
    pixels = []
    for k in range(3):
        path = store.artifact_path("keyframes", keyframe_fp(plan, k, identity), KEYFRAME_FILE)
        with Image.open(path) as image:
            assert image.size == (72, 64) and image.mode == "RGB"
            pixels.append(np.asarray(image).astype(np.float32))
        assert np.isfinite(pixels[-1]).all() and pixels[-1].std() > 1.0
    assert not np.array_equal(pixels[0], pixels[2])
    records = instance.fetch_materializations(AssetKey("keyframe_images"), limit=10).records
    metadata = records[-1].asset_materialization.metadata  # segment 001, which made all three
    assert metadata["backend"].value == "diffusers" and not metadata["cached"].value
    assert metadata["backend_model"].value == str(tiny_sd)
    assert metadata["backend_s_per_step"].value > 0
    assert metadata["backend_mode"].value == mode
    # Segment 000 then finds both its keyframes stored when they were made as a chain.
    assert records[0].asset_materialization.metadata["cached"].value == (mode != "text2img")
    assert identity.get("refines_previous", False) == (mode != "text2img")


def test_refined_keyframes_chain_their_fingerprints(tmp_path, tiny_sd):
    chained = DiffusersImageGenerator(model=str(tiny_sd), mode="img2img").identity()
    plain = DiffusersImageGenerator(model=str(tiny_sd)).identity()
    assert "strength" not in plain and "mask" not in plain and "strength" in chained

    class Plan:  # the fields keyframe_fp reads
        def __init__(self, first_words):
            self.words = [first_words, "b", "c"]
            self.style, self.resolution, self.seed, self.title = "s", (64, 64), 1, "t"

        def boundary(self, k):
            return self.words[k]

    before, after = Plan("a fox"), Plan("a wolf")
    # Changing boundary 0 changes boundary 2 only when keyframes are refined from each other.
    assert keyframe_fp(before, 2, plain) == keyframe_fp(after, 2, plain)
    assert keyframe_fp(before, 2, chained) != keyframe_fp(after, 2, chained)
    assert keyframe_fp(before, 0, chained) != keyframe_fp(after, 0, chained)


def test_fingerprint_ignores_device_and_offload_but_not_dtype(tiny_sd):
    base = SD3ImageGenerator(gpu={"device": "cpu", "offload": "none"}).identity()
    moved = SD3ImageGenerator(gpu={"device": "cuda:3", "offload": "group_leaf"}).identity()
    assert base == moved
    assert base != SD3ImageGenerator(gpu={"dtype": "float16"}).identity()


def test_inpaint_masks():
    center = np.asarray(make_mask("center", 0.5, (64, 32)))
    assert center[16, 32] == 255 and center[0, 0] == 0
    assert center.mean() == pytest.approx(255 / 4, abs=8)
    border = np.asarray(make_mask("border", 0.5, (64, 32)))
    assert border[16, 32] == 0 and border[0, 0] == 255
    lower = np.asarray(make_mask("lower", 0.25, (64, 32)))
    assert lower[31, 0] == 255 and lower[0, 0] == 0


def test_sd3_backend_refuses_a_folder_with_another_pipeline(tmp_path, tiny_sd):
    images = f"image_generator:\n  backend: sd3\n  model: {tiny_sd}\n"
    expected = "holds a StableDiffusionPipeline, not a StableDiffusion3Pipeline"
    with pytest.raises(ConfigError, match=expected):
        load_with_store(write_config(tmp_path, {"image_generator": images}), tmp_path)


def test_bad_image_settings_fail_at_config_load(tmp_path):
    for section, expected in [
        ("  mode: inpaint\n  mask: /no/such/mask.png\n", "mask '/no/such/mask.png' is neither"),
        ("  size: [1000, 576]\n", "multiples of 16"),
        ("  prompt_template: '{subject} in {style}'\n", "must contain {description}"),
        ("  gpu: {device: gpu0}\n", "gpu.device 'gpu0' is not a device"),
    ]:
        images = f"image_generator:\n  backend: sd3\n{section}"
        with pytest.raises(ConfigError) as caught:
            load_with_store(write_config(tmp_path, {"image_generator": images}), tmp_path)
        assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_nan_pixels_are_an_error_not_black_frames():
    with pytest.raises(BackendError, match="NaN/inf pixels .* bfloat16 or float32"):
        to_uint8(np.full((2, 2, 3), np.nan))
    assert to_uint8(np.ones((2, 2, 3))).max() == 255


def test_sd3_keyframe_direct_call(tiny_sd3):
    from longvid_assets.resources.images import KeyframeRequest

    generator = SD3ImageGenerator(model=str(tiny_sd3), steps=2, mode="inpaint", mask="center")
    first = generator.generate(KeyframeRequest("a red fox", "sketch", 64, 48, 1, 0, 2))
    request = KeyframeRequest("the fox sleeps", "sketch", 64, 48, 2, 1, 2, previous=first)
    second = generator.generate(request)
    assert first.size == second.size == (64, 48)
    assert request.metadata["mode"] == "inpaint" and request.metadata["steps"] == 2
