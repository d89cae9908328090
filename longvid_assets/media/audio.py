"""Narration fitting, the narration/music mix and loudness measurement (pure helpers).

Memory stays flat with length: narration clips are overlap-added one at a time into a
single mono bus WAV, the ducking envelope is a low-rate WAV, and ffmpeg streams the rest.
"""

import math
import re
import tempfile
import wave
from dataclasses import dataclass, field
from pathlib import Path

import ffmpeg
import numpy as np

from longvid_assets.errors import BackendError
from longvid_assets.media.ffmpeg import ffmpeg_exe, run
from longvid_assets.resources.speech import SpeechSynthesizer
from longvid_assets.resources.store import temp_name

MIN_LENGTH_SCALE = 0.75  # Piper speaks at most this much faster before atempo takes over
ENVELOPE_RATE = 200  # Hz of the ducking gain track
DUCK_ATTACK_S = 0.2  # the music starts dipping this long before a clip starts
DUCK_RELEASE_S = 0.6  # and recovers over this long after it ends
LIMIT_DBFS = -1.5  # peak ceiling of the final mix
SILENT_LUFS = -70.0  # ebur128 reports -70 (its gate) for silence
LANDING_LU = 0.2  # a mix further than this from the target gets a corrective pass
MAX_CORRECTIONS = 4  # peaky mixes (the limiter takes more each time) converge in 2-3


@dataclass
class NarrationPlacement:
    start_s: float  # where the clip starts on the timeline
    path: Path


@dataclass
class FittedNarration:
    duration_s: float
    natural_s: float  # length at Piper's natural pace
    slot_s: float
    length_scale: float  # 1.0 unless Piper had to speak faster
    tempo: float  # 1.0 unless atempo had to speed the take up
    sample_rate: int
    metadata: dict = field(default_factory=dict)  # the synthesizer's metadata of the last take

    @property
    def adjusted(self) -> bool:
        return self.length_scale != 1.0 or self.tempo != 1.0

    @property
    def warning(self) -> str | None:
        """One line for the asset's log when the narration had to be sped up, else None."""
        if not self.adjusted:
            return None
        return (
            f"narration is {self.natural_s:.2f} s at natural pace but its slot is "
            f"{self.slot_s:.2f} s: spoke faster (Piper length_scale {self.length_scale:.3f}) "
            f"and sped up {self.tempo:.3f}x with atempo — shorten the narration or lengthen "
            f"the segment to avoid it"
        )


@dataclass
class MixResult:
    duration_s: float
    integrated_lufs: float
    sample_rate: int
    channels: int
    target_lufs: float
    gain_db: float  # gain applied to the pre-mix to reach the target
    passes: int  # ffmpeg passes: one measure + one render + any corrective renders
    placements: int
    truncated: int = 0  # clips that ran past the end of the timeline and were cut there


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def fit_narration(
    synth: SpeechSynthesizer, text: str, voice: str, slot_s: float, out: Path
) -> FittedNarration:
    """Speak `text` into `out` so that it fits in `slot_s` seconds, never cutting words off.

    The rule:
    1. Speak at natural pace. If it fits the slot (the segment minus NARRATION_PAD_S), done.
    2. Otherwise speak again faster: Piper's length_scale = slot / natural, but not below
       MIN_LENGTH_SCALE (0.75) — faster than that Piper starts to slur.
    3. If that take is still too long, speed it up with ffmpeg `atempo` (pitch preserved) to
       the slot exactly.
    The result records natural_s, length_scale and tempo; `warning` says what was done.
    """
    if slot_s <= 0:
        raise ValueError(
            f"slot_s is {slot_s}; the narration slot must be > 0 s (segment duration minus "
            f"the narration padding) — lengthen the segment"
        )
    # 1. Natural pace.
    take = synth.synthesize(text, voice, out, length_scale=1.0)
    natural = take.duration_s
    if natural <= slot_s:
        return FittedNarration(natural, natural, slot_s, 1.0, 1.0, take.sample_rate, take.metadata)

    # 2. Faster speech from Piper itself.
    scale = max(MIN_LENGTH_SCALE, slot_s / natural)
    take = synth.synthesize(text, voice, out, length_scale=scale)
    if take.duration_s <= slot_s:
        return FittedNarration(
            take.duration_s, natural, slot_s, scale, 1.0, take.sample_rate, take.metadata
        )

    # 3. Time-stretch the rest of the way.
    tempo = take.duration_s / slot_s
    change_tempo(out, tempo, max_frames=math.floor(slot_s * take.sample_rate))
    return FittedNarration(
        wav_duration(out), natural, slot_s, scale, tempo, take.sample_rate, take.metadata
    )


