"""OpenAI images (gpt-image-1) against a real local HTTP server speaking the images API
(`b64_json`), through the keyframe_images asset."""

import io

import numpy as np
import pytest
from dagster import AssetKey, materialize
from PIL import Image

from longvid_assets.definitions import ALL_ASSETS
from longvid_assets.partitions import register_render, segment_partition_key
from longvid_assets.resources.openai_images import OpenAIImageGenerator
from longvid_assets_tests.backend_helpers import TWO_SEGMENTS, load_with_store, write_config
from longvid_assets_tests.openai_server import IMAGES_PATH

KEY = "sk-test-images-123"


def gradient_png(width: int, height: int) -> bytes:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    pixels = np.stack([np.tile(x, (height, 1))] * 3, axis=-1)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def run_keyframes(tmp_path, instance, store_root, base_url: str):
    images = (
        "image_generator:\n  backend: openai\n  model: gpt-image-1\n"
        f"  api_key: {{env: LONGVID_TEST_IMAGES_KEY}}\n  base_url: {base_url}\n"
        "  quality: low\n  http_retries: 0\n"
    )
    config = load_with_store(write_config(tmp_path, {"image_generator": images}), store_root)
    prompt = tmp_path / "tiny fox.yaml"
    prompt.write_text(TWO_SEGMENTS.replace("[72, 64]", "[96, 64]"), encoding="utf-8")
    config.resources["store"].remember_source("tiny_fox", prompt)
    register_render(instance, "tiny_fox")
    materialize(
        ALL_ASSETS,
        selection=["segment_plan"],
        partition_key="tiny_fox",
        instance=instance,
        resources=config.resources,
    )
    return config, materialize(
        ALL_ASSETS,
        selection=["keyframe_images"],
        instance=instance,
        resources=config.resources,
        partition_key=segment_partition_key("tiny_fox", "000"),
        raise_on_error=False,
    )


def test_gpt_image_keyframes_from_a_local_images_server(
    tmp_path, longvid_env, openai_server, monkeypatch
):
    _, instance, store_root = longvid_env
    monkeypatch.setenv("LONGVID_TEST_IMAGES_KEY", KEY)
    openai_server.reply_image(gradient_png(1536, 1024))
    openai_server.reply_image(gradient_png(1536, 1024))

    config, result = run_keyframes(tmp_path, instance, store_root, openai_server.base_url)

    assert result.success
    pair = result.output_for_node("keyframe_images")
    store = config.resources["store"]
    for ref in (pair.first, pair.last):  # 1536x1024 center-cropped and scaled to 96x64
        with Image.open(store.artifact_path(*ref.parts)) as image:
            assert image.size == (96, 64)
            row = np.asarray(image)[32, :, 0].astype(int)
            assert row[-1] - row[0] > 100  # the gradient survived the fit
    requests = openai_server.requests_to(IMAGES_PATH)
    assert len(requests) == 2
    body = requests[0].body
    assert body["model"] == "gpt-image-1" and body["size"] == "1536x1024"
    assert body["quality"] == "low" and "response_format" not in body
    assert "snow" in body["prompt"] or "fox" in body["prompt"]
    assert requests[0].bearer == KEY  # the EnvVar was resolved at launch
    metadata = instance.fetch_materializations(AssetKey("keyframe_images"), limit=1).records[0]
    metadata = metadata.asset_materialization.metadata
    assert metadata["backend"].value == "openai"
    assert metadata["backend_requested_size"].value == "1536x1024"
    assert KEY not in str(config.resources["image_generator"].identity())


def test_images_server_refusing_the_key_fails_in_one_line(
    tmp_path, longvid_env, openai_server, monkeypatch
):
    _, instance, store_root = longvid_env
    monkeypatch.setenv("LONGVID_TEST_IMAGES_KEY", KEY)
    openai_server.reply_error(401, f"Incorrect API key provided: {KEY}", path=IMAGES_PATH)

    _, result = run_keyframes(tmp_path, instance, store_root, openai_server.base_url)

    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.user_failure_data
    message = failure.description
    assert "refused the API key (HTTP 401" in message and "image_generator.api_key" in message
    assert KEY not in message and "\n" not in message


@pytest.mark.parametrize(
    "model,width,height,expected",
    [
        ("gpt-image-1", 1280, 720, "1536x1024"),
        ("gpt-image-1", 720, 1280, "1024x1536"),
        ("gpt-image-1", 640, 640, "1024x1024"),
        ("dall-e-3", 1280, 720, "1792x1024"),
    ],
)
def test_requested_size_follows_the_render_aspect(model, width, height, expected):
    generator = OpenAIImageGenerator(model=model, api_key="k")
    assert generator.request_size(width, height) == expected
    assert OpenAIImageGenerator(api_key="k", size="1024x1024").request_size(width, height) == (
        "1024x1024"
    )
