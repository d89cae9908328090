"""Measured clip analysis: motion, light, colour and how well the seams match the keyframes.

It runs on every clip whatever the backends, decoding one frame at a time at a small size,
so it stays cheap and its memory does not grow with the clip's length.
"""

from pathlib import Path

import av
import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

ANALYSIS_WIDTH = 160  # frames are downscaled to this width (height follows the aspect) for stats
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
SSIM_BLOCK = 8


class ClipAnalysis(BaseModel):
    """What a clip measurably shows. Values in 0-1 are fractions of full scale."""

    model_config = ConfigDict(frozen=True)

    frames: int = Field(ge=0, description="decoded video frames")
    duration_s: float = Field(ge=0, description="frames / fps")
    fps: float = Field(gt=0)
    width: int = Field(ge=0, description="coded width of the clip")
    height: int = Field(ge=0, description="coded height of the clip")
    mean_motion: float = Field(
        ge=0, le=1, description="mean abs difference between consecutive frames"
    )
    max_motion: float = Field(ge=0, le=1, description="largest frame-to-frame difference (cuts)")
    brightness: float = Field(ge=0, le=1, description="mean luma")
    brightness_std: float = Field(ge=0, le=1, description="std of per-frame mean luma (flicker)")
    contrast: float = Field(ge=0, le=1, description="mean per-frame std of luma")
    mean_rgb: tuple[float, float, float] = Field(description="mean red, green, blue")
    colourfulness: float = Field(ge=0, description="Hasler-Süsstrunk metric on a 0-1 scale")
    first_seam_match: float = Field(
        ge=0, le=1, description="similarity of the first frame to the first keyframe"
    )
    last_seam_match: float = Field(
        ge=0, le=1, description="similarity of the last frame to the last keyframe"
    )


def analyze_clip(clip: Path, first_keyframe: Path, last_keyframe: Path, fps: int) -> ClipAnalysis:
    """Decode `clip` frame by frame and measure it against its two keyframes."""
    if fps <= 0:
        raise ValueError(f"`fps` is {fps}; pass the clip's frame rate (> 0)")
    for name, path in (
        ("clip", clip),
        ("first_keyframe", first_keyframe),
        ("last_keyframe", last_keyframe),
    ):
        if not Path(path).is_file():
            raise ValueError(f"`{name}` {path} does not exist; render it before analysing")

    # 1. Stream the frames at analysis size, accumulating running sums.
    frames, width, height = 0, 0, 0
    first = previous = None
    motion_sum = motion_max = 0.0
    luma_sum = luma_sq_sum = contrast_sum = colour_sum = 0.0
    rgb_sum = np.zeros(3, dtype=np.float64)
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        size = _analysis_size(width, height)
        for frame in container.decode(stream):
            pixels = frame.to_ndarray(format="rgb24", width=size[0], height=size[1])
            rgb = pixels.astype(np.float32) / 255.0
            luma = rgb @ LUMA
            frame_luma = float(luma.mean())
            luma_sum += frame_luma
            luma_sq_sum += frame_luma**2
            contrast_sum += float(luma.std())
            rgb_sum += rgb.reshape(-1, 3).mean(axis=0)
            colour_sum += _colourfulness(rgb)
            if previous is not None:
                motion = float(np.abs(rgb - previous).mean())
                motion_sum += motion
                motion_max = max(motion_max, motion)
            else:
                first = rgb
            previous = rgb
            frames += 1
    if frames == 0:
        raise ValueError(f"`clip` {clip} has no decodable video frames; re-render it")

    # 2. Compare both ends with their keyframes.
    first_match = seam_match(first, _load(first_keyframe, size))
    last_match = seam_match(previous, _load(last_keyframe, size))

    # 3. Turn the sums into means.
    mean_luma = luma_sum / frames
    flicker = max(0.0, luma_sq_sum / frames - mean_luma**2) ** 0.5
    mean_rgb = rgb_sum / frames
    return ClipAnalysis(
        frames=frames,
        duration_s=frames / fps,
        fps=fps,
        width=width,
        height=height,
        mean_motion=motion_sum / (frames - 1) if frames > 1 else 0.0,
        max_motion=motion_max,
        brightness=mean_luma,
        brightness_std=flicker,
        contrast=contrast_sum / frames,
        mean_rgb=(float(mean_rgb[0]), float(mean_rgb[1]), float(mean_rgb[2])),
        colourfulness=colour_sum / frames,
        first_seam_match=first_match,
        last_seam_match=last_match,
    )


