"""The external-command backend, with a real small script as the command (it writes its
video with ffmpeg): a full render, and each failure with a clear error."""

import os
import shlex
import sys
from pathlib import Path

import pytest
from PIL import Image

from longvid_assets.artifacts import CLIP_FILE
from longvid_assets.errors import BackendError, ConfigError
from longvid_assets.media.probe import probe
from longvid_assets.render import render_prompt_file
from longvid_assets.resources.command_video import CommandVideoGenerator
from longvid_assets.resources.video import ClipRequest
from longvid_assets_tests.backend_helpers import (
    TWO_SEGMENTS,
    assert_clip,
    load_with_store,
    write_config,
)

SCRIPT = Path(__file__).with_name("fake_flf2v.py")
TEMPLATE = (
    f"{shlex.quote(sys.executable)} {shlex.quote(str(SCRIPT))} --task flf2v-14B "
    "--size {width}*{height} --first_frame {first} --last_frame {last} "
    "--frame_num {frames_4k1} --prompt {prompt} --save_file {out}"
)


def command(extra: str = "", **fields) -> CommandVideoGenerator:
    return CommandVideoGenerator(command=TEMPLATE + extra, **fields)


@pytest.fixture
def request_for(tmp_path):
    def make(prompt: str = "a fox", frames: int = 12, **extra) -> ClipRequest:
        for name, colour in (("a.png", (200, 40, 40)), ("b.png", (40, 40, 200))):
            Image.new("RGB", (64, 64), colour).save(tmp_path / name)
        return ClipRequest(
            first_image=tmp_path / "a.png",
            last_image=tmp_path / "b.png",
            prompt=prompt,
            num_frames=frames,
            fps=8,
            width=64,
            height=64,
            seed=3,
            **extra,
        )

    return make


def test_command_clips_render_end_to_end(tmp_path, longvid_env):
    _, instance, store_root = longvid_env
    video = (
        "video_generator:\n  backend: command\n"
        f"  command: {TEMPLATE!r}\n  gpus: 1\n  timeout_s: 120\n"
    )
    config = load_with_store(write_config(tmp_path, {"video_generator": video}), store_root)
    prompt = tmp_path / "tiny fox.yaml"
    prompt.write_text(TWO_SEGMENTS, encoding="utf-8")

    outcome = render_prompt_file(prompt, config, instance)

    store = config.resources["store"]
    for run_id in outcome.run_ids:
        records = instance.all_logs(run_id)
        clip_events = [r for r in records if r.step_key == "segment_clips"]
        if not clip_events:
            continue
        messages = [r.user_message for r in clip_events]
        # The command line, then its output streamed into the Dagster log as it ran.
        assert any(m.startswith("command: ") and "--save_file" in m for m in messages)
        assert any(
            "[fake] task flf2v-14B, prompt: A red fox" in m or "prompt: The fox" in m
            for m in messages
        )
        materialization = next(r for r in clip_events if r.asset_materialization)
        metadata = {k: v.value for k, v in materialization.asset_materialization.metadata.items()}
        frames = metadata["frames"]
        assert metadata["backend_generated_frames"] == (frames - 1 + 3) // 4 * 4 + 1
        assert_clip(
            store.artifact_path("clips", metadata["fingerprint"], CLIP_FILE), frames, 8, (72, 64)
        )
    info = probe(Path(outcome.path))
    assert info.frames == 24 and (info.width, info.height) == (72, 64)


def test_prompt_is_one_argument_and_never_reaches_a_shell(tmp_path, request_for):
    marker = tmp_path / "pwned"
    prompt = f'fox; touch {marker} "quoted" $(whoami)'
    lines = []
    result = command().generate(request_for(prompt, log=lines.append), tmp_path / "out.mp4")
    assert result.num_frames == 12 and not marker.exists()
    assert any(line.endswith(f"prompt: {prompt}") for line in lines)
    assert_clip(tmp_path / "out.mp4", 12, 8, (64, 64))


def test_timeout_stops_the_command_and_says_how_to_fix_it(tmp_path, request_for):
    pid_file = tmp_path / "pid"
    generator = command(f" --mode sleep --pid_file {pid_file}", timeout_s=1.5)
    with pytest.raises(BackendError) as caught:
        generator.generate(request_for(), tmp_path / "out.mp4")
    assert "timed out after 1.5 s and was stopped" in str(caught.value)
    assert "video_generator.timeout_s" in str(caught.value)
    with pytest.raises(ProcessLookupError):  # the whole process group was killed
        os.kill(int(pid_file.read_text()), 0)


@pytest.mark.parametrize(
    "mode,expected",
    [
        ("fail", "command exited with code 3 after"),
        ("no-output", "command finished but wrote no video"),
        ("garbage", "does not decode as video"),
    ],
)
def test_failed_command_output_is_a_clear_error(tmp_path, request_for, mode, expected):
    with pytest.raises(BackendError) as caught:
        command(f" --mode {mode}").generate(request_for(), tmp_path / "out.mp4")
    message = str(caught.value)
    assert expected in message and "\n" not in message
    if mode == "fail":
        assert "RuntimeError: CUDA out of memory (simulated)" in message


def test_exact_frame_count_policy_refuses_another_count(tmp_path, request_for):
    with pytest.raises(BackendError, match="wrote 13 frames, expected exactly 12"):
        command(frame_count="exact").generate(request_for(), tmp_path / "out.mp4")


def test_missing_program_is_named(tmp_path, request_for):
    generator = CommandVideoGenerator(command="no-such-torchrun --save_file {out}")
    with pytest.raises(BackendError, match="'no-such-torchrun' not found"):
        generator.generate(request_for(), tmp_path / "out.mp4")


@pytest.mark.parametrize(
    "template,expected",
    [
        ("torchrun generate.py --first {first}", "must write its video to {out}"),
        ("torchrun generate.py --save_file {out} --n {nodes}", "unknown placeholder(s) {nodes}"),
        ("torchrun generate.py --prompt 'unclosed {out}", "cannot be split into arguments"),
    ],
)
def test_bad_command_templates_fail_at_config_load(tmp_path, template, expected):
    video = f"video_generator:\n  backend: command\n  command: {template!r}\n"
    with pytest.raises(ConfigError) as caught:
        load_with_store(write_config(tmp_path, {"video_generator": video}), tmp_path)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_where_and_how_long_it_runs_are_not_in_the_fingerprint():
    base = command(timeout_s=10, cwd="/tmp", gpus=8).identity()
    assert base == command(timeout_s=99, cwd="/opt", gpus=4).identity()
    assert base != command(" --mode ok").identity()
