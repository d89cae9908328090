"""Animatic clips: exact frame counts, seams equal to the keyframes, streamed encoding."""

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from longvid_assets.embedded.animatic import render_animatic_clip
from longvid_assets.embedded.storyboard import draw_storyboard_frame
from longvid_assets.media.analysis import seam_match
from longvid_assets.media.probe import iter_frames, probe
from longvid_assets.resources.images import KeyframeRequest
from longvid_assets.resources.video import ClipRequest
from longvid_assets_tests.media_checks import decode_errors

WIDTH, HEIGHT = 128, 72


def keyframe(path: Path, description: str, boundary: int, size=(WIDTH, HEIGHT)) -> Path:
    request = KeyframeRequest(
        description=description,
        style="",
        width=size[0],
        height=size[1],
        seed=3,
        boundary=boundary,
        boundaries=2,
    )
    draw_storyboard_frame(request).save(path)
    return path


@pytest.fixture(scope="module")
def keyframes(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("keyframes")
    return (
        keyframe(folder / "k0.png", "A red sunset over the ocean", 0),
        keyframe(folder / "k1.png", "A snowy forest at night", 1),
    )


def clip_request(keyframes, num_frames: int, **overrides) -> ClipRequest:
    fields = dict(
        first_image=keyframes[0],
        last_image=keyframes[1],
        prompt="sunset to forest",
        num_frames=num_frames,
        fps=24,
        width=WIDTH,
        height=HEIGHT,
        seed=11,
    )
    fields.update(overrides)
    return ClipRequest(**fields)


def as_unit(pixels: np.ndarray) -> np.ndarray:
    return np.asarray(pixels, dtype=np.float32) / 255.0


def keyframe_pixels(path: Path) -> np.ndarray:
    return as_unit(Image.open(path).convert("RGB"))


@pytest.mark.parametrize("num_frames", [1, 2, 13])
def test_exact_frame_count_and_matching_seams(tmp_path, keyframes, num_frames):
    out = tmp_path / "clip.mp4"
    written = render_animatic_clip(clip_request(keyframes, num_frames), out, zoom=0.08, crf=20)
    assert written == num_frames

    info = probe(out)
    assert (info.video_codec, info.width, info.height, info.frames) == (
        "h264",
        WIDTH,
        HEIGHT,
        num_frames,
    )
    decoded = [as_unit(frame) for frame in iter_frames(out)]
    assert len(decoded) == num_frames
    assert decode_errors(out) == ""

    last = keyframe_pixels(keyframes[1])
    assert seam_match(decoded[-1], last) > 0.9
    if num_frames > 1:
        assert seam_match(decoded[0], keyframe_pixels(keyframes[0])) > 0.9


def test_in_between_frames_move_and_dissolve(tmp_path, keyframes):
    out = tmp_path / "clip.mp4"
    render_animatic_clip(clip_request(keyframes, 9), out, zoom=0.1, crf=18)
    frames = [as_unit(frame) for frame in iter_frames(out)]
    first, last = keyframe_pixels(keyframes[0]), keyframe_pixels(keyframes[1])
    middle = frames[4]
    assert np.abs(middle - first).mean() > 0.03 and np.abs(middle - last).mean() > 0.03
    steps = [np.abs(b - a).mean() for a, b in zip(frames, frames[1:], strict=False)]
    assert min(steps) > 0.0005, "every step should move"
    # The distance to the last keyframe shrinks (eased dissolve), give or take codec noise.
    distances = [np.abs(frame - last).mean() for frame in frames]
    assert all(b <= a + 0.01 for a, b in zip(distances, distances[1:], strict=False))


def test_same_seed_gives_identical_video(tmp_path, keyframes):
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    render_animatic_clip(clip_request(keyframes, 6), a, zoom=0.08, crf=20)
    render_animatic_clip(clip_request(keyframes, 6), b, zoom=0.08, crf=20)
    for frame_a, frame_b in zip(iter_frames(a), iter_frames(b), strict=True):
        assert np.array_equal(frame_a, frame_b)


def test_keyframes_of_another_size_are_resized_and_logged(tmp_path, keyframes):
    big = keyframe(tmp_path / "big.png", "A snowy forest at night", 1, size=(256, 160))
    messages: list[str] = []
    request = clip_request(keyframes, 3, last_image=big, log=messages.append)
    out = tmp_path / "clip.mp4"
    assert render_animatic_clip(request, out, zoom=0.08, crf=20) == 3
    assert probe(out).frames == 3
    assert any("256x160" in message and f"{WIDTH}x{HEIGHT}" in message for message in messages)


def test_memory_does_not_grow_with_the_frame_count(tmp_path, keyframes):
    frame_bytes = WIDTH * HEIGHT * 3
    peaks = {}
    for count in (12, 120):
        tracemalloc.start()
        render_animatic_clip(clip_request(keyframes, count), tmp_path / f"{count}.mp4", 0.08, 20)
        peaks[count] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peaks[120] < 16 * frame_bytes, f"peak {peaks[120]} B for 120 frames: not streaming"
    assert peaks[120] < peaks[12] + 4 * frame_bytes


@pytest.mark.parametrize(
    ("overrides", "zoom", "crf", "match"),
    [
        ({"num_frames": 0}, 0.08, 20, "num_frames"),
        ({"width": 127}, 0.08, 20, "width"),
        ({"height": 8}, 0.08, 20, "height"),
        ({"fps": 0}, 0.08, 20, "fps"),
        ({}, 0.9, 20, "zoom"),
        ({}, 0.08, 60, "crf"),
        ({"first_image": Path("/nonexistent/k0.png")}, 0.08, 20, "first_image"),
    ],
)
def test_bad_inputs_name_the_field(tmp_path, keyframes, overrides, zoom, crf, match):
    request = clip_request(keyframes, **{"num_frames": 4, **overrides})
    with pytest.raises(ValueError, match=match):
        render_animatic_clip(request, tmp_path / "clip.mp4", zoom=zoom, crf=crf)
