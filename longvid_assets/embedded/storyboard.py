"""Storyboard keyframes drawn from a description's words: sky, light, silhouettes, caption.

Scene words (sunset, ocean, forest, night, city, desert, snow, mountain, fire, space, ...) pick the
sky gradient, horizon, sun or moon and silhouette layers; colour words tint the palette; every
other word hashes to a hue, so distinct descriptions give clearly distinct frames. Pure PIL/numpy,
deterministic for a given request.
"""

import colorsys
import functools
import hashlib
import random
import re
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

from longvid_assets.embedded.scenery import (
    COLOURS,
    LAYERS,
    PEOPLE,
    RGB,
    SCENES,
    STOPWORDS,
    Canvas,
    Scene,
    _figure,
    _mix,
)

MIN_SIDE = 16

if TYPE_CHECKING:  # resources.images imports this module to implement its generator
    from longvid_assets.resources.images import KeyframeRequest


def draw_storyboard_frame(request: "KeyframeRequest") -> Image.Image:
    """A readable storyboard keyframe of exactly `request.width`×`request.height`, RGB."""
    _check_request(request)
    words = _words(request.description)
    digest = hashlib.blake2b(request.description.strip().lower().encode(), digest_size=8)
    rng = random.Random(f"{request.seed}:{digest.hexdigest()}")

    # 1. Palette and composition from the words.
    scene, accent, people = _compose(words, request.description)
    canvas = _canvas(scene, accent, request.width, request.height)

    # 2. Sky and ground gradients with the light source, in numpy.
    image = Image.fromarray(_backdrop(canvas, scene.light, rng, accent))

    # 3. Silhouettes, back to front.
    draw = ImageDraw.Draw(image)
    for layer in scene.layers:
        LAYERS[layer](draw, rng, canvas)
    if people and canvas.horizon_y < canvas.height:
        _figure(draw, rng, canvas)
    image = _apply_style(image, request.style)

    # 4. Text: caption box, boundary badge, title on the opening frame.
    _caption(image, request.description)
    _badge(image, request.boundary, request.boundaries)
    if request.boundary == 0 and request.title:
        _title(image, request.title)
    ImageDraw.Draw(image).rectangle(
        (0, 0, canvas.width - 1, canvas.height - 1),
        outline=(16, 16, 16),
        width=max(1, canvas.height // 180),
    )
    return image


def _check_request(request: "KeyframeRequest") -> None:
    for name in ("width", "height"):
        value = getattr(request, name)
        if not isinstance(value, int) or value < MIN_SIDE:
            raise ValueError(f"`{name}` is {value!r}; pass an integer >= {MIN_SIDE} pixels")
    if request.boundary < 0:
        raise ValueError(f"`boundary` is {request.boundary}; pass a boundary index >= 0")


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z]+", text.lower()) if w not in STOPWORDS]


def _lookup(word: str, table: dict):
    """The entry for a word or its plural/adjective form: waves, dunes, snowy, misty."""
    for form in (word, word[:-1], word[:-2]):
        if form in table and (form == word or word.endswith(("s", "es", "y"))):
            return table[form]
    return None


def _compose(words: list[str], description: str) -> tuple[Scene, RGB | None, bool]:
    """Merge the scenes named: the first that sets a field wins, the sky and light taken first
    from times of day and weather (night, sunset, fog) and the ground and horizon from places."""
    accent, unknown, named = None, [], []
    for word in words:
        scene, colour = _lookup(word, SCENES), _lookup(word, COLOURS)
        if colour is not None and accent is None:
            accent = colour
        if scene is None:
            unknown.append(word)
        elif scene not in named:
            named.append(scene)
    times = [scene for scene in named if scene.time]
    places = [scene for scene in named if not scene.time]
    sky = next((scene.sky for scene in times + places if scene.sky), None)
    light = next((scene.light for scene in times + places if scene.light), None)
    ground = next((scene.ground for scene in places + times if scene.ground), None)
    horizon = next((s.horizon for s in places + times if s.horizon is not None), None)
    layers: list[str] = []
    for scene in named:
        layers += [layer for layer in scene.layers if layer not in layers]
    hue = _hue(" ".join(sorted(set(unknown))) or description)
    if sky is None:
        sky = (_hsv(hue, 0.55, 0.42), _hsv(hue + 0.08, 0.35, 0.88))
    if ground is None:
        ground = (_hsv(hue + 0.45, 0.45, 0.42), _hsv(hue + 0.5, 0.5, 0.18))
    if horizon is None:
        horizon = 0.55 + 0.2 * _hue(description + "#horizon")
    if not layers:
        layers = [("hills", "trees", "buildings", "mountains")[int(hue * 4) % 4]]
    people = any(word in PEOPLE for word in words)
    return Scene(sky, ground, horizon, light, tuple(layers[:4])), accent, people


