"""A/V sync and loudness of the final MP4, measured on real renders through Dagster.

Sync: a 4-segment render whose video backend flashes one white frame at a planned instant
in segment 3 and whose speech backend puts a 1 kHz beep at the same planned instant; the
final MP4 is decoded with PyAV and the flash's time is compared with the beep's onset.
"""

import math
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from longvid_assets.assets.audio_tracks import LEAD_IN_S
from longvid_assets.media.audio import measure_loudness
from longvid_assets.media.ffmpeg import VideoWriter
from longvid_assets.render import render_prompt_file
from longvid_assets.resources.mixer import AudioMixer
from longvid_assets.resources.speech import SpeechResult, SpeechSynthesizer
from longvid_assets.resources.video import ClipRequest, ClipResult, VideoGenerator

FPS = 24
FLASH_FRAME = 30  # 1.25 s into its segment
FLASH_S = FLASH_FRAME / FPS
NARRATION_S = 1.6  # leaves the segment's lead-in at LEAD_IN_S (3 s segments)
BEEP_HZ = 1000.0

SYNC_PROMPT = """\
title: Sync check
resolution: [160, 96]
fps: 24
music: calm
segments:
  - {prompt: A quiet field., narration: One., duration: 3}
  - {prompt: A quiet road., narration: Two., duration: 3}
  - {prompt: FLASH over the road., narration: BEEP three., duration: 3}
  - {prompt: A quiet sky., narration: Four., duration: 3}
"""


class FlashVideo(VideoGenerator):
    """The first keyframe held still, the last keyframe on the last frame, and one white
    frame at FLASH_FRAME when the segment's prompt says FLASH."""

    backend_name = "test-flash"
    tier = "embedded"

    def generate(self, request: ClipRequest, out: Path) -> ClipResult:
        from PIL import Image

        size = (request.width, request.height)
        first = np.asarray(Image.open(request.first_image).convert("RGB").resize(size))
        last = np.asarray(Image.open(request.last_image).convert("RGB").resize(size))
        dim = (first * 0.4).astype(np.uint8)  # keep the flash the brightest frame by far
        white = np.full_like(first, 255)
        with VideoWriter(out, request.width, request.height, request.fps) as writer:
            for index in range(request.num_frames):
                flash = "FLASH" in request.prompt and index == FLASH_FRAME
                last_frame = index == request.num_frames - 1
                writer.write(white if flash else (last if last_frame else dim))
        return ClipResult(num_frames=request.num_frames)


class BeepSpeech(SpeechSynthesizer):
    """A quiet 220 Hz hum NARRATION_S long; text with BEEP gets a loud 1 kHz beep placed so
    that, after the segment's lead-in, it sounds FLASH_S into the segment."""

    backend_name = "test-beep"
    tier = "embedded"

    def synthesize(self, text, voice, out, length_scale=1.0) -> SpeechResult:
        rate = 22050
        t = np.arange(int(NARRATION_S * rate)) / rate
        samples = 0.05 * np.sin(2 * np.pi * 220 * t)
        if "BEEP" in text:
            start = int(round((FLASH_S - LEAD_IN_S) * rate))
            beep = slice(start, start + int(0.12 * rate))
            samples[beep] = 0.6 * np.sin(2 * np.pi * BEEP_HZ * t[beep])
        with wave.open(str(out), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            wav.writeframes((samples * 32767).astype("<i2").tobytes())
        return SpeechResult(duration_s=len(t) / rate, sample_rate=rate, metadata={})


def flash_time(path: Path) -> tuple[float, float]:
    """(presentation time of the brightest frame, end time of the video stream)."""
    best, best_time, end = -1.0, 0.0, 0.0
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            luma = frame.to_ndarray(format="gray").mean()
            if luma > best:
                best, best_time = luma, float(frame.time)
            end = float(frame.time) + 1.0 / FPS
    return best_time, end


def beep_onset(path: Path) -> tuple[float, float]:
    """(time the 1 kHz band first reaches half its peak, end time of the audio stream),
    from a centred 4 ms envelope of the band on the container's audio timestamps."""
    chunks, start, rate = [], None, 48000
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        for frame in container.decode(stream):
            if start is None:
                start = float(frame.time)
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
    samples = np.concatenate(chunks).astype(np.float64)
    t = np.arange(len(samples)) / rate
    band = samples * np.exp(-2j * np.pi * BEEP_HZ * t)
    width = int(0.004 * rate)
    envelope = np.abs(np.convolve(band, np.ones(width) / width, mode="same"))
    onset = int(np.argmax(envelope >= 0.5 * envelope.max()))
    return start + onset / rate, start + len(samples) / rate


def test_flash_and_beep_land_within_one_frame_in_the_final_mp4(tmp_path, longvid_env):
    config, instance, _ = longvid_env
    config.resources["video_generator"] = FlashVideo()
    config.resources["speech"] = BeepSpeech()
    prompt = tmp_path / "sync.yaml"
    prompt.write_text(SYNC_PROMPT, encoding="utf-8")

    outcome = render_prompt_file(prompt, config, instance)

    plan, mp4 = outcome.plan, Path(outcome.path)
    planned = plan.start_s(2) + FLASH_S  # segment 3 of 4
    assert planned == pytest.approx(7.25)
    flash, video_end = flash_time(mp4)
    beep, audio_end = beep_onset(mp4)
    frame = 1.0 / FPS
    offset = beep - flash
    print(
        f"planned {planned:.4f} s, flash {flash:.4f} s, beep {beep:.4f} s, "
        f"A/V offset {offset * 1000:+.1f} ms ({offset / frame:+.2f} frames), "
        f"audio end - video end {(audio_end - video_end) * 1000:+.1f} ms"
    )
    assert abs(flash - planned) <= frame / 2  # the flash frame sits at its planned time
    assert abs(offset) <= frame  # the requirement: beep and flash within one frame
    assert abs(audio_end - video_end) <= frame  # no drift over the whole video
    assert abs(video_end - plan.duration_s) <= frame
    lufs = measure_loudness(mp4)
    print(f"integrated loudness {lufs:.2f} LUFS (target -16)")
    assert abs(lufs - (-16.0)) <= 1.0


TWO_SEGMENTS = """\
title: Loudness
resolution: [160, 96]
fps: 12
music: calm
segments:
  - prompt: A lighthouse on a cliff at dusk.
    narration: On the cliff stands a lighthouse, its lamp turning slowly.
    duration: 4
  - prompt: Waves break on the rocks below.
    narration: Below, the sea breaks white against the rocks.
    duration: 4
"""


@pytest.mark.parametrize("target", [-16.0, -23.0])
def test_final_mp4_integrated_loudness_is_on_target(tmp_path, longvid_env, target):
    config, instance, _ = longvid_env
    config.resources["mixer"] = AudioMixer(target_lufs=target)
    prompt = tmp_path / "loud.yaml"
    prompt.write_text(TWO_SEGMENTS, encoding="utf-8")

    outcome = render_prompt_file(prompt, config, instance)

    lufs = measure_loudness(Path(outcome.path))  # ffmpeg ebur128 on the MP4's AAC
    print(f"target {target} LUFS: final MP4 integrated {lufs:.2f} LUFS")
    assert math.isfinite(lufs) and abs(lufs - target) <= 1.0
