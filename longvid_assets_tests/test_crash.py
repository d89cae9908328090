"""A killed `longvid render` never blocks anything: `kill -9` of its process group at ten
moments (timed ones, and inside a keyframe write, a clip write and the audio mix), then a
re-run and a render of another prompt both complete, the video is frame-identical to an
uninterrupted render, and no temp file, unfinished run or claimed pool slot remains. And
two renders started together on a fresh DAGSTER_HOME both succeed."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from dagster import DagsterInstance, DagsterRunStatus

from longvid_assets.media.probe import probe
from longvid_assets.resources.store import TEMP_PREFIX
from longvid_assets_tests.rerun_helpers import tiny_prompt, write_prompt

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups, flock"),
]
SEGMENTS = 6
TIMED = [0.15, 0.3, 0.42, 0.55, 0.67, 0.78, 0.88]  # fractions of an uninterrupted render
WATCHED = {  # a moment inside a write: the first temp path matching, under the store
    "keyframe write": lambda path: "keyframes" in path.parts and path.is_file(),
    "clip write": lambda path: "clips" in path.parts and path.is_file(),
    "audio mix": lambda path: "-mix-" in path.name and path.is_dir(),
}


def start_render(home: Path, prompt: Path) -> subprocess.Popen:
    """`longvid render` in its own process group (as a terminal would run it)."""
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    command = [sys.executable, "-m", "longvid_assets.cli", "render", str(prompt)]
    return subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def render(home: Path, prompt: Path, timeout_s: float = 300) -> Path:
    process = start_render(home, prompt)
    try:
        out, err = process.communicate(timeout=timeout_s)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, err[-2000:]
    return Path(out.strip().splitlines()[-1])


def frames_of(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def temp_leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob(f"{TEMP_PREFIX}*")] if root.exists() else []


@pytest.fixture(scope="module")
def prompts(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("prompts")
    main = write_prompt(folder / "meadow.yaml", tiny_prompt(SEGMENTS))
    other = write_prompt(folder / "other.yaml", tiny_prompt(1, variant=" again"))
    return main, other


@pytest.fixture(scope="module")
def reference(tmp_path_factory, prompts) -> tuple[list[np.ndarray], float]:
    """The uninterrupted render's frames, and how long the command took."""
    home = tmp_path_factory.mktemp("reference-home")
    started = time.monotonic()
    output = render(home, prompts[0])
    return frames_of(output), time.monotonic() - started


def kill_group(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def wait_for_watched(process: subprocess.Popen, store: Path, matches, timeout_s: float) -> bool:
    """Poll (1 ms) until a temp path under the store matches; False if the render ended."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        for path in temp_leftovers(store):
            if matches(path):
                return True
        time.sleep(0.001)
    return False


@pytest.mark.parametrize("moment", [*(f"{f:.0%} in" for f in TIMED), *WATCHED])
def test_a_killed_render_never_blocks_the_next(tmp_path, prompts, reference, moment):
    frames, wall = reference
    home, store = tmp_path / "home", tmp_path / "home" / "longvid"
    # 1. Kill -9 the whole process group at the moment (a watched write may be missed by
    #    the poll: try again with a fresh home, up to three times).
    for _attempt in range(3):
        process = start_render(home, prompts[0])
        if moment in WATCHED:
            caught = wait_for_watched(process, store, WATCHED[moment], timeout_s=wall * 3)
        else:
            time.sleep(wall * float(moment.split("%")[0]) / 100)
            caught = process.poll() is None
        if caught:
            break
        process.wait(timeout=300)
        subprocess.run(["rm", "-rf", str(home)], check=True)
    assert caught, f"the render ended before the moment '{moment}' came"
    kill_group(process)
    assert process.returncode == -signal.SIGKILL
    # 2. A re-run completes, frame for frame the uninterrupted render; so does another prompt.
    output = render(home, prompts[0])
    ours = frames_of(output)
    assert len(ours) == len(frames) == SEGMENTS * 16
    for index, (a, b) in enumerate(zip(ours, frames, strict=True)):
        assert np.array_equal(a, b), f"frame {index} differs after a kill at {moment}"
    other = render(home, prompts[1])
    assert probe(other).frames == 16
    # 3. Nothing is left: no temp file, no unfinished run, no claimed pool slot.
    assert temp_leftovers(store) == []
    with DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        unfinished = [r.run_id for r in runs if not r.is_finished]
        assert unfinished == [], unfinished
        statuses = {r.status for r in runs}
        assert statuses <= {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE}, statuses
        if instance.event_log_storage.supports_global_concurrency_limits:
            for pool in instance.event_log_storage.get_concurrency_keys():
                info = instance.event_log_storage.get_concurrency_info(pool)
                assert info.claimed_slots == [] and info.pending_steps == [], (pool, info)


def test_two_renders_started_together_on_a_fresh_home_both_succeed(tmp_path, prompts):
    home = tmp_path / "fresh-home"
    processes = [start_render(home, prompt) for prompt in prompts]
    results = [process.communicate(timeout=300) for process in processes]
    for process, (out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err[-2000:]
        assert probe(Path(out.strip().splitlines()[-1])).frames > 0
    # The home is sound afterwards: a third command reuses everything.
    started = time.monotonic()
    assert probe(render(home, prompts[1])).frames == 16
    print(f"cached re-render on the shared home: {time.monotonic() - started:.1f} s")
