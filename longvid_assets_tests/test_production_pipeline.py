"""Production captions and audio through the real assets: configs written as YAML, renders
materialized by Dagster on CPU with tiny random-weight models (Llava, Bark, MusicGen) and
with a real local HTTP server for the OpenAI-compatible vision and speech endpoints."""

import json
import wave
from pathlib import Path

import numpy as np
import pytest
from dagster import AssetKey

from longvid_assets.config import load_config
from longvid_assets.media.audio import measure_loudness
from longvid_assets.media.probe import probe
from longvid_assets.render import render_prompt_file
from longvid_assets.resources import model_cache
from longvid_assets.resources.store import LocalArtifactStore
from longvid_assets_tests.openai_server import CHAT_PATH, SPEECH_PATH
from longvid_assets_tests.test_production_audio import tone_wav
from longvid_assets_tests.tiny_transformers_models import BARK_VOICE

PROMPT = """\
title: Lighthouse
resolution: [96, 64]
fps: 8
music: calm
segments:
  - prompt: A lighthouse on a cliff at dusk.
    narration: The lighthouse stands alone.
    duration: 3
  - prompt: Waves break on dark rocks below the cliff.
    narration: Below, the sea is grey.
    duration: 3
"""


def yaml_config(tmp_path: Path, sections: str) -> Path:
    """The default config with some sections replaced (later keys win in YAML mappings
    only once, so the replaced sections are removed first)."""
    base = (Path(__file__).resolve().parent.parent / "configs" / "default.yaml").read_text()
    replaced = {line.split(":")[0] for line in sections.splitlines() if line[:1].isalpha()}
    kept, skipping = [], False
    for line in base.splitlines():
        if line and not line.startswith((" ", "#")):
            skipping = line.split(":")[0] in replaced
        if not skipping:
            kept.append(line)
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(kept) + "\n" + sections, encoding="utf-8")
    return path


def render(tmp_path, config_path: Path, instance):
    config = load_config(str(config_path))
    config.resources["store"] = LocalArtifactStore(root=str(tmp_path / "store"))
    prompt = tmp_path / "lighthouse.yaml"
    prompt.write_text(PROMPT, encoding="utf-8")
    return config, render_prompt_file(prompt, config, instance)


def sidecar(outcome) -> tuple[dict, str]:
    mp4 = Path(outcome.path)
    data = json.loads(mp4.with_name(f"{outcome.render}.captions.json").read_text())
    srt = mp4.with_name(f"{outcome.render}.descriptions.srt").read_text()
    return data, srt


def latest_metadata(instance, asset: str) -> dict:
    record = instance.fetch_materializations(AssetKey(asset), limit=1).records[0]
    return {k: v.value for k, v in record.asset_materialization.metadata.items()}


@pytest.mark.slow
def test_tiny_llava_bark_musicgen_render_through_the_assets(
    tmp_path, longvid_env, tiny_llava, tiny_bark, tiny_musicgen
):
    _, instance, _ = longvid_env
    config_path = yaml_config(
        tmp_path,
        f"""\
captioner:
  backend: transformers
  model: {tiny_llava}
  max_frames: 3
  frame_width: 48
  max_tokens: 8
  gpu: {{device: cpu}}
adherence:
  backend: minilm
  threshold: 0.3
speech:
  backend: bark
  model: {tiny_bark}
  voice: {BARK_VOICE}
  max_semantic_tokens: 16
  gpu: {{device: cpu}}
music:
  backend: musicgen
  model: {tiny_musicgen}
  window_s: 2.5
  crossfade_s: 0.5
  gpu: {{device: cpu}}
""",
    )
    config, outcome = render(tmp_path, config_path, instance)

    # 1. The MP4: both streams, planned length, loudness on target (-16 LUFS).
    mp4 = Path(outcome.path)
    info = probe(mp4)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert abs(info.duration_s - 6.0) <= 1 / 8
    assert abs(measure_loudness(mp4) - (-16.0)) <= 1.0
    # 2. Which backends made it.
    audio = latest_metadata(instance, "audio_tracks")
    assert audio["speech_backend"] == "bark" and audio["music_backend"] == "musicgen"
    assert latest_metadata(instance, "clip_captions")["backend"] == "transformers"
    # 3. Captions from the model, in the sidecars and the final video's metadata.
    data, srt = sidecar(outcome)
    captions = [segment["caption"] for segment in data["segments"]]
    assert len(captions) == 2 and all(c and c.strip() for c in captions)
    assert [s["segment"] for s in data["segments"]] == ["000", "001"]
    assert data["segments"][1]["start_s"] == 3.0 and data["segments"][1]["measured"]
    assert srt.count("-->") == 2 and captions[0] in srt
    table = latest_metadata(instance, "final_video")["captions"]
    assert [record.data["caption"] for record in table.records] == captions
    # 4. The adherence check scored each model caption (random weights: any score).
    scores = list((tmp_path / "store" / "artifacts" / "adherence").glob("*/adherence.json"))
    assert len(scores) == 2
    for path in scores:
        assert -1.0 <= json.loads(path.read_text())["score"] <= 1.0
    assert {k.split()[1] for k in outcome.checks} >= {"prompt_adherence", "seam_match"}
    # 5. Everything stored: a second run (models dropped first) loads and builds nothing.
    model_cache.release()
    loads = dict(model_cache.LOADS)
    again = render_prompt_file(tmp_path / "lighthouse.yaml", config, instance)
    assert again.built_steps == 0 and again.final.fingerprint == outcome.final.fingerprint
    assert dict(model_cache.LOADS) == loads


