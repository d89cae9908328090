"""The local artifact store: sums written with artifacts, bad files detected and removed."""

import json
import logging
import os
import time

import pytest

from longvid_assets.resources import store as store_module
from longvid_assets.resources.store import (
    LocalArtifactStore,
    file_digest,
    store_from_spec,
    sum_path,
)

FP = "0123abcd"
LOGGER = "longvid_assets.resources.store"


@pytest.fixture
def store(tmp_path) -> LocalArtifactStore:
    return LocalArtifactStore(root=str(tmp_path / "store"))


def write(store: LocalArtifactStore, data: bytes, stage="clips", name="clip.mp4"):
    with store.writing(stage, FP, name) as tmp:
        tmp.write_bytes(data)
    return store.artifact_path(stage, FP, name)


def test_round_trip_records_size_and_sha256(store, monkeypatch):
    data = os.urandom(3000)
    path = write(store, data)
    assert path.read_bytes() == data
    recorded = json.loads(sum_path(path).read_text())
    assert recorded == {"size": 3000, "sha256": file_digest(path).sha256}
    assert store.has("clips", FP, "clip.mp4")

    # Verified once per file version: a second `has()` does not even read the sum.
    reads = []
    monkeypatch.setattr(store_module, "read_sum", lambda p: reads.append(p))
    assert store.has("clips", FP, "clip.mp4") and reads == []
    assert not store.has("clips", "ffff0000", "clip.mp4")
    assert set(path.parent.iterdir()) == {path, sum_path(path)}  # no temp file left


@pytest.mark.parametrize(
    "damage, problem",
    [
        (lambda p: p.write_bytes(p.read_bytes()[:1000]), "size 1000 != 3000"),
        (lambda p: p.write_bytes(b""), "size 0 != 3000"),
        (lambda p: p.write_bytes(b"x" + p.read_bytes()[1:]), "sha256 "),
    ],
    ids=["truncated", "emptied", "same-size-different-bytes"],
)
def test_damaged_artifact_is_detected_and_removed(store, caplog, damage, problem):
    path = write(store, b"\0" * 3000)
    assert store.has("clips", FP, "clip.mp4")
    time.sleep(0.01)  # a new mtime, as any real rewrite has
    damage(path)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert not store.has("clips", FP, "clip.mp4")
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith(f"stored clips/{FP}/clip.mp4 is corrupt ({problem}")
    assert line.endswith("— regenerating") and "\n" not in line
    assert not path.exists() and not sum_path(path).exists()
    # Regenerating works as before.
    write(store, b"\1" * 10)
    assert store.has("clips", FP, "clip.mp4")


def test_artifact_without_sum_is_not_trusted(store, caplog):
    path = store.artifact_path("keyframes", FP, "keyframe.png")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"made before sums existed, or copied in by hand")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert not store.has("keyframes", FP, "keyframe.png")
    assert "no size/sha256 recorded in keyframe.png.sum.json" in caplog.text
    assert not path.exists()


def test_failed_write_leaves_nothing(store):
    with (
        pytest.raises(RuntimeError, match="model crashed"),
        store.writing("clips", FP, "c.mp4") as tmp,
    ):
        tmp.write_bytes(b"half")
        raise RuntimeError("model crashed")
    folder = store.artifact_path("clips", FP, "c.mp4").parent
    assert list(folder.iterdir()) == []
    with (
        pytest.raises(RuntimeError, match="nothing was written"),
        store.writing("clips", FP, "c.mp4"),
    ):
        pass
    assert not store.has("clips", FP, "c.mp4")


def test_sweep_temp_removes_only_old_temp_files(store):
    path = write(store, b"keep me")
    folder = path.parent
    old_tmp, young_tmp, old_plain = folder / ".tmp-aaaa-x", folder / ".tmp-bbbb-y", folder / "z"
    for leftover in (old_tmp, young_tmp, old_plain):
        leftover.write_bytes(b"leftover")
    two_hours_ago = time.time() - 7200
    for old in (old_tmp, old_plain):
        os.utime(old, (two_hours_ago, two_hours_ago))
    assert store.sweep_temp(max_age_s=3600) == 1
    assert not old_tmp.exists() and young_tmp.exists() and old_plain.exists()
    assert store.has("clips", FP, "clip.mp4")
    assert LocalArtifactStore(root=str(folder / "missing")).sweep_temp() == 0


def test_spec_round_trip_opens_the_same_store(store):
    write(store, b"shared")
    spec = store.spec()
    assert spec == {"backend": "local", "root": str(store.root_path)}
    assert json.loads(json.dumps(spec)) == spec
    again = store_from_spec(spec)
    assert isinstance(again, LocalArtifactStore) and again.spec() == spec
    assert again.has("clips", FP, "clip.mp4")
    assert again.artifact_path("clips", FP, "clip.mp4").read_bytes() == b"shared"
    assert again.download_url("r", "r.mp4") is None
    with pytest.raises(ValueError, match="unknown store backend 'ftp'"):
        store_from_spec({"backend": "ftp"})


def test_sources_record_path_and_text(store, tmp_path, monkeypatch):
    prompt = tmp_path / "prompts" / "meadow.yaml"
    prompt.parent.mkdir()
    prompt.write_text("title: Meadow\n", encoding="utf-8")
    store.remember_source("meadow", prompt)
    assert store.source_of("meadow") == prompt.resolve()
    assert store.source_of("never-seen") is None

    # Deleted on the host that recorded it: the path stays the answer (the prompt is gone).
    prompt.unlink()
    assert store.source_of("meadow") == prompt.resolve()
    # A host that never had the file (a root on shared storage) plans from the recorded text.
    monkeypatch.setattr(store_module, "this_host", lambda: "another-host")
    copy = store.source_of("meadow")
    assert copy.name == "meadow.yaml" and copy.read_text(encoding="utf-8") == "title: Meadow\n"

    # The old format (a path only) is still read.
    legacy = store.root_path / "sources" / "old.txt"
    legacy.write_text("/somewhere/old.yaml", encoding="utf-8")
    assert str(store.source_of("old")) == "/somewhere/old.yaml"


def test_publish_copies_to_renders(store):
    path = write(store, b"final video", stage="final", name="video.mp4")
    published = store.publish(path, "meadow", "meadow.mp4")
    assert published == store.published_path("meadow", "meadow.mp4")
    assert published.read_bytes() == b"final video"
