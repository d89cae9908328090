"""Scenery for storyboard frames: scene and colour tables, and the silhouette layers.

`storyboard.py` picks a `Scene` from a description's words and draws its `LAYERS` on a `Canvas`.
"""

import math
import random
from dataclasses import dataclass

import numpy as np
from PIL import ImageDraw

RGB = tuple[int, int, int]


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
_NIGHT = Scene(
    sky=((6, 8, 28), (32, 42, 86)),
    ground=((22, 26, 44), (8, 8, 16)),
    light="moon",
    layers=("stars",),
    time=True,
)
_DAY = Scene(sky=((60, 120, 200), (175, 210, 240)), light="sun", time=True)
_WATER = Scene(ground=((40, 100, 150), (10, 40, 80)), horizon=0.55, layers=("waves",))
_FOREST = Scene(ground=((40, 80, 40), (14, 34, 20)), layers=("trees",))
_CITY = Scene(ground=((70, 70, 80), (34, 34, 44)), horizon=0.72, layers=("buildings",))
_DESERT = Scene(
    sky=((70, 140, 210), (240, 215, 170)),
    ground=((225, 180, 110), (175, 115, 60)),
    light="sun",
    layers=("dunes",),
)
_SNOW = Scene(
    sky=((150, 170, 200), (226, 232, 242)),
    ground=((242, 246, 252), (196, 208, 224)),
    layers=("snowfall",),
)
_MOUNTAIN = Scene(horizon=0.7, layers=("mountains",))
_FIRE = Scene(
    sky=((40, 10, 10), (205, 75, 20)), ground=((60, 20, 10), (20, 5, 5)), layers=("flames",)
)
_SPACE = Scene(
    sky=((2, 2, 12), (16, 10, 42)), horizon=1.0, light="planet", layers=("stars",), time=True
)
_STORM = Scene(sky=((48, 52, 62), (112, 116, 126)), layers=("clouds", "rain"), time=True)
_FOG = Scene(sky=((150, 156, 168), (205, 208, 214)), layers=("clouds",), time=True)
_VOLCANO = Scene(sky=_FIRE.sky, ground=_FIRE.ground, horizon=0.75, layers=("mountains", "flames"))
_FIELD = Scene(ground=((95, 150, 60), (50, 100, 40)), layers=("hills",))
_UNDERWATER = Scene(
    sky=((10, 60, 90), (40, 140, 160)),
    ground=((190, 170, 120), (120, 100, 70)),
    horizon=0.85,
    light="sun",
    layers=("bubbles",),
)

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
    "red": (200, 40, 40),
    "crimson": (170, 20, 50),
    "orange": (240, 130, 30),
    "amber": (255, 180, 40),
    "yellow": (240, 210, 50),
    "green": (50, 160, 70),
    "emerald": (20, 140, 90),
    "teal": (20, 140, 140),
    "turquoise": (60, 200, 200),
    "blue": (40, 80, 200),
    "purple": (120, 50, 170),
    "violet": (140, 80, 220),
    "pink": (240, 120, 170),
    "white": (235, 235, 235),
    "black": (15, 15, 15),
    "grey": (128, 128, 128),
    "gray": (128, 128, 128),
    "silver": (190, 195, 205),
    "brown": (120, 80, 40),
    "neon": (255, 40, 200),
    "golden": (230, 180, 60),
    "gold": (230, 180, 60),
}
PEOPLE = {
    "man",
    "woman",
    "girl",
    "boy",
    "child",
    "person",
    "hero",
    "traveler",
    "traveller",
    "robot",
    "astronaut",
    "knight",
    "figure",
    "explorer",
    "stranger",
    "soldier",
    "king",
}
STOPWORDS = {
    "a",
    "an",
    "the",
    "of",
    "in",
    "on",
    "at",
    "over",
    "under",
    "with",
    "and",
    "to",
    "by",
    "from",
    "into",
    "as",
    "is",
    "are",
    "its",
    "his",
    "her",
    "their",
    "this",
    "that",
    "through",
    "across",
    "for",
    "while",
    "then",
    "we",
    "it",
    "slowly",
    "camera",
}


@dataclass
class Canvas:
    width: int
    height: int
    horizon_y: int
    sky: tuple[RGB, RGB]
    ground: tuple[RGB, RGB]
    night: bool


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(round(x * (1 - t) + y * t) for x, y in zip(a, b, strict=True))


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
        points = [
            (x, top + span * 0.12 * math.sin(x / c.width * 7 + phase))
            for x in np.linspace(0, c.width, 25)
        ]
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
    draw.polygon(
        [
            (x - tall * 0.13, shoulders),
            (x + tall * 0.13, shoulders),
            (x + tall * 0.09, feet),
            (x - tall * 0.09, feet),
        ],
        fill=fill,
    )


LAYERS = {
    "mountains": _mountains,
    "hills": _hills,
    "trees": _trees,
    "buildings": _buildings,
    "waves": _waves,
    "dunes": _dunes,
    "flames": _flames,
    "stars": _stars,
    "snowfall": _snowfall,
    "clouds": _clouds,
    "rain": _rain,
    "bubbles": _bubbles,
}