def change_tempo(path: Path, tempo: float, max_frames: int) -> None:
    """Speed a WAV up in place by `tempo` (pitch kept), at most `max_frames` long.

    atempo's output runs a few milliseconds past in/tempo; the trim only takes those (the
    stretched take's trailing silence), never speech.
    """
    with wave.open(str(path), "rb") as wav:
        rate = wav.getframerate()
    stream = audio_input(path)
    remaining = tempo
    while remaining > 2.0:  # one atempo stage sounds best within 0.5..2
        stream = stream.filter("atempo", 2.0)
        remaining /= 2.0
    stream = stream.filter("atempo", remaining).filter("atrim", end_sample=max_frames)
    tmp = path.with_name(f"{path.stem}.tempo.wav")
    run(stream.output(str(tmp), acodec="pcm_s16le", ar=rate, ac=1), f"time-stretching {path.name}")
    tmp.replace(path)


def duck_envelope(
    spans: list[tuple[float, float]], duration_s: float, duck_db: float, rate: int = ENVELOPE_RATE
) -> np.ndarray:
    """Music gain over time: 1 in the clear, 10^(-duck_db/20) under narration, eased ramps."""
    n = int(math.ceil(duration_s * rate)) + 1
    depth = np.zeros(n, dtype=np.float32)  # 0 = clear, 1 = fully ducked
    t = np.arange(n, dtype=np.float64) / rate
    for start, end in spans:
        lo = max(0, int(math.floor((start - DUCK_ATTACK_S) * rate)))
        hi = min(n, int(math.ceil((end + DUCK_RELEASE_S) * rate)) + 1)
        if hi <= lo:
            continue
        span = t[lo:hi]
        rise = np.clip((span - (start - DUCK_ATTACK_S)) / DUCK_ATTACK_S, 0.0, 1.0)
        fall = np.clip(((end + DUCK_RELEASE_S) - span) / DUCK_RELEASE_S, 0.0, 1.0)
        shape = (0.5 - 0.5 * np.cos(np.pi * rise)) * (0.5 - 0.5 * np.cos(np.pi * fall))
        depth[lo:hi] = np.maximum(depth[lo:hi], shape.astype(np.float32))
    floor = 10.0 ** (-duck_db / 20.0)
    return 1.0 - depth * (1.0 - floor)


def measure_loudness(path: Path) -> float:
    """Integrated loudness (LUFS) of a media file's audio, by ffmpeg's ebur128 filter."""
    stream = audio_input(path)
    return _measure(stream, f"measuring the loudness of {Path(path).name}")


def audio_input(path: Path):
    """An ffmpeg input's audio; WAVs are opened as WAV (ffmpeg 9's probe can take a periodic
    16-bit WAV, e.g. a 1 kHz tone, for MPEG-TS and then fails to open it)."""
    options = {"format": "wav"} if Path(path).suffix.lower() == ".wav" else {}
    return ffmpeg.input(str(path), **options).audio


def _measure(stream, what: str) -> float:
    stream = stream.filter("ebur128", framelog="quiet").output("-", format="null")
    try:
        _, stderr = ffmpeg.run(stream, cmd=ffmpeg_exe(), capture_stdout=True, capture_stderr=True)
    except ffmpeg.Error as exc:
        lines = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
        last = lines[-1] if lines else "no output"
        raise BackendError(f"ffmpeg failed while {what}: {last}") from None
    text = stderr.decode(errors="replace")
    summary = text[text.rfind("Summary:") :]
    match = re.search(r"I:\s+(-?[\d.]+|-inf)\s+LUFS", summary)
    if "Summary:" not in text or match is None:
        raise BackendError(f"ffmpeg's ebur128 printed no integrated loudness while {what}")
    value = float(match.group(1))
    return max(value, SILENT_LUFS)