def test_vision_and_speech_endpoints_render_with_keys_from_env(
    tmp_path, longvid_env, openai_server, monkeypatch
):
    _, instance, _ = longvid_env
    monkeypatch.setenv("LONGVID_TEST_VISION_KEY", "vision-secret")
    monkeypatch.setenv("LONGVID_TEST_TTS_KEY", "tts-secret")
    openai_server.reply_text("A lighthouse stands on a cliff as the sun goes down.")
    openai_server.reply_text("A bowl of fruit sits on a kitchen table.")  # off-prompt
    for seconds in (1.4, 1.2):
        openai_server.reply_speech(tone_wav(seconds))
    config_path = yaml_config(
        tmp_path,
        f"""\
captioner:
  backend: vision_chat
  base_url: {openai_server.base_url}
  model: openbmb/MiniCPM-V-4_5
  api_key: {{env: LONGVID_TEST_VISION_KEY}}
  frame_rate: 1.0
  max_frames: 2
  frame_width: 64
  extra_body: {{stop_token_ids: [151645]}}
speech:
  backend: openai
  base_url: {openai_server.base_url}
  api_key: {{env: LONGVID_TEST_TTS_KEY}}
  model: tts-1
  voice: nova
""",
    )
    _, outcome = render(tmp_path, config_path, instance)

    chats = openai_server.requests_to(CHAT_PATH)
    speeches = openai_server.requests_to(SPEECH_PATH)
    assert [r.bearer for r in chats] == ["vision-secret"] * 2
    assert [r.bearer for r in speeches] == ["tts-secret"] * 2
    for request in chats:
        parts = request.body["messages"][0]["content"]
        assert sum(p["type"] == "image_url" for p in parts) == 2
        assert request.body["stop_token_ids"] == [151645]
    assert [r.body["input"] for r in speeches] == [
        "The lighthouse stands alone.",
        "Below, the sea is grey.",
    ]
    data, _ = sidecar(outcome)
    assert [s["caption"] for s in data["segments"]] == [
        "A lighthouse stands on a cliff as the sun goes down.",
        "A bowl of fruit sits on a kitchen table.",
    ]
    # MiniLM adherence (offline, from the package): on-prompt passes, off-prompt warns.
    assert outcome.checks[f"{outcome.render}|000 prompt_adherence"] is True
    assert outcome.checks[f"{outcome.render}|001 prompt_adherence"] is False
    # The narration is where the plan put it: each tone starts at its segment + lead-in.
    (mix,) = (tmp_path / "store" / "artifacts" / "audio").glob("*/mix.wav")
    with wave.open(str(mix), "rb") as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, 2)
    level = np.abs(samples[:, 0].astype(float))
    for start in (0.3, 3.3):
        before = level[int((start - 0.05) * rate) : int((start - 0.01) * rate)].mean()
        after = level[int((start + 0.01) * rate) : int((start + 0.05) * rate)].mean()
        assert after > 4 * before, (start, before, after)
