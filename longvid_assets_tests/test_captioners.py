"""Captioners: the OpenAI-compatible vision endpoint (against a real local HTTP server),
local transformers (a tiny random-weight Llava), MiniCPM-V's chat call, prompt adherence."""

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from longvid_assets.errors import BackendError
from longvid_assets.media.analysis import ClipAnalysis
from longvid_assets.media.ffmpeg import VideoWriter
from longvid_assets.media.frames import frame_indices, sample_frames
from longvid_assets.resources import model_cache
from longvid_assets.resources.adherence import MiniLMAdherence, NoAdherence
from longvid_assets.resources.captioner import CaptionRequest
from longvid_assets.resources.gpu import GpuResource
from longvid_assets.resources.transformers_captioner import (
    TransformersCaptioner,
    minicpm_chat_kwargs,
)
from longvid_assets.resources.vision_chat_captioner import VisionChatCaptioner
from longvid_assets_tests.openai_server import CHAT_PATH, unused_base_url

FPS, FRAMES, WIDTH, HEIGHT = 12, 36, 160, 96
RED_STEP = 7  # frame i is filled with red = 7 * i, so a sampled frame tells its index


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """3 s at 12 fps, 160x96; every frame one flat colour that encodes its index."""
    out = tmp_path_factory.mktemp("clip") / "clip.mp4"
    with VideoWriter(out, WIDTH, HEIGHT, FPS, crf=12) as writer:
        for index in range(FRAMES):
            frame = np.empty((HEIGHT, WIDTH, 3), dtype=np.uint8)
            frame[...] = (RED_STEP * index, 90, 160)
            writer.write(frame)
    return out


def request_for(clip: Path, prompt: str = "A red fox in the snow.") -> CaptionRequest:
    zero = {
        "mean_motion": 0,
        "max_motion": 0,
        "brightness": 0.5,
        "brightness_std": 0,
        "contrast": 0,
        "colourfulness": 0,
        "first_seam_match": 1,
        "last_seam_match": 1,
    }
    analysis = ClipAnalysis(
        frames=FRAMES,
        duration_s=FRAMES / FPS,
        fps=FPS,
        width=WIDTH,
        height=HEIGHT,
        mean_rgb=(0.5, 0.5, 0.5),
        **zero,
    )
    return CaptionRequest(clip=clip, prompt=prompt, fps=FPS, analysis=analysis)


def decode_data_url(url: str, kind: str) -> bytes:
    prefix, _, payload = url.partition(",")
    assert prefix.startswith(f"data:{kind}") and prefix.endswith(";base64"), prefix
    return base64.b64decode(payload)


# --- Frame sampling ------------------------------------------------------------------------


def test_frame_indices_follow_rate_cap_and_spread():
    assert frame_indices(36, 12, rate=1.0, max_frames=8) == [6, 18, 30]  # 3 s at 1/s
    assert frame_indices(36, 12, rate=2.0, max_frames=5) == [3, 10, 18, 25, 32]  # capped
    assert frame_indices(5, 12, rate=0.5, max_frames=8) == [2]  # at least one
    with pytest.raises(ValueError, match="rate"):
        frame_indices(36, 12, rate=0, max_frames=4)


def test_sample_frames_picks_those_frames_at_the_width(clip):
    frames = sample_frames(clip, FRAMES, FPS, rate=2.0, max_frames=5, width=128)
    assert [f.index for f in frames] == [3, 10, 18, 25, 32]
    for frame in frames:
        assert frame.image.size == (128, 77)  # 96 * 128 / 160 = 76.8
        red = np.asarray(frame.image)[..., 0].mean()
        assert round(red / RED_STEP) == frame.index
        assert frame.time_s == pytest.approx(frame.index / FPS)


# --- OpenAI-compatible vision endpoint ---------------------------------------------------