def mix_tracks(
    placements: list[NarrationPlacement],
    music: Path | None,
    duration_s: float,
    out: Path,
    target_lufs: float = -16.0,
    music_gain_db: float = -20.0,
    duck_db: float = 10.0,
    sample_rate: int = 48000,
    channels: int = 2,
) -> MixResult:
    """Narration over a ducked music bed, normalized to `target_lufs`, exactly `duration_s` long.

    `music_gain_db` is applied to the music file as it is; the music then dips a further
    `duck_db` wherever a narration clip plays. The sum gets one linear gain (measured in a
    first pass) and a peak limiter at LIMIT_DBFS — no dynamic normalization, so the ducking
    and the gaps keep their shape — and a corrective pass if the limiter moved it more than
    LANDING_LU (repeated, up to MAX_CORRECTIONS, when peaks keep the limiter busy).
    Output: 16-bit WAV at `sample_rate`, `channels` channels.
    """
    if duration_s <= 0:
        raise ValueError(f"duration_s is {duration_s}; the mix needs a positive duration")
    if channels not in (1, 2):
        raise ValueError(f"channels is {channels}; use 1 (mono) or 2 (stereo)")
    for placement in placements:
        if placement.start_s < 0:
            raise ValueError(
                f"narration {Path(placement.path).name} starts at {placement.start_s} s; "
                f"placements must start at >= 0 s"
            )
    total = int(round(duration_s * sample_rate))
    out = Path(out)
    # Named for this process: a kill mid-mix leaves a folder the next render's sweep removes.
    with tempfile.TemporaryDirectory(prefix=temp_name("mix-"), dir=out.parent) as tmp:
        # 1. One narration bus with every clip at its start; the spans drive the ducking.
        bus = spans = None
        truncated = 0
        if placements:
            bus = Path(tmp) / "narration.wav"
            spans, truncated = write_narration_bus(placements, duration_s, bus, sample_rate)

        # 2. The ducking envelope as a low-rate gain track.
        envelope = None
        if music is not None and spans and duck_db > 0:
            envelope = Path(tmp) / "duck.wav"
            _write_wav(envelope, duck_envelope(spans, duration_s, duck_db), ENVELOPE_RATE)

        def premix():
            return _premix(bus, music, envelope, music_gain_db, total, sample_rate, channels)

        # 3. Measure the pre-mix, then render it with one gain and a limiter.
        measured = _measure(premix(), "measuring the narration/music pre-mix")
        gain = 0.0 if measured <= SILENT_LUFS else target_lufs - measured
        _render(premix(), gain, total, sample_rate, channels, out)
        loudness, passes = measure_loudness(out), 2

        # 4. The limiter lowers peaky mixes: add the missing gain until the mix lands.
        corrections = 0
        while (
            loudness > SILENT_LUFS
            and abs(loudness - target_lufs) > LANDING_LU
            and corrections < MAX_CORRECTIONS
        ):
            gain += target_lufs - loudness
            _render(premix(), gain, total, sample_rate, channels, out)
            loudness = measure_loudness(out)
            corrections += 1
        passes += corrections
    return MixResult(
        duration_s=wav_duration(out),
        integrated_lufs=loudness,
        sample_rate=sample_rate,
        channels=channels,
        target_lufs=target_lufs,
        gain_db=round(gain, 2),
        passes=passes,
        placements=len(placements),
        truncated=truncated,
    )


def write_narration_bus(
    placements: list[NarrationPlacement], duration_s: float, out: Path, fallback_rate: int
) -> tuple[list[tuple[float, float]], int]:
    """Overlap-add every clip at its start into one mono 16-bit WAV of exactly `duration_s`.

    Clips are read one at a time; only the part of the bus that a later clip could still
    overlap is held in memory. The bus runs at the first clip's rate (Piper's 22.05 kHz)
    when it is a mono 16-bit WAV, else `fallback_rate`. Returns the (start, end) span of
    every clip and how many clips ran past the end and were cut there.
    """
    ordered = sorted(placements, key=lambda p: p.start_s)
    rate = _pcm16_mono_rate(Path(ordered[0].path)) or fallback_rate
    total = int(round(duration_s * rate))
    spans, truncated = [], 0
    pending = np.zeros(0, dtype=np.float32)  # bus samples from `written` on, not yet final
    written = 0
    with wave.open(str(out), "wb") as bus, tempfile.TemporaryDirectory() as tmp:
        bus.setnchannels(1)
        bus.setsampwidth(2)
        bus.setframerate(rate)
        for placement in ordered:
            clip = _read_clip(Path(placement.path), rate, Path(tmp))
            at = int(round(placement.start_s * rate))
            spans.append((placement.start_s, placement.start_s + len(clip) / rate))
            truncated += at + len(clip) > total
            # Everything before this clip's start is final: write it out.
            if at >= written + len(pending):
                written += _write_frames(bus, pending, total - written)
                written += _write_silence(bus, min(at, total) - written)
                pending = np.zeros(0, dtype=np.float32)
            else:
                final = at - written
                written += _write_frames(bus, pending[:final], total - written)
                pending = pending[final:]
            if written < at:  # the clip starts past the end of the timeline
                continue
            if len(clip) > len(pending):
                pending = np.concatenate([pending, np.zeros(len(clip) - len(pending), np.float32)])
            pending[: len(clip)] += clip
        written += _write_frames(bus, pending, total - written)
        _write_silence(bus, total - written)
    return spans, truncated


