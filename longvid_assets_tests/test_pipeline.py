"""Layer 3: materialize every asset for a 3-segment prompt into a temporary instance."""

from pathlib import Path

from dagster import AssetKey

from longvid_assets.media.probe import probe
from longvid_assets.render import render_prompt_file
from longvid_assets_tests.media_checks import audio_samples, decode_errors, rms_dbfs

THREE_SEGMENTS = """\
title: Three scenes
resolution: [320, 192]
fps: 12
music: calm
segments:
  - prompt: A red fox wakes in a snowy forest at dawn.
    narration: At dawn, a red fox wakes beneath the pines.
    duration: 3.5
  - prompt: The fox trots across a frozen lake under a pale blue sky.
    narration: It crosses the frozen lake, careful and quick.
    duration: 3
  - prompt: Night falls and the fox curls up under the glowing moon.
    narration: By nightfall it sleeps under a silver moon.
    duration: 4.25
"""

STAGES = [
    "segment_plan",
    "keyframe_images",
    "segment_clips",
    "clip_captions",
    "audio_tracks",
    "final_video",
]


def test_three_segment_render_end_to_end(tmp_path, longvid_env):
    config, instance, store_root = longvid_env
    prompt = tmp_path / "three scenes.yaml"
    prompt.write_text(THREE_SEGMENTS, encoding="utf-8")

    outcome = render_prompt_file(prompt, config, instance)

    plan, out = outcome.plan, Path(outcome.path)
    assert len(plan.segments) == 3
    assert out.is_file() and out.is_relative_to(store_root)
    info = probe(out)
    # Streams: H.264 video, AAC audio, a soft subtitle track, one chapter per segment.
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert info.subtitle_codecs == ["mov_text"]
    assert info.chapters == 3
    # Size, rate, and length = the planned sum within one frame.
    assert (info.width, info.height) == (320, 192) and round(info.fps) == 12
    planned = 3.5 + 3 + 4.25
    assert abs(info.frames / 12 - planned) <= 1 / 12
    assert abs(info.duration_s - planned) <= 1 / 12
    assert decode_errors(out) == ""
    # Narration is clearly above silence during each segment's narration window.
    samples, rate = audio_samples(out)
    for seg in plan.segments:
        start = plan.start_s(seg.index) + 0.4
        window = samples[int(start * rate) : int((start + 1.5) * rate)]
        assert rms_dbfs(window) > -35, f"segment {seg.key} narration is too quiet"
    # Subtitles beside the MP4, timed inside the video.
    srt = Path(outcome.subtitles).read_text(encoding="utf-8")
    assert "red fox" in srt and srt.count("-->") >= 3
    # Asset checks ran per segment and passed.
    assert len(outcome.checks) == 9 and all(outcome.checks.values()), outcome.checks
    # Every stage's materializations name their backend and fingerprint.
    for stage in STAGES:
        records = instance.fetch_materializations(AssetKey(stage), limit=10).records
        assert records, stage
        for record in records:
            metadata = record.asset_materialization.metadata
            assert metadata["backend"].value and len(metadata["fingerprint"].value) == 32
            assert metadata["tier"].value == "embedded"


def test_second_render_is_all_cached(tmp_path, longvid_env):
    config, instance, _ = longvid_env
    prompt = tmp_path / "again.yaml"
    prompt.write_text(THREE_SEGMENTS, encoding="utf-8")
    first = render_prompt_file(prompt, config, instance)
    second = render_prompt_file(prompt, config, instance)
    assert second.built_steps == 0 and second.cached_steps == first.built_steps + first.cached_steps
    assert second.final.fingerprint == first.final.fingerprint