def test_vision_endpoint_receives_decodable_frames_of_requested_count_and_size(openai_server, clip):
    openai_server.reply_text("A slow pan over a red-tinted field.")
    captioner = VisionChatCaptioner(
        base_url=openai_server.base_url,
        api_key="vision-key",
        model="openbmb/MiniCPM-V-4_5",
        frame_rate=2.0,
        max_frames=5,
        frame_width=128,
        extra_body={"stop_token_ids": [151645, 151643]},
    )
    caption = captioner.caption(request_for(clip))

    assert caption == "A slow pan over a red-tinted field."
    (sent,) = openai_server.requests_to(CHAT_PATH)
    assert sent.bearer == "vision-key"
    assert sent.body["model"] == "openbmb/MiniCPM-V-4_5"
    assert sent.body["stop_token_ids"] == [151645, 151643]  # extra_body, top level
    parts = sent.body["messages"][0]["content"]
    images = [p for p in parts if p["type"] == "image_url"]
    assert len(images) == 5 and parts[-1] == {"type": "text", "text": captioner.question}
    for part, index in zip(images, [3, 10, 18, 25, 32], strict=True):
        image = Image.open(io.BytesIO(decode_data_url(part["image_url"]["url"], "image/jpeg")))
        image.load()
        assert image.format == "JPEG" and image.size == (128, 77)
        assert round(np.asarray(image)[..., 0].mean() / RED_STEP) == index
    assert "red fox" not in json.dumps(sent.body)  # the plan's prompt is never shown


