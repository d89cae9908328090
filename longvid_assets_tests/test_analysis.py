"""Measured clip analysis on real encoded clips: motion, light, colour and seam matches."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from longvid_assets.embedded.animatic import render_animatic_clip
from longvid_assets.embedded.storyboard import draw_storyboard_frame
from longvid_assets.media.analysis import (
    ClipAnalysis,
    analyze_clip,
    describe_measurements,
    seam_match,
)
from longvid_assets.resources.images import KeyframeRequest
from longvid_assets.resources.video import ClipRequest

WIDTH, HEIGHT, FPS = 128, 72, 24


def keyframe(path: Path, description: str, boundary: int) -> Path:
    request = KeyframeRequest(
        description=description,
        style="",
        width=WIDTH,
        height=HEIGHT,
        seed=5,
        boundary=boundary,
        boundaries=3,
    )
    draw_storyboard_frame(request).save(path)
    return path


def clip(out: Path, first: Path, last: Path, frames: int, zoom: float) -> Path:
    request = ClipRequest(
        first_image=first,
        last_image=last,
        prompt="",
        num_frames=frames,
        fps=FPS,
        width=WIDTH,
        height=HEIGHT,
        seed=9,
    )
    render_animatic_clip(request, out, zoom=zoom, crf=18)
    return out


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("analysis")
    k0 = keyframe(folder / "k0.png", "A red sunset over the ocean", 0)
    k1 = keyframe(folder / "k1.png", "A snowy forest at night", 1)
    other = keyframe(folder / "other.png", "A neon city street in the rain", 2)
    return {
        "k0": k0,
        "k1": k1,
        "other": other,
        "static": clip(folder / "static.mp4", k0, k0, 12, zoom=0.0),
        "moving": clip(folder / "moving.mp4", k0, k1, 12, zoom=0.1),
    }


def test_static_clip_has_no_motion_and_matching_seams(media):
    analysis = analyze_clip(media["static"], media["k0"], media["k0"], FPS)
    assert analysis.frames == 12
    assert analysis.duration_s == pytest.approx(12 / FPS)
    assert (analysis.width, analysis.height) == (WIDTH, HEIGHT)
    assert analysis.mean_motion < 0.002
    assert analysis.first_seam_match > 0.95 and analysis.last_seam_match > 0.95
    assert analysis.brightness_std < 0.01


def test_moving_clip_measures_motion(media):
    moving = analyze_clip(media["moving"], media["k0"], media["k1"], FPS)
    static = analyze_clip(media["static"], media["k0"], media["k0"], FPS)
    assert moving.mean_motion > 0.01 > static.mean_motion
    assert moving.max_motion >= moving.mean_motion
    assert moving.first_seam_match > 0.9 and moving.last_seam_match > 0.9


def test_mismatched_keyframe_scores_much_lower(media):
    matched = analyze_clip(media["moving"], media["k0"], media["k1"], FPS)
    swapped = analyze_clip(media["moving"], media["other"], media["k0"], FPS)
    assert swapped.first_seam_match < matched.first_seam_match - 0.3
    assert swapped.last_seam_match < matched.last_seam_match - 0.3


def test_stats_are_in_range_and_follow_the_picture(media):
    analysis = analyze_clip(media["static"], media["k0"], media["k0"], FPS)
    for value in (analysis.brightness, analysis.contrast, *analysis.mean_rgb):
        assert 0.0 < value < 1.0
    red, _, blue = analysis.mean_rgb
    assert red > blue, "a sunset clip is warm"
    assert analysis.colourfulness > 0.05
    assert ClipAnalysis.model_validate(analysis.model_dump()) == analysis


def test_seam_match_extremes():
    rng = np.random.default_rng(0)
    image = rng.random((36, 64, 3), dtype=np.float32)
    assert seam_match(image, image) == pytest.approx(1.0)
    assert seam_match(image, rng.random((36, 64, 3), dtype=np.float32)) < 0.3
    grey, white = np.full((36, 64, 3), 0.5, np.float32), np.ones((36, 64, 3), np.float32)
    assert seam_match(grey, white) < 0.6
    assert seam_match(image[:4, :4], image[:4, :4]) == pytest.approx(1.0)  # smaller than a block
    with pytest.raises(ValueError, match="shapes"):
        seam_match(image, image[:10])


def test_resized_keyframes_are_compared_at_clip_size(tmp_path, media):
    big = tmp_path / "big.png"
    Image.open(media["k0"]).resize((WIDTH * 3, HEIGHT * 3)).save(big)
    analysis = analyze_clip(media["static"], big, big, FPS)
    assert analysis.first_seam_match > 0.9


def test_description_reads_the_measurements(media):
    static = analyze_clip(media["static"], media["k0"], media["k0"], FPS)
    text = describe_measurements("A lighthouse at dusk.", static)
    assert text.startswith("A still,")
    assert "A lighthouse at dusk." in text and "warm" in text
    assert "Motion 0.0%/frame" in text and "seams match" in text
    mismatched = analyze_clip(media["moving"], media["other"], media["k0"], FPS)
    assert "does not match" in describe_measurements("x", mismatched)
    assert "unnamed segment" in describe_measurements("   ", static)


def test_missing_files_name_the_argument(tmp_path, media):
    with pytest.raises(ValueError, match="clip"):
        analyze_clip(tmp_path / "none.mp4", media["k0"], media["k0"], FPS)
    with pytest.raises(ValueError, match="last_keyframe"):
        analyze_clip(media["static"], media["k0"], tmp_path / "none.png", FPS)
    with pytest.raises(ValueError, match="fps"):
        analyze_clip(media["static"], media["k0"], media["k0"], 0)
