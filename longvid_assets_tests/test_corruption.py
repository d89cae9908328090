"""Damaged artifacts are never reused: a truncated clip, narration, plan and published MP4 are
each detected on the next render, made again, and the output equals the undamaged render."""

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from longvid_assets.render import render_prompt_file
from longvid_assets_tests.rerun_helpers import tiny_prompt, write_prompt

DAMAGED = {  # what is cut to half, found by its place in the store
    "clip": lambda store: sorted((store / "artifacts" / "clips").rglob("clip.mp4"))[1],
    "narration": lambda store: sorted((store / "artifacts" / "narration").rglob("*.wav"))[1],
    "plan": lambda store: sorted((store / "artifacts").rglob("plan.json"))[0],
    "published MP4": lambda store: sorted((store / "renders").rglob("*.mp4"))[0],
}


def frames_of(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def audio_of(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        return np.concatenate([f.to_ndarray().ravel() for f in container.decode(audio=0)])


@pytest.mark.slow
@pytest.mark.parametrize("what", list(DAMAGED))
def test_a_truncated_artifact_is_made_again(tmp_path, longvid_env, what, caplog):
    config, instance, store_root = longvid_env
    prompt = write_prompt(tmp_path / "meadow.yaml", tiny_prompt(3))
    first = render_prompt_file(prompt, config, instance)
    frames, audio = frames_of(first.path), audio_of(first.path)
    # 1. Cut the artifact to half its bytes, as a full disk or a killed copy would.
    victim = DAMAGED[what](Path(store_root))
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    if what == "narration":  # and the mix made from it, so that audio_tracks reads it again
        mix = sorted((Path(store_root) / "artifacts").rglob("mix*.wav"))
        assert mix, "no mixed soundtrack found in the store"
        mix[0].write_bytes(mix[0].read_bytes()[:1000])
    # 2. The next render notices, makes it again, and ends with the same video and sound.
    second = render_prompt_file(prompt, config, instance)
    if what == "narration":
        # Piper samples noise (VITS): a new synthesis is a whole WAV of the same slot, not
        # the same bytes, so the soundtrack is compared by length below.
        with wave.open(str(victim)) as remade, wave.open(io.BytesIO(data)) as before:
            assert abs(remade.getnframes() - before.getnframes()) <= 0.05 * before.getnframes()
            assert len(remade.readframes(remade.getnframes())) > 0
    else:
        assert victim.read_bytes() == data, f"the {what} was not made again"
    if what != "published MP4":  # republished without a run: nothing to build
        assert second.built_steps >= 1, second.statuses
    ours = frames_of(second.path)
    assert len(ours) == len(frames) and all(
        np.array_equal(a, b) for a, b in zip(ours, frames, strict=True)
    )
    sound = audio_of(second.path)
    assert sound.shape == audio.shape
    if what != "narration":
        assert np.array_equal(sound, audio)