def test_vision_endpoint_can_send_the_clip_as_video_url(openai_server, clip):
    openai_server.reply_text("A clip.")
    captioner = VisionChatCaptioner(base_url=openai_server.base_url, api_key="k", media="video")
    captioner.caption(request_for(clip))
    parts = openai_server.requests_to(CHAT_PATH)[0].body["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["video_url", "text"]
    assert decode_data_url(parts[0]["video_url"]["url"], "video/mp4") == clip.read_bytes()


@pytest.mark.parametrize(
    "status,message,expected",
    [
        (500, "CUDA out of memory", "answered HTTP 500: CUDA out of memory — the server failed"),
        (404, "The model `nope` does not exist.", "check captioner.model is served there"),
        (401, "Incorrect API key", "refused the API key"),
    ],
)
def test_vision_endpoint_error_reply_fails_in_one_clear_line(
    openai_server, clip, status, message, expected
):
    openai_server.reply_error(status, message)
    captioner = VisionChatCaptioner(
        base_url=openai_server.base_url, api_key="secret-key-123", http_retries=0
    )
    with pytest.raises(BackendError) as caught:
        captioner.caption(request_for(clip))
    text = str(caught.value)
    assert expected in text and "\n" not in text and "secret-key-123" not in text
    assert text.startswith("vision captioner (openbmb/MiniCPM-V-4_5):")


def test_vision_endpoint_unreachable_and_empty_reply(openai_server, clip):
    captioner = VisionChatCaptioner(base_url=unused_base_url(), api_key="k", http_retries=0)
    with pytest.raises(BackendError, match="cannot reach .* start the server or fix captioner"):
        captioner.caption(request_for(clip))
    openai_server.reply_text("")
    captioner = VisionChatCaptioner(base_url=openai_server.base_url, api_key="k")
    with pytest.raises(BackendError, match="answered with no text"):
        captioner.caption(request_for(clip))


# --- Local transformers --------------------------------------------------------------------


def test_transformers_captioner_runs_a_tiny_llava_loaded_once(tiny_llava, clip):
    model_cache.release("captioner-transformers")
    loads = model_cache.LOADS["captioner-transformers"]
    captioner = TransformersCaptioner(
        model=str(tiny_llava),
        max_frames=3,
        frame_width=48,
        max_tokens=6,
        gpu=GpuResource(device="cpu"),
    )
    assert captioner.resolved_api() == "image_text_to_text"
    first = captioner.caption(request_for(clip))
    again = captioner.caption(request_for(clip))
    assert isinstance(first, str) and first.strip() and first == again  # greedy: repeatable
    assert model_cache.LOADS["captioner-transformers"] == loads + 1
    assert "gpu" in captioner.identity() and "sidecar" not in captioner.identity()


def test_minicpm_chat_gets_frames_question_and_temporal_ids(clip, monkeypatch):
    calls = []

    class FakeMiniCPM:  # stands in for the trust_remote_code model: only `chat` is used
        def chat(self, **kwargs):
            calls.append(kwargs)
            return "A red field, camera still."

    captioner = TransformersCaptioner(
        api="minicpm_chat", trust_remote_code=True, frame_rate=2.0, max_frames=3, frame_width=64
    )
    monkeypatch.setattr(
        TransformersCaptioner, "loaded", lambda self: ("minicpm_chat", FakeMiniCPM(), "tokenizer")
    )
    assert captioner.caption(request_for(clip)) == "A red field, camera still."
    (call,) = calls
    content = call["msgs"][0]["content"]
    assert len(content) == 4 and all(isinstance(c, Image.Image) for c in content[:3])
    assert content[-1] == captioner.question and call["tokenizer"] == "tokenizer"
    assert call["temporal_ids"] == [[5, 15, 25]]  # frames 6, 18, 30 at 12 fps, in 0.1 s
    assert call["use_image_id"] is False and call["max_slice_nums"] == 1


def test_minicpm_needs_trust_remote_code():
    from longvid_assets.errors import ConfigError

    captioner = TransformersCaptioner(api="minicpm_chat", gpu=GpuResource(device="cpu"))
    with pytest.raises(ConfigError, match="trust_remote_code: true"):
        captioner._load("minicpm_chat")
    kwargs = minicpm_chat_kwargs([], "q", 10)
    assert kwargs["msgs"] == [{"role": "user", "content": ["q"]}]


# --- Prompt adherence --------------------------------------------------------------------


def test_minilm_adherence_offline_from_the_package(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    scorer = MiniLMAdherence()
    prompt = "A red fox wakes in a snowy forest at dawn."
    close = scorer.score("A fox with red fur stands among snow-covered pine trees.", prompt)
    far = scorer.score("A spreadsheet of quarterly tax figures on a laptop.", prompt)
    assert close > scorer.threshold > far
    assert -1.0 <= far < close <= 1.0
    assert "threshold" not in scorer.identity()
    assert NoAdherence().score("a", "b") is None


def test_missing_local_model_names_the_field(tmp_path):
    captioner = TransformersCaptioner(
        model=str(tmp_path / "no-such-vlm"), gpu=GpuResource(device="cpu")
    )
    with pytest.raises(BackendError, match=r"captioner.model: model folder .* does not exist"):
        captioner.resolved_api()


def test_adherence_check_thresholds_stores_scores_and_skips_measured(tmp_path):
    from longvid_assets.assets.clip_captions import adherence_check
    from longvid_assets.resources.adherence import PromptAdherence
    from longvid_assets.resources.captioner import MeasuredCaptioner
    from longvid_assets.resources.store import LocalArtifactStore

    calls = []

    class FixedScore(PromptAdherence):
        backend_name = "fixed"

        def score(self, caption, prompt):
            calls.append(caption)
            return 0.2

    store, model = LocalArtifactStore(root=str(tmp_path)), VisionChatCaptioner()
    low = adherence_check("a cat", "a fox", "f" * 32, model, FixedScore(threshold=0.3), store)
    assert not low.passed and low.metadata["score"].value == 0.2
    # Stored by caption + scorer: a second check (even with a new threshold) scores nothing.
    high = adherence_check("a cat", "a fox", "f" * 32, model, FixedScore(threshold=0.1), store)
    assert high.passed and calls == ["a cat"]
    off = adherence_check("a cat", "a fox", "e" * 32, model, NoAdherence(), store)
    assert off.passed and "adherence.backend is off" in off.metadata["note"].value
    measured = adherence_check("a cat", "a fox", "d" * 32, MeasuredCaptioner(), FixedScore(), store)
    assert measured.passed and "not scored" in measured.metadata["note"].value
    assert calls == ["a cat"]
