"""A synthesized ambient music bed: soft pads over a chord progression, a bass and a pulse.

Everything is a function of the absolute sample index, so the bed is generated in chunks
(bounded memory for long beds) and the chunks join seamlessly. The seed picks the key
(a small transposition), the chorus detune, the pad shimmer and the pulse's notes: the same
(mood, duration, seed, sample rate) always gives the same samples.
"""

import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHUNK_S = 10.0  # seconds generated per step: ~2 MB of float64 work arrays at 48 kHz
FADE_IN_S = 2.0
FADE_OUT_S = 3.0
PULSE_RING_S = 1.2  # how long one pulse note rings before it is cut (it has decayed by then)
SILENT_MOODS = frozenset({"none", "silence", "off"})


@dataclass(frozen=True)
class MoodStyle:
    root: int  # MIDI note of the tonic
    chords: tuple[tuple[int, ...], ...]  # semitone offsets from the root, one tuple per chord
    chord_s: float  # seconds per chord
    bpm: float  # pulse steps per minute; 0 = no pulse
    brightness: float  # 0..1: how much of the upper partials the pad keeps
    pulse_level: float


MOODS: dict[str, MoodStyle] = {
    "calm": MoodStyle(  # Imaj7 - vi7 - IVmaj7 - V, slow and open
        root=60,
        chords=((0, 4, 7, 11), (-3, 0, 4, 7), (-7, -3, 0, 4), (-5, -1, 2, 7)),
        chord_s=8.0,
        bpm=60.0,
        brightness=0.35,
        pulse_level=0.10,
    ),
    "uplifting": MoodStyle(  # I - V - vi - IV with a steady quick pulse
        root=62,
        chords=((0, 4, 7), (-5, -1, 2, 7), (-3, 0, 4, 9), (-7, -3, 0, 5)),
        chord_s=4.0,
        bpm=200.0,
        brightness=0.5,
        pulse_level=0.22,
    ),
    "tense": MoodStyle(  # i - bII - i - v, low and insistent
        root=57,
        chords=((0, 3, 7), (1, 5, 8), (0, 3, 7), (-5, -2, 2)),
        chord_s=4.0,
        bpm=240.0,
        brightness=0.3,
        pulse_level=0.20,
    ),
    "dark": MoodStyle(  # i - bVI - iv - i, dark register, no pulse
        root=50,
        chords=((0, 3, 7), (-4, 0, 3), (5, 8, 12), (0, 3, 7)),
        chord_s=8.0,
        bpm=0.0,
        brightness=0.2,
        pulse_level=0.0,
    ),
    "playful": MoodStyle(  # I - IV - ii - V, bright and quick
        root=65,
        chords=((0, 4, 7), (5, 9, 12), (2, 5, 9), (-5, -1, 2, 5)),
        chord_s=2.0,
        bpm=264.0,
        brightness=0.7,
        pulse_level=0.28,
    ),
    "epic": MoodStyle(  # i - bVI - bIII - bVII, wide and rising
        root=55,
        chords=((0, 3, 7, 12), (-4, 0, 3, 8), (3, 7, 10, 15), (-2, 2, 5, 10)),
        chord_s=4.0,
        bpm=180.0,
        brightness=0.6,
        pulse_level=0.22,
    ),
}
DEFAULT_MOOD = "calm"


@dataclass(frozen=True)
class BedVoicing:
    """What the seed chose; derived once per bed."""

    style: MoodStyle
    transpose: int
    detune_cents: float
    shimmer_hz: float
    shimmer_phase: float
    seed: int


@dataclass
class BedInfo:
    mood: str  # the mood asked for
    mood_used: str  # the style actually played ("calm" for an unknown mood)
    duration_s: float
    sample_rate: int
    frames: int
    transpose: int
    chords: int
    peak: float


def resolve_mood(mood: str) -> str:
    """The style a mood plays: a known mood, "none" for silence, else the calm default."""
    key = (mood or "").strip().lower()
    if key in SILENT_MOODS:
        return "none"
    return key if key in MOODS else DEFAULT_MOOD


