"""Storyboard keyframes drawn from a description's words: sky, light, silhouettes, caption.

Scene words (sunset, ocean, forest, night, city, desert, snow, mountain, fire, space, ...) pick the
sky gradient, horizon, sun or moon and silhouette layers; colour words tint the palette; every
other word hashes to a hue, so distinct descriptions give clearly distinct frames. Pure PIL/numpy,
deterministic for a given request.
"""

import colorsys
import functools
import hashlib
import math
import random
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

if TYPE_CHECKING:  # resources.images imports this module to implement its generator
    from longvid_assets.resources.images import KeyframeRequest

RGB = tuple[int, int, int]
MIN_SIDE = 16


@dataclass(frozen=True)
class Scene:
    sky: tuple[RGB, RGB] | None = None  # top of frame, horizon
    ground: tuple[RGB, RGB] | None = None  # horizon, bottom of frame
    horizon: float | None = None  # fraction of the height
    light: str | None = None  # "sun", "low_sun", "moon", "planet"
    layers: tuple[str, ...] = ()
    time: bool = False  # a time of day or weather: it sets the sky before places do


_SUNSET = Scene(sky=((60, 40, 110), (255, 150, 70)), horizon=0.64, light="low_sun", time=True)
_DAWN = Scene(sky=((90, 110, 170), (255, 190, 160)), horizon=0.66, light="low_sun", time=True)
_NIGHT = Scene(sky=((6, 8, 28), (32, 42, 86)), ground=((22, 26, 44), (8, 8, 16)), light="moon",
               layers=("stars",), time=True)
_DAY = Scene(sky=((60, 120, 200), (175, 210, 240)), light="sun", time=True)
_WATER = Scene(ground=((40, 100, 150), (10, 40, 80)), horizon=0.55, layers=("waves",))
_FOREST = Scene(ground=((40, 80, 40), (14, 34, 20)), layers=("trees",))
_CITY = Scene(ground=((70, 70, 80), (34, 34, 44)), horizon=0.72, layers=("buildings",))
_DESERT = Scene(sky=((70, 140, 210), (240, 215, 170)), ground=((225, 180, 110), (175, 115, 60)),
                light="sun", layers=("dunes",))
_SNOW = Scene(sky=((150, 170, 200), (226, 232, 242)), ground=((242, 246, 252), (196, 208, 224)),
              layers=("snowfall",))
_MOUNTAIN = Scene(horizon=0.7, layers=("mountains",))
_FIRE = Scene(sky=((40, 10, 10), (205, 75, 20)), ground=((60, 20, 10), (20, 5, 5)),
              layers=("flames",))
_SPACE = Scene(sky=((2, 2, 12), (16, 10, 42)), horizon=1.0, light="planet", layers=("stars",),
               time=True)
_STORM = Scene(sky=((48, 52, 62), (112, 116, 126)), layers=("clouds", "rain"), time=True)
_FOG = Scene(sky=((150, 156, 168), (205, 208, 214)), layers=("clouds",), time=True)
_VOLCANO = Scene(sky=_FIRE.sky, ground=_FIRE.ground, horizon=0.75, layers=("mountains", "flames"))
_FIELD = Scene(ground=((95, 150, 60), (50, 100, 40)), layers=("hills",))
_UNDERWATER = Scene(sky=((10, 60, 90), (40, 140, 160)), ground=((190, 170, 120), (120, 100, 70)),
                    horizon=0.85, light="sun", layers=("bubbles",))