def _analysis_size(width: int, height: int) -> tuple[int, int]:
    if width <= ANALYSIS_WIDTH:
        return width, height
    return ANALYSIS_WIDTH, max(2, round(height * ANALYSIS_WIDTH / width / 2) * 2)


def _load(path: Path, size: tuple[int, int]) -> np.ndarray:
    with Image.open(path) as opened:
        image = opened.convert("RGB")
    if image.size != size:
        image = image.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float32) / 255.0


def _colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) on 0-1 values: ~0 grey, 0.13 moderate, 0.32+ highly colourful."""
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    spread = float(np.hypot(rg.std(), yb.std()))
    centre = float(np.hypot(rg.mean(), yb.mean()))
    return spread + 0.3 * centre


def seam_match(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM-like similarity of two HxWx3 0-1 images on 8×8 luma blocks: 1 identical, ~0 unrelated.

    Each block's SSIM is weighted down where both blocks are flat (sky), and mixed with
    1 − mean abs difference, so flat but differently coloured frames still score low.
    """
    if a.shape != b.shape:
        raise ValueError(f"seam_match got shapes {a.shape} and {b.shape}; resize to one size first")
    x, y = _blocks(a @ LUMA), _blocks(b @ LUMA)
    mean_x, mean_y = x.mean(axis=(1, 3)), y.mean(axis=(1, 3))
    var_x, var_y = x.var(axis=(1, 3)), y.var(axis=(1, 3))
    cov = ((x - mean_x[:, None, :, None]) * (y - mean_y[:, None, :, None])).mean(axis=(1, 3))
    c1, c2 = 0.01**2, 0.03**2
    ssim = ((2 * mean_x * mean_y + c1) * (2 * cov + c2)) / (
        (mean_x**2 + mean_y**2 + c1) * (var_x + var_y + c2)
    )
    structure = float(np.clip(ssim, 0.0, 1.0).mean())
    closeness = 1.0 - float(np.abs(a - b).mean())
    return float(np.clip(min(structure, closeness), 0.0, 1.0))


def _blocks(luma: np.ndarray) -> np.ndarray:
    """Crop to whole blocks and view as (rows, block, cols, block); tiny frames are one block."""
    block = min(SSIM_BLOCK, luma.shape[0], luma.shape[1])
    rows, cols = luma.shape[0] // block, luma.shape[1] // block
    return luma[: rows * block, : cols * block].reshape(rows, block, cols, block)


def describe_measurements(prompt: str, analysis: ClipAnalysis) -> str:
    """A caption from the segment prompt and the measurements, e.g.
    "A slow, bright, warm-toned shot (4.0 s): a lighthouse at dusk. Motion 0.8%/frame; seams
    match 99%/98%."
    """
    adjectives = [_pace(analysis.mean_motion), _light(analysis.brightness), _tone(analysis)]
    words = ", ".join(word for word in adjectives if word)
    article = "An" if words[:1].lower() in "aeiou" else "A"
    subject = " ".join(prompt.split()).rstrip(" .") or "an unnamed segment"
    text = (
        f"{article} {words} shot ({analysis.duration_s:.1f} s): {subject}. "
        f"Motion {analysis.mean_motion * 100:.1f}%/frame; "
        f"seams match {analysis.first_seam_match:.0%}/{analysis.last_seam_match:.0%}."
    )
    if min(analysis.first_seam_match, analysis.last_seam_match) < 0.8:
        text += " Warning: a seam does not match its keyframe."
    if analysis.max_motion > 0.25 and analysis.frames > 2:
        text += f" Contains a jump cut ({analysis.max_motion:.0%} change in one frame)."
    return text


def _pace(motion: float) -> str:
    for limit, word in ((0.002, "still"), (0.01, "slow"), (0.03, "steady"), (0.06, "lively")):
        if motion < limit:
            return word
    return "fast-moving"


def _light(brightness: float) -> str:
    for limit, word in ((0.2, "dark"), (0.4, "dim"), (0.65, "evenly lit")):
        if brightness < limit:
            return word
    return "bright"


def _tone(analysis: ClipAnalysis) -> str:
    red, green, blue = analysis.mean_rgb
    if analysis.colourfulness < 0.04:
        return "monochrome"
    if red - blue > 0.06:
        hue = "warm-toned"
    elif blue - red > 0.06:
        hue = "cool-toned"
    elif green - max(red, blue) > 0.05:
        hue = "green-tinted"
    else:
        hue = "neutral-toned"
    if analysis.colourfulness > 0.32:
        return f"vivid, {hue}"
    if analysis.colourfulness < 0.1:
        return f"muted, {hue}"
    return hue
