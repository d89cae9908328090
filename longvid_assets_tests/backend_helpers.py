"""Helpers for the production-backend tests: a YAML config from `configs/default.yaml` with
some sections replaced, a tiny two-segment prompt, and checks of a rendered clip."""

from pathlib import Path

import numpy as np

from longvid_assets.media.probe import iter_frames, probe

ROOT = Path(__file__).resolve().parent.parent

# 72x64 is snapped to 64x64 for the models (multiples of 16) and fitted back.
TWO_SEGMENTS = """\
title: Tiny fox
resolution: [72, 64]
fps: 8
music: none
seed: 5
segments:
  - prompt: A red fox wakes in the snow.
    narration: A fox wakes.
    duration: 2
  - prompt: The fox curls up to sleep.
    narration: It sleeps.
    duration: 1
"""


def write_config(folder: Path, sections: dict[str, str], name: str = "backends") -> Path:
    """`configs/default.yaml` with each top-level section named in `sections` replaced by
    its YAML text (e.g. {"video_generator": "video_generator:\\n  backend: ...\\n"})."""
    kept, skipping = [], False
    for line in (ROOT / "configs" / "default.yaml").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith((" ", "#")):
            skipping = line.split(":")[0] in sections
        if not skipping:
            kept.append(line)
    text = "\n".join(kept) + "\n\n" + "\n".join(sections.values())
    path = Path(folder) / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load_with_store(path: Path, store_root: Path):
    from longvid_assets.config import load_config
    from longvid_assets.resources.store import LocalArtifactStore

    config = load_config(str(path))
    config.resources["store"] = LocalArtifactStore(root=str(store_root))
    return config


def assert_clip(path: Path, frames: int, fps: int, size: tuple[int, int]) -> list[np.ndarray]:
    """H.264, exact frame count, rate and size; finite, non-constant pixels that change."""
    info = probe(path)
    assert info.video_codec == "h264"
    assert info.frames == frames, (info.frames, frames)
    assert round(info.fps) == fps
    assert (info.width, info.height) == size
    decoded = list(iter_frames(path))
    assert len(decoded) == frames
    stack = np.stack(decoded).astype(np.float32)
    assert np.isfinite(stack).all()
    assert stack.std() > 1.0, "the clip is a constant colour"
    return decoded