SCENES: dict[str, Scene] = {
    **dict.fromkeys(["sunset", "evening"], _SUNSET),
    **dict.fromkeys(["sunrise", "dawn", "dusk", "twilight"], _DAWN),
    **dict.fromkeys(["night", "midnight", "moon", "moonlight", "dark", "starry"], _NIGHT),
    **dict.fromkeys(["day", "morning", "noon", "sunny", "sun", "summer"], _DAY),
    **dict.fromkeys(["ocean", "sea", "beach", "wave", "lake", "river", "harbor", "coast"], _WATER),
    **dict.fromkeys(["forest", "wood", "woods", "jungle", "tree", "pine"], _FOREST),
    **dict.fromkeys(["city", "street", "town", "building", "skyline", "village"], _CITY),
    **dict.fromkeys(["desert", "dune", "sand", "canyon"], _DESERT),
    **dict.fromkeys(["snow", "winter", "ice", "icy", "frozen", "arctic", "glacier"], _SNOW),
    **dict.fromkeys(["mountain", "peak", "alps", "cliff", "valley", "ridge"], _MOUNTAIN),
    **dict.fromkeys(["fire", "flame", "fiery", "burning", "blaze", "campfire"], _FIRE),
    **dict.fromkeys(["volcano", "lava", "eruption", "erupting"], _VOLCANO),
    **dict.fromkeys(["space", "star", "galaxy", "cosmos", "planet", "orbit", "nebula"], _SPACE),
    **dict.fromkeys(["rain", "storm", "thunder", "lightning", "downpour"], _STORM),
    **dict.fromkeys(["fog", "foggy", "mist", "cloud", "haze", "overcast"], _FOG),
    **dict.fromkeys(["field", "meadow", "hill", "countryside", "farm", "garden"], _FIELD),
    **dict.fromkeys(["underwater", "reef", "coral"], _UNDERWATER),
}
COLOURS: dict[str, RGB] = {
    "red": (200, 40, 40), "crimson": (170, 20, 50), "orange": (240, 130, 30),
    "amber": (255, 180, 40), "yellow": (240, 210, 50), "green": (50, 160, 70),
    "emerald": (20, 140, 90), "teal": (20, 140, 140), "turquoise": (60, 200, 200),
    "blue": (40, 80, 200), "purple": (120, 50, 170), "violet": (140, 80, 220),
    "pink": (240, 120, 170), "white": (235, 235, 235), "black": (15, 15, 15),
    "grey": (128, 128, 128), "gray": (128, 128, 128), "silver": (190, 195, 205),
    "brown": (120, 80, 40), "neon": (255, 40, 200), "golden": (230, 180, 60),
    "gold": (230, 180, 60),
}
PEOPLE = {"man", "woman", "girl", "boy", "child", "person", "hero", "traveler", "traveller",
          "robot", "astronaut", "knight", "figure", "explorer", "stranger", "soldier", "king"}
STOPWORDS = {"a", "an", "the", "of", "in", "on", "at", "over", "under", "with", "and", "to", "by",
             "from", "into", "as", "is", "are", "its", "his", "her", "their", "this", "that",
             "through", "across", "for", "while", "then", "we", "it", "slowly", "camera"}


@dataclass
class Canvas:
    width: int
    height: int
    horizon_y: int
    sky: tuple[RGB, RGB]
    ground: tuple[RGB, RGB]
    night: bool


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
        (0, 0, canvas.width - 1, canvas.height - 1), outline=(16, 16, 16),
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


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(round(x * (1 - t) + y * t) for x, y in zip(a, b, strict=True))


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
    rows[c.horizon_y :] = np.float32(c.ground[0]) * (1 - ground_t) + np.float32(
        c.ground[1]
    ) * ground_t
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


def _silhouette(c: Canvas, depth: float) -> RGB:
    """Far layers fade into the sky at the horizon; near ones are darker than the ground."""
    return _mix(_mix(c.ground[0], (0, 0, 0), 0.55), c.sky[1], depth)


def _mountains(draw: ImageDraw.ImageDraw, rng: random.Random, c: Canvas) -> None:
    for depth, lo, hi in ((0.45, 0.16, 0.36), (0.0, 0.06, 0.2)):
        points, x, peak = [], -0.1 * c.width, True
        while x < 1.1 * c.width:
            height = rng.uniform(lo, hi) if peak else rng.uniform(0.0, lo)
            points.append((x, c.horizon_y - c.height * height))
            x += c.width * rng.uniform(0.08, 0.18)
            peak = not peak
        points += [(1.1 * c.width, c.horizon_y + 1), (-0.1 * c.width, c.horizon_y + 1)]
        draw.polygon(points, fill=_silhouette(c, depth))