def _hue(text: str) -> float:
    digest = hashlib.blake2b(text.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") / 2**32


def _hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return round(r * 255), round(g * 255), round(b * 255)


def _canvas(scene: Scene, accent: RGB | None, width: int, height: int) -> Canvas:
    sky, ground = scene.sky, scene.ground
    if accent is not None:
        sky = (_mix(sky[0], accent, 0.35), _mix(sky[1], accent, 0.35))
        ground = (_mix(ground[0], accent, 0.2), ground[1])
    night = sum(sky[0]) < 150
    return Canvas(width, height, round(height * scene.horizon), sky, ground, night)


def _backdrop(c: Canvas, light: str | None, rng: random.Random, accent: RGB | None) -> np.ndarray:
    rows = np.empty((c.height, 3), dtype=np.float32)
    sky_t = np.linspace(0.0, 1.0, max(c.horizon_y, 1), dtype=np.float32)[: c.horizon_y, None]
    rows[: c.horizon_y] = np.float32(c.sky[0]) * (1 - sky_t) + np.float32(c.sky[1]) * sky_t
    ground_t = np.linspace(0.0, 1.0, c.height - c.horizon_y, dtype=np.float32)[:, None]
    rows[c.horizon_y :] = (
        np.float32(c.ground[0]) * (1 - ground_t) + np.float32(c.ground[1]) * ground_t
    )
    image = np.repeat(rows[:, None, :], c.width, axis=1)
    if light is None:
        return image.clip(0, 255).astype(np.uint8)

    radius, cx, cy, colour = _light_source(c, light, rng, accent)
    ys, xs = np.ogrid[: c.height, : c.width]
    dist = np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2, dtype=np.float32)
    glow = np.exp(-((dist / (radius * 4.0)) ** 2))[..., None] * (0.25 if light == "moon" else 0.5)
    image += glow * (np.float32(colour) - image * 0.5)
    disc = np.clip(radius - dist, 0.0, 1.0)
    if light == "moon":  # a crescent: cut a second, offset disc out of the first
        shadow = np.sqrt((xs - cx - radius * 0.45) ** 2 + (ys - cy + radius * 0.2) ** 2)
        disc *= np.clip(shadow - radius * 0.85, 0.0, 1.0)
    if light == "planet":  # shade from the top-left
        shade = np.clip(1.1 - ((xs - cx) + (ys - cy)) / (2.4 * radius), 0.25, 1.0)
        colour_map = np.float32(colour) * shade[..., None]
    else:
        colour_map = np.float32(colour)
    if light != "planet":
        disc[c.horizon_y :] = 0.0  # the ground hides a low sun
    image = image * (1 - disc[..., None]) + colour_map * disc[..., None]
    return image.clip(0, 255).astype(np.uint8)


def _light_source(
    c: Canvas, light: str, rng: random.Random, accent: RGB | None
) -> tuple[float, float, float, RGB]:
    """Radius, centre and colour of the sun, moon or planet."""
    side = min(c.width, c.height)
    cx = c.width * rng.uniform(0.2, 0.8)
    if light == "planet":
        colour = accent or _hsv(rng.random(), 0.5, 0.85)
        return side * 0.28, cx, c.height * rng.uniform(0.55, 0.8), colour
    radius = side * 0.075
    if light == "low_sun":
        return radius, cx, c.horizon_y - radius * 0.35, (255, 228, 150)
    cy = c.horizon_y * rng.uniform(0.25, 0.55)
    return radius, cx, cy, (236, 236, 220) if light == "moon" else (255, 228, 150)


def _apply_style(image: Image.Image, style: str) -> Image.Image:
    words = set(_words(style or ""))
    if words & {"noir", "monochrome", "grayscale", "greyscale", "sketch", "pencil", "charcoal"}:
        return image.convert("L").convert("RGB")
    if words & {"sepia", "vintage", "retro"}:
        return ImageOps.colorize(image.convert("L"), black=(20, 12, 4), white=(255, 232, 190))
    if words & {"pastel", "watercolor", "watercolour", "soft", "dreamy"}:
        return Image.blend(image, Image.new("RGB", image.size, (245, 240, 235)), 0.3)
    if words & {"neon", "vivid", "cyberpunk", "saturated", "comic"}:
        return ImageEnhance.Color(image).enhance(1.6)
    return image


