"""Production audio backends: Bark and MusicGen (tiny random-weight models on CPU) and an
OpenAI-compatible speech endpoint (a real local HTTP server)."""

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from longvid_assets.errors import BackendError, ConfigError
from longvid_assets.media.audio import fit_narration
from longvid_assets.resources import model_cache
from longvid_assets.resources.bark_speech import BarkSpeech, split_takes
from longvid_assets.resources.gpu import GpuResource
from longvid_assets.resources.musicgen import MusicGenMusic, crossfade, level
from longvid_assets.resources.openai_speech import OpenAISpeech
from longvid_assets_tests.openai_server import SPEECH_PATH
from longvid_assets_tests.tiny_transformers_models import BARK_VOICE

CPU = GpuResource(device="cpu")


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return data.astype(np.float64) / 32768.0, wav.getframerate()


def tone_wav(seconds: float, rate: int = 24000, hz: float = 300.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (0.3 * np.sin(2 * np.pi * hz * t) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
    return buffer.getvalue()


# --- Bark ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bark(tiny_bark) -> BarkSpeech:
    return BarkSpeech(model=str(tiny_bark), voice=BARK_VOICE, max_semantic_tokens=16, gpu=CPU)


def test_split_takes_keeps_every_word():
    text = "The storm came. " + " ".join(f"w{i}," if i % 12 == 11 else f"w{i}" for i in range(70))
    takes = split_takes(text, max_words=30)
    assert takes[0] == "The storm came."
    assert all(len(take.split()) <= 30 for take in takes)
    assert " ".join(takes).split() == text.split()


def test_bark_speaks_each_sentence_with_the_voice_preset(bark, tmp_path):
    loads = model_cache.LOADS["bark"]
    out = tmp_path / "bark.wav"
    result = bark.synthesize("The fox came. The storm came.", "en_US-joe-medium", out)
    samples, rate = read_wav(out)
    assert rate == 24000 and result.sample_rate == 24000
    assert result.metadata["voice"] == BARK_VOICE  # a Piper name in the plan falls back
    assert result.metadata["takes"] == 2
    assert result.duration_s == pytest.approx(len(samples) / rate)
    assert result.duration_s > bark.sentence_silence_s  # two takes and the pause between
    assert np.isfinite(samples).all() and samples.std() > 1e-4  # not silent, not constant
    assert model_cache.LOADS["bark"] <= loads + 1


def test_bark_is_seeded_and_fit_narration_speeds_it_up(bark, tmp_path):
    natural = bark.synthesize("The fox came.", "", tmp_path / "natural.wav").duration_s
    slot = 0.85 * natural
    fitted = fit_narration(bark, "The fox came.", "", slot, tmp_path / "fit.wav")
    assert fitted.natural_s == natural  # the same take again: seeded
    # Bark's own stretch (atempo for length_scale) is enough: no second tempo pass.
    assert fitted.length_scale == pytest.approx(0.85) and fitted.tempo == 1.0
    assert fitted.duration_s == pytest.approx(slot, abs=0.02) and fitted.duration_s <= slot


def test_bark_unknown_voice_fails_with_the_presets_it_has(tiny_bark, tmp_path):
    speech = BarkSpeech(model=str(tiny_bark), voice="v2/xx_speaker_9", gpu=CPU)
    expected = r"not a Bark voice preset .* \(it has: v2/en_speaker_0\)"
    with pytest.raises(ConfigError, match=expected):
        speech.synthesize("The fox came.", "", tmp_path / "x.wav")


def test_bark_missing_model_names_the_field(tmp_path):
    speech = BarkSpeech(model=str(tmp_path / "no-such-bark"), gpu=CPU)
    with pytest.raises(BackendError, match=r"speech.model: model folder .* does not exist"):
        speech.synthesize("Hello.", "", tmp_path / "x.wav")


# --- MusicGen ------------------------------------------------------------------------------


def test_crossfades_and_levels():
    old, new = np.ones(100, np.float32), np.zeros(100, np.float32)
    power = crossfade(old, new, equal_power=True)
    linear = crossfade(old, new, equal_power=False)
    assert power[0] > 0.99 and power[-1] < 0.02 and np.all(np.diff(power) <= 0)
    assert linear[50] == pytest.approx(0.495, abs=0.01)
    # Uncorrelated noise keeps its power through an equal-power fade.
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(48000), rng.standard_normal(48000)
    assert np.std(crossfade(a, b)) == pytest.approx(1.0, abs=0.03)
    leveled = level(rng.standard_normal(1000).astype(np.float32) * 0.01, -18.0)
    rms = np.sqrt(np.mean(leveled.astype(np.float64) ** 2))
    assert 20 * np.log10(rms) == pytest.approx(-18, abs=0.1)


@pytest.mark.parametrize("continuation", [True, False])
def test_musicgen_long_bed_in_crossfaded_windows(tiny_musicgen, tmp_path, continuation):
    music = MusicGenMusic(
        model=str(tiny_musicgen),
        window_s=1.0,
        crossfade_s=0.2,
        continuation=continuation,
        gpu=CPU,
    )
    out = tmp_path / "bed.wav"
    info = music.generate("calm", 2.5, seed=3, out=out)
    samples, rate = read_wav(out)
    # Windows: [0, 1.0), [0.8, 1.8), [1.6, 2.5) -> 3, overlapping by 0.2 s; exact length.
    assert info["windows"] == 3 and rate == 32000 and len(samples) == 2.5 * 32000
    assert info["description"].startswith("calm ambient")
    assert np.isfinite(samples).all()
    # Level holds over every 0.1 s block, seams included (no dropout, no doubling).
    blocks = samples[: len(samples) // 3200 * 3200].reshape(-1, 3200)
    rms_db = 20 * np.log10(np.sqrt((blocks**2).mean(axis=1)) + 1e-12)
    assert np.all(np.abs(rms_db - music.level_dbfs) < 6), rms_db.round(1)
    # Seeded and reproducible.
    again = tmp_path / "again.wav"
    music.generate("calm", 2.5, seed=3, out=again)
    assert np.array_equal(read_wav(again)[0], samples)


def test_musicgen_settings_are_checked():
    with pytest.raises(ValueError, match="crossfade_s 6.0 must be under half of window_s 10.0"):
        MusicGenMusic(window_s=10, crossfade_s=6)
    assert MusicGenMusic().identity()["gpu"] == GpuResource().identity()


# --- OpenAI-compatible speech endpoint -------------------------------------------------------


def test_openai_speech_endpoint_request_and_wav(openai_server, tmp_path):
    openai_server.reply_speech(tone_wav(1.5))
    speech = OpenAISpeech(
        base_url=openai_server.base_url,
        api_key="tts-key",
        voice="nova",
        model="tts-1",
        instructions="Warm and calm.",
    )
    out = tmp_path / "speech.wav"
    result = speech.synthesize("At dawn, a red fox wakes.", "en_US-joe-medium", out)

    (sent,) = openai_server.requests_to(SPEECH_PATH)
    assert sent.bearer == "tts-key"
    assert sent.body == {
        "model": "tts-1",
        "voice": "nova",
        "input": "At dawn, a red fox wakes.",
        "response_format": "wav",
        "instructions": "Warm and calm.",
    }
    samples, rate = read_wav(out)
    assert rate == 24000 and result.duration_s == pytest.approx(1.5, abs=0.01)
    assert samples.std() > 0.1


def test_openai_speech_speed_follows_length_scale_and_plan_voice(openai_server, tmp_path):
    openai_server.reply_speech(tone_wav(1.0))
    speech = OpenAISpeech(base_url=openai_server.base_url, api_key="k")
    speech.synthesize("Quick.", "shimmer", tmp_path / "s.wav", length_scale=0.8)
    body = openai_server.requests_to(SPEECH_PATH)[0].body
    assert body["voice"] == "shimmer" and body["speed"] == 1.25


def test_openai_speech_raw_pcm_reply(openai_server, tmp_path):
    pcm = (np.sin(np.arange(24000) / 10) * 9000).astype("<i2").tobytes()  # 1 s at 24 kHz
    openai_server.reply_speech(pcm, content_type="audio/pcm")
    speech = OpenAISpeech(base_url=openai_server.base_url, api_key="k", response_format="pcm")
    result = speech.synthesize("Raw.", "", tmp_path / "pcm.wav")
    assert result.sample_rate == 24000 and result.duration_s == pytest.approx(1.0, abs=0.01)


def test_openai_speech_error_is_one_line_without_the_key(openai_server, tmp_path):
    openai_server.reply_error(401, "Incorrect API key provided", path=SPEECH_PATH)
    speech = OpenAISpeech(base_url=openai_server.base_url, api_key="sk-secret", http_retries=0)
    with pytest.raises(BackendError) as caught:
        speech.synthesize("Hello.", "", tmp_path / "x.wav")
    text = str(caught.value)
    assert "refused the API key" in text and "sk-secret" not in text and "\n" not in text