def _hills(draw: ImageDraw.ImageDraw, rng: random.Random, c: Canvas) -> None:
    for depth, amp in ((0.35, 0.12), (0.0, 0.06)):
        phase, freq = rng.uniform(0, 6.3), rng.uniform(1.5, 3.5)
        points = []
        for x in np.linspace(0, c.width, 33):
            rise = amp * (1 + math.sin(freq * x / c.width * 6.28 + phase)) / 2
            points.append((x, c.horizon_y - c.height * rise))
        fill = _mix(c.ground[0], c.sky[1], depth)
        draw.polygon([*points, (c.width, c.height), (0, c.height)], fill=fill)


def _trees(draw: ImageDraw.ImageDraw, rng: random.Random, c: Canvas) -> None:
    trees = sorted((rng.uniform(0, 0.08), rng.uniform(0, c.width)) for _ in range(18))
    for drop, x in trees:
        base = c.horizon_y + c.height * drop
        tall = c.height * rng.uniform(0.1, 0.28) * (1 + 3 * drop)
        fill = _mix(_silhouette(c, 0.25 - 3 * drop), (20, 60, 30), 0.3)
        half = tall * 0.22
        draw.polygon([(x, base - tall), (x - half, base), (x + half, base)], fill=fill)


def _buildings(draw: ImageDraw.ImageDraw, rng: random.Random, c: Canvas) -> None:
    x, cell = 0.0, max(2, c.width // 110)
    lit = (255, 214, 120) if c.night else _mix(c.sky[1], (255, 255, 255), 0.3)
    while x < c.width:
        wide, tall = c.width * rng.uniform(0.05, 0.11), c.height * rng.uniform(0.12, 0.42)
        top = c.horizon_y - tall
        draw.rectangle((x, top, x + wide, c.horizon_y), fill=_silhouette(c, rng.uniform(0, 0.3)))
        for wy in np.arange(top + cell * 2, c.horizon_y - cell * 2, cell * 3):
            for wx in np.arange(x + cell, x + wide - cell * 2, cell * 2.5):
                if rng.random() < 0.35:
                    draw.rectangle((wx, wy, wx + cell - 1, wy + cell - 1), fill=lit)
        x += wide + c.width * rng.uniform(0.0, 0.02)


def _waves(draw: ImageDraw.ImageDraw, rng: random.Random, c: Canvas) -> None:
    crest = _mix(c.ground[0], (255, 255, 255), 0.35)
    span = c.height - c.horizon_y
    for i in range(1, 14):
        y = c.horizon_y + span * (i / 14) ** 1.6
        length = c.width * 0.04 * (1 + i / 3)
        for _ in range(6):
            x = rng.uniform(-length, c.width)
            draw.line((x, y, x + length, y), fill=crest, width=max(1, round(i * c.height / 1400)))


def _dunes(draw: ImageDraw.ImageDraw, rng: random.Random, c: Canvas) -> None:
    span = c.height - c.horizon_y
    for i in range(3):
        top, phase = c.horizon_y + span * i / 3, rng.uniform(0, 6.3)
        points = [(x, top + span * 0.12 * math.sin(x / c.width * 7 + phase)) for x in
                  np.linspace(0, c.width, 25)]
        fill = _mix(c.ground[0], c.ground[1], 0.15 + 0.3 * i)
        draw.polygon([*points, (c.width, c.height), (0, c.height)], fill=fill)


def _flames(draw: ImageDraw.ImageDraw, rng: random.Random, c: Canvas) -> None:
    for _ in range(9):
        x, wide = rng.uniform(0, c.width), c.width * rng.uniform(0.04, 0.09)
        tall = c.height * rng.uniform(0.2, 0.45)
        for scale, fill in ((1.0, (235, 90, 20)), (0.55, (255, 200, 60))):
            w, t = wide * scale, tall * scale
            draw.polygon([(x - w, c.height), (x, c.height - t), (x + w, c.height)], fill=fill)


def _stars(draw: ImageDraw.ImageDraw, rng: random.Random, c: Canvas) -> None:
    count = max(8, c.width * c.height // 1800)
    for _ in range(count):
        tone = rng.randint(150, 255)
        draw.point((rng.uniform(0, c.width), rng.uniform(0, c.horizon_y)), fill=(tone, tone, tone))


def _snowfall(draw: ImageDraw.ImageDraw, rng: random.Random, c: Canvas) -> None:
    size = max(1.0, c.height / 240)
    for _ in range(max(8, c.width * c.height // 1500)):
        x, y = rng.uniform(0, c.width), rng.uniform(0, c.height)
        draw.ellipse((x, y, x + size, y + size), fill=(250, 250, 255))


def _clouds(draw: ImageDraw.ImageDraw, rng: random.Random, c: Canvas) -> None:
    fill = _mix(c.sky[1], (235, 235, 240), 0.5)
    for _ in range(4):
        cx, cy = rng.uniform(0, c.width), rng.uniform(0.05, 0.7) * c.horizon_y
        for _ in range(4):
            rx, ry = c.width * rng.uniform(0.04, 0.09), c.height * rng.uniform(0.03, 0.06)
            x, y = cx + rng.uniform(-2, 2) * rx, cy + rng.uniform(-0.5, 0.5) * ry
            draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=fill)


def _rain(draw: ImageDraw.ImageDraw, rng: random.Random, c: Canvas) -> None:
    length = c.height * 0.05
    for _ in range(max(8, c.width * c.height // 900)):
        x, y = rng.uniform(0, c.width), rng.uniform(0, c.height)
        draw.line((x, y, x - length * 0.3, y + length), fill=(170, 180, 200))


def _bubbles(draw: ImageDraw.ImageDraw, rng: random.Random, c: Canvas) -> None:
    for _ in range(24):
        x, y = rng.uniform(0, c.width), rng.uniform(0, c.height)
        r = c.height * rng.uniform(0.004, 0.02)
        draw.ellipse((x - r, y - r, x + r, y + r), outline=(200, 235, 245))


def _figure(draw: ImageDraw.ImageDraw, rng: random.Random, c: Canvas) -> None:
    tall = c.height * 0.2
    feet = c.horizon_y + (c.height - c.horizon_y) * 0.35
    x, head = c.width * rng.choice((0.3, 0.62, 0.7)), tall * 0.16
    fill = (18, 18, 22)
    draw.ellipse((x - head / 2, feet - tall, x + head / 2, feet - tall + head), fill=fill)
    shoulders = feet - tall + head * 1.1
    draw.polygon([(x - tall * 0.13, shoulders), (x + tall * 0.13, shoulders),
                  (x + tall * 0.09, feet), (x - tall * 0.09, feet)], fill=fill)


LAYERS = {
    "mountains": _mountains, "hills": _hills, "trees": _trees, "buildings": _buildings,
    "waves": _waves, "dunes": _dunes, "flames": _flames, "stars": _stars,
    "snowfall": _snowfall, "clouds": _clouds, "rain": _rain, "bubbles": _bubbles,
}


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
    lines: list[str] = []
    for word in text.split():
        while font.getlength(word) > max_width and len(word) > 1:  # hard-break a long word
            cut = max(1, int(len(word) * max_width / font.getlength(word)))
            lines.append(word[:cut])
            word = word[cut:]
        if lines and font.getlength(f"{lines[-1]} {word}") <= max_width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        while lines[-1] and font.getlength(lines[-1] + "...") > max_width:
            lines[-1] = lines[-1][:-1]
        lines[-1] += "..."
    return lines


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