@functools.lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _wrap(text: str, font, max_width: float, max_lines: int) -> list[str]:
    """Greedy word wrap into at most `max_lines` lines, the last ending in "..." when text is
    left over. The work is bounded by the box, not by the text: wrapping stops as soon as
    the box is full, and a word too long for a line is cut by a binary search over at most
    one line's worth of characters (never measured whole), so a 100 KB title costs what a
    short one does."""
    cap = max(1, int(max_width))  # a line holds at most this many characters (>= 1 px each)
    lines: list[str] = []
    for match in re.finditer(r"\S+", text):
        word = match.group()
        while word and len(lines) <= max_lines:
            fits = len(word) <= cap
            if fits and lines and font.getlength(f"{lines[-1]} {word}") <= max_width:
                lines[-1] = f"{lines[-1]} {word}"
                word = ""
            elif fits and font.getlength(word) <= max_width:
                lines.append(word)
                word = ""
            else:  # hard-break a long word at the widest prefix that fits
                cut = _widest_prefix(word[:cap], font, max_width)
                lines.append(word[:cut])
                word = word[cut:]
        if len(lines) > max_lines:
            lines = lines[:max_lines]
            last = lines[-1]
            lines[-1] = last[: _widest_prefix(last, font, max_width, suffix="...", least=0)]
            lines[-1] += "..."
            break
    return lines


def _widest_prefix(text: str, font, max_width: float, suffix: str = "", least: int = 1) -> int:
    """The longest k with `text[:k] + suffix` no wider than `max_width` (at least `least`),
    in log2(len(text)) measurements."""
    low, high = least, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if font.getlength(text[:middle] + suffix) <= max_width:
            low = middle
        else:
            high = middle - 1
    return low


def _shade(image: Image.Image, box: tuple[float, ...], alpha: int) -> None:
    x0, y0, x1, y1 = (max(0, round(v)) for v in box)
    x1, y1 = min(x1, image.width), min(y1, image.height)
    if x1 > x0 and y1 > y0:
        image.paste((0, 0, 0), (x0, y0, x1, y1), Image.new("L", (x1 - x0, y1 - y0), alpha))


def _caption(image: Image.Image, text: str) -> None:
    size = max(7, round(image.height * 0.055))
    font, margin, pad = _font(size), max(2, image.width // 40), max(1, size // 3)
    line_h = round(size * 1.2)
    max_lines = max(1, int(image.height * 0.4 - 2 * pad) // line_h)
    lines = _wrap(" ".join(text.split()), font, image.width - 2 * (margin + pad), max_lines)
    if not lines:
        return
    top = image.height - margin - 2 * pad - line_h * len(lines)
    _shade(image, (margin, top, image.width - margin, image.height - margin), 150)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((margin + pad, top + pad + i * line_h), line, font=font, fill=(245, 245, 245))


def _badge(image: Image.Image, boundary: int, boundaries: int) -> None:
    size = max(7, round(image.height * 0.045))
    font, margin, pad = _font(size), max(2, image.width // 40), max(1, size // 4)
    label = f"KEY {boundary:02d}/{max(boundaries - 1, boundary):02d}"
    width = font.getlength(label)
    _shade(image, (margin, margin, margin + width + 2 * pad, margin + size * 1.2 + 2 * pad), 170)
    ImageDraw.Draw(image).text((margin + pad, margin + pad), label, font=font, fill=(255, 220, 90))


def _title(image: Image.Image, title: str) -> None:
    size = max(8, round(image.height * 0.09))
    font, line_h = _font(size), round(size * 1.25)
    lines = _wrap(" ".join(title.split()), font, image.width * 0.86, 2)
    top = image.height * 0.3 - line_h * len(lines) / 2
    _shade(image, (0, top - size * 0.4, image.width, top + line_h * len(lines) + size * 0.4), 120)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        x, y = (image.width - font.getlength(line)) / 2, top + i * line_h
        draw.text((x + 1, y + 1), line, font=font, fill=(0, 0, 0))
        draw.text((x, y), line, font=font, fill=(255, 255, 255))