def _premix(bus, music, envelope, music_gain_db, total, sample_rate, channels):
    """The ffmpeg graph: narration bus + (ducked) music, summed at unit gain."""
    parts = []
    if bus is not None:
        parts.append(_fit(audio_input(bus), total, sample_rate, channels, mono=True))
    if music is not None:
        bed = audio_input(music).filter("volume", f"{music_gain_db}dB")
        bed = _fit(bed, total, sample_rate, channels, mono=False)
        if envelope is not None:
            gain = _fit(audio_input(envelope), total, sample_rate, channels, mono=True)
            bed = ffmpeg.filter([bed, gain], "amultiply")
        parts.append(bed)
    if not parts:  # no narration and no music: silence
        silence = ffmpeg.input(f"anullsrc=r={sample_rate}:cl=mono", format="lavfi").audio
        parts.append(_fit(silence, total, sample_rate, channels, mono=True))
    if len(parts) == 1:
        return parts[0]
    return ffmpeg.filter(parts, "amix", inputs=len(parts), normalize=0, duration="longest")


def _fit(stream, total: int, sample_rate: int, channels: int, mono: bool):
    """Resample to the mix rate and layout, then pad/trim to exactly `total` samples."""
    stream = stream.filter("aresample", sample_rate)
    if mono and channels == 2:
        stream = stream.filter("channelmap", map="0-0|0-1", channel_layout="stereo")
    else:
        layout = "stereo" if channels == 2 else "mono"
        stream = stream.filter("aformat", channel_layouts=layout)
    stream = stream.filter("aformat", sample_fmts="fltp")
    return stream.filter("apad", whole_len=total).filter("atrim", end_sample=total)


def _render(stream, gain_db: float, total: int, sample_rate: int, channels: int, out: Path):
    limit = 10.0 ** (LIMIT_DBFS / 20.0)
    stream = (
        stream.filter("volume", f"{gain_db:.3f}dB")
        .filter("alimiter", limit=limit, attack=5, release=50, level=0, latency=1)
        .filter("aresample", sample_rate)
        .filter("apad", whole_len=total)
        .filter("atrim", end_sample=total)
    )
    output = stream.output(str(out), acodec="pcm_s16le", ar=sample_rate, ac=channels)
    run(output, f"mixing narration and music into {out.name}")


def _pcm16_mono_rate(path: Path) -> int | None:
    try:
        with wave.open(str(path), "rb") as wav:
            ok = wav.getnchannels() == 1 and wav.getsampwidth() == 2
            return wav.getframerate() if ok else None
    except (wave.Error, EOFError):
        return None


def _read_clip(path: Path, rate: int, tmp: Path) -> np.ndarray:
    """A clip as float32 mono at `rate`; ffmpeg converts anything else first."""
    if _pcm16_mono_rate(path) != rate:
        converted = tmp / "clip.wav"
        stream = audio_input(path).output(str(converted), acodec="pcm_s16le", ar=rate, ac=1)
        run(stream, f"converting narration {path.name} to {rate} Hz mono")
        path = converted
    with wave.open(str(path), "rb") as wav:
        data = wav.readframes(wav.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def _write_frames(bus: wave.Wave_write, samples: np.ndarray, room: int) -> int:
    samples = samples[: max(0, room)]
    pcm = np.clip(np.round(samples * 32768.0), -32768, 32767).astype("<i2")
    bus.writeframes(pcm.tobytes())
    return len(samples)


def _write_silence(bus: wave.Wave_write, frames: int) -> int:
    block = bytes(2 * 48000)
    left = max(0, frames)
    while left > 0:
        step = min(left, 48000)
        bus.writeframes(block[: 2 * step])
        left -= step
    return max(0, frames)


def _write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        _write_frames(wav, samples, len(samples))