def voicing_for(mood: str, seed: int) -> BedVoicing:
    """The seed's choices for a mood ("none" gets the default style; it is never rendered)."""
    rng = np.random.default_rng([seed % 2**32, 7919])
    return BedVoicing(
        style=MOODS.get(resolve_mood(mood), MOODS[DEFAULT_MOOD]),
        transpose=int(rng.integers(-2, 3)),
        detune_cents=float(rng.uniform(3.0, 7.0)),
        shimmer_hz=float(rng.uniform(0.08, 0.2)),
        shimmer_phase=float(rng.uniform(0.0, 2 * np.pi)),
        seed=seed,
    )


def midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12.0)


def iter_bed_chunks(
    mood: str, duration_s: float, seed: int, sample_rate: int = 48000, chunk_s: float = CHUNK_S
) -> Iterator[np.ndarray]:
    """Yield the bed as float32 mono chunks in [-1, 1], round(duration_s * sample_rate) in all."""
    if duration_s < 0:
        raise ValueError(f"duration_s is {duration_s}; a music bed needs a duration >= 0 seconds")
    total = int(round(duration_s * sample_rate))
    step = max(1, int(chunk_s * sample_rate))
    silent = resolve_mood(mood) == "none"
    voicing = voicing_for(mood, seed)
    for start in range(0, total, step):
        stop = min(total, start + step)
        if silent:
            yield np.zeros(stop - start, dtype=np.float32)
        else:
            yield _render_chunk(voicing, start, stop, total, sample_rate)


def synthesize_bed(mood: str, duration_s: float, seed: int, sample_rate: int = 48000) -> np.ndarray:
    """The whole bed as one float32 mono array (for short beds; long ones stream chunks)."""
    chunks = list(iter_bed_chunks(mood, duration_s, seed, sample_rate))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def write_bed_wav(
    out: Path, mood: str, duration_s: float, seed: int, sample_rate: int = 48000
) -> BedInfo:
    """Stream the bed into a mono 16-bit WAV chunk by chunk."""
    frames, peak = 0, 0.0
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        for chunk in iter_bed_chunks(mood, duration_s, seed, sample_rate):
            wav.writeframes((chunk * 32767.0).astype("<i2").tobytes())
            frames += len(chunk)
            peak = max(peak, float(np.max(np.abs(chunk))) if len(chunk) else 0.0)
    used = resolve_mood(mood)
    voicing = voicing_for(mood, seed)
    return BedInfo(
        mood=mood,
        mood_used=used,
        duration_s=frames / sample_rate,
        sample_rate=sample_rate,
        frames=frames,
        transpose=0 if used == "none" else voicing.transpose,
        chords=0 if used == "none" else int(np.ceil(duration_s / voicing.style.chord_s)),
        peak=round(peak, 4),
    )


def _render_chunk(v: BedVoicing, start: int, stop: int, total: int, sr: int) -> np.ndarray:
    # 1. Time axis of this chunk, in absolute seconds (float64 keeps phases exact for hours).
    n = np.arange(start, stop, dtype=np.float64)  # sample indices, exact as float64
    t = n / sr
    out = np.zeros(stop - start, dtype=np.float32)
    style = v.style
    t0, t1 = start / sr, stop / sr

    # 2. Pads and bass: each chord sounds under a raised-cosine window that crossfades into the
    #    next one, so adjacent windows always sum to one.
    xfade = min(1.5, style.chord_s / 3)
    first = max(0, int(np.floor((t0 - xfade) / style.chord_s)))
    last = int(np.floor((t1 + xfade) / style.chord_s))
    for k in range(first, last + 1):
        lo = max(start, int(np.floor((k * style.chord_s - xfade / 2) * sr)))
        hi = min(stop, int(np.ceil(((k + 1) * style.chord_s + xfade / 2) * sr)))
        if hi <= lo:
            continue
        span = n[lo - start : hi - start]
        window = _chord_window(span / sr, k * style.chord_s, (k + 1) * style.chord_s, xfade)
        chord = style.chords[k % len(style.chords)]
        out[lo - start : hi - start] += window.astype(np.float32) * _chord_tone(v, chord, span, sr)

    # 3. Pulse: plucked chord tones an octave up, one per step, each decaying quickly.
    if style.bpm > 0 and style.pulse_level > 0:
        out += _pulse(v, t, start, stop, sr).astype(np.float32)

    # 4. Slow fades at the very start and end of the bed, then a gentle safety saturation.
    duration = total / sr
    fade_in = np.clip(t / min(FADE_IN_S, duration / 4 or 1), 0.0, 1.0)
    fade_out = np.clip((duration - t) / min(FADE_OUT_S, duration / 4 or 1), 0.0, 1.0)
    out *= (np.sin(0.5 * np.pi * fade_in) * np.sin(0.5 * np.pi * fade_out)).astype(np.float32)
    return np.tanh(out)


