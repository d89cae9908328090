"""Layer 1: the definitions load, every job resolves, bad configs fail in one clear line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from longvid_assets.config import load_config
from longvid_assets.definitions import build_definitions
from longvid_assets.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_definitions_load_and_jobs_resolve():
    defs = build_definitions(load_config("default"))
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {
        "segment_plan",
        "keyframe_images",
        "segment_clips",
        "clip_captions",
        "audio_tracks",
        "final_video",
    }
    for name in ("plan_job", "segment_job", "render_job"):
        assert defs.resolve_job_def(name) is not None
    for key in graph.get_all_asset_keys():
        assert graph.get(key).partitions_def is not None, f"{key} is not partitioned"


def test_dagster_definitions_validate_cli():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "definitions",
            "validate",
            "-m",
            "longvid_assets.definitions",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "DAGSTER_HOME": ""},
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "section,expected",
    [
        (
            "video_generator:\n  backend: sora9\n",
            "video_generator.backend 'sora9' is unknown — choose one of: animatic",
        ),
        ("video_generator:\n  backend: animatic\n  zoom: lots\n", "video_generator (animatic)"),
        ("render:\n  fps: 500\n", "render.fps"),
        ("render:\n  resolution: [641, 360]\n", "odd"),
    ],
)
def test_bad_config_fails_at_load_with_one_line(tmp_path, section, expected):
    base = (ROOT / "configs" / "default.yaml").read_text()
    key = section.split(":")[0]
    # Replace the section named in `section` with the bad one.
    kept = []
    skipping = False
    for line in base.splitlines():
        if line and not line.startswith((" ", "#")):
            skipping = line.startswith(f"{key}:")
        if not skipping:
            kept.append(line)
    path = tmp_path / "bad.yaml"
    path.write_text("\n".join(kept) + "\n" + section)
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    message = str(caught.value)
    assert str(path) in message and expected in message and "\n" not in message


def test_unknown_config_name_lists_choices():
    with pytest.raises(ConfigError, match="config 'nope' not found — use one of: .*default"):
        load_config("nope")
