"""Shared pieces of the rerun and sensor tests: tiny multi-segment prompts, call counters."""

from collections import Counter
from pathlib import Path

import numpy as np
import yaml

from longvid_assets.media.probe import iter_frames
from longvid_assets.resources.captioner import MeasuredCaptioner
from longvid_assets.resources.images import StoryboardImageGenerator
from longvid_assets.resources.speech import PiperSpeech
from longvid_assets.resources.video import AnimaticVideoGenerator

ANIMALS = ["fox", "owl", "hare", "deer", "crow", "wolf", "lynx", "mole", "bear", "seal"]


def tiny_prompt(segments: int = 8, variant: str = "", **edits) -> dict:
    """An explicit-segments prompt at 160×96, 8 fps, 2 s per segment.

    Every boundary keyframe is named explicitly except the last segment's closing one (it
    defaults to that segment's prompt), so a segment's `prompt` feeds only its own clip and
    caption — and, for the last segment, its closing keyframe too.
    `variant` is appended to every narration (distinct narrations for distinct renders);
    `edits` are "<index>_<field>=value" overrides, e.g. `**{"3_prompt": "..."}`.
    """
    items = []
    for i in range(segments):
        animal = ANIMALS[i % len(ANIMALS)]
        item = {
            "prompt": f"A {animal} crosses a quiet meadow, scene {i + 1}.",
            "narration": f"Here comes the {animal}{variant}.",
            "duration": 2,
        }
        if i == 0:
            item["first_keyframe"] = "A wide meadow at dawn under a pale sky."
        if i < segments - 1:
            item["last_keyframe"] = f"A {animal} standing still beside an old oak, frame {i + 1}."
        items.append(item)
    for key, value in edits.items():
        index, name = key.split("_", 1)
        items[int(index)][name] = value
    return {
        "title": "Meadow",
        "resolution": [160, 96],
        "fps": 8,
        "music": "calm",
        "seed": 3,
        "segments": items,
    }


def write_prompt(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def count_generator_calls(monkeypatch) -> Counter:
    """Count calls to each embedded generator (the model work of each stage)."""
    calls: Counter = Counter()
    targets = [
        (StoryboardImageGenerator, "generate", "image"),
        (AnimaticVideoGenerator, "generate", "video"),
        (MeasuredCaptioner, "caption", "caption"),
        (PiperSpeech, "synthesize", "speech"),
    ]
    for cls, method, label in targets:
        original = getattr(cls, method)

        def counted(self, *args, _original=original, _label=label, **kwargs):
            calls[_label] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, method, counted)
    return calls


def decoded_frames(path: Path) -> list[np.ndarray]:
    return list(iter_frames(path))


def differing_frames(old: Path, new: Path) -> list[int]:
    """Indices of frames whose decoded pixels differ (both videos must have equal length)."""
    a, b = decoded_frames(old), decoded_frames(new)
    assert len(a) == len(b), (len(a), len(b))
    return [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if not np.array_equal(x, y)]