def _chord_window(t: np.ndarray, begin: float, end: float, xfade: float) -> np.ndarray:
    rise = np.clip((t - (begin - xfade / 2)) / xfade, 0.0, 1.0)
    fall = np.clip(((end + xfade / 2) - t) / xfade, 0.0, 1.0)
    return (0.5 - 0.5 * np.cos(np.pi * rise)) * (0.5 - 0.5 * np.cos(np.pi * fall))


def _chord_tone(v: BedVoicing, chord: tuple[int, ...], n: np.ndarray, sr: int) -> np.ndarray:
    root = v.style.root + v.transpose
    t = n / sr
    tone = np.zeros(len(n), dtype=np.float32)
    detune = 2.0 ** (v.detune_cents / 1200.0)
    for i, offset in enumerate(chord):
        f = midi_hz(root + offset)
        note = np.zeros(len(n), dtype=np.float32)
        for partial in (1, 2, 3):
            amp = (v.style.brightness ** (partial - 1)) / partial
            for spread in (1.0 / detune, detune):
                note += amp * _sine(n, f * partial * spread, sr)
        # A slow shimmer per note keeps the pad breathing instead of droning.
        shimmer = 0.75 + 0.25 * np.sin(2 * np.pi * v.shimmer_hz * t + v.shimmer_phase + 1.7 * i)
        tone += note * shimmer.astype(np.float32)
    tone *= 0.06
    bass_f = midi_hz(root + min(chord) - 24)
    tone += 0.16 * _sine(n, bass_f, sr) + 0.03 * _sine(n, 2 * bass_f, sr)
    return tone


def _sine(n: np.ndarray, hz: float, sr: int) -> np.ndarray:
    """sin(2*pi*hz*n/sr) in float32, exact for any n: the phase is wrapped in float64 first."""
    turns = n * (hz / sr)
    turns -= np.floor(turns)
    phase = turns.astype(np.float32)
    phase *= np.float32(2 * np.pi)
    return np.sin(phase)


def _pulse(v: BedVoicing, t: np.ndarray, start: int, stop: int, sr: int) -> np.ndarray:
    style = v.style
    step_s = 60.0 / style.bpm
    out = np.zeros_like(t)
    first = max(0, int(np.floor((start / sr - PULSE_RING_S) / step_s)))
    last = int(np.floor(stop / sr / step_s))
    for step in range(first, last + 1):
        onset = step * step_s
        lo = max(start, int(np.ceil(onset * sr)))
        hi = min(stop, int(np.ceil((onset + PULSE_RING_S) * sr)))
        if hi <= lo:
            continue
        rng = np.random.default_rng([v.seed % 2**32, step, 104729])
        chord = style.chords[int(onset // style.chord_s) % len(style.chords)]
        note = style.root + v.transpose + 12 + chord[int(rng.integers(len(chord)))]
        accent = 1.0 if step % 4 == 0 else 0.6 + 0.2 * float(rng.random())
        local = t[lo - start : hi - start] - onset
        envelope = (1 - np.exp(-local / 0.004)) * np.exp(-local / 0.22)
        f = midi_hz(note)
        pluck = np.sin(2 * np.pi * f * local) + 0.3 * np.sin(4 * np.pi * f * local)
        out[lo - start : hi - start] += style.pulse_level * accent * envelope * pluck
    return out
