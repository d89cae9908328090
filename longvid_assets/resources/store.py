"""Artifact stores: content-addressed by fingerprint, written atomically."""

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from longvid_assets.resources.base import BackendResource

_SAFE = re.compile(r"[a-z0-9][a-z0-9_.-]*", re.IGNORECASE)


def default_root() -> Path:
    """`$DAGSTER_HOME/longvid`, or `./.longvid` where DAGSTER_HOME is unset."""
    home = os.environ.get("DAGSTER_HOME")
    return Path(home) / "longvid" if home else Path.cwd() / ".longvid"


def _check_part(part: str, what: str) -> str:
    if not _SAFE.fullmatch(part) or ".." in part:
        raise ValueError(f"unsafe {what} {part!r}: use letters, digits, '_', '-' and '.'")
    return part


class ArtifactStore(BackendResource):
    """Interface: where artifacts live. `artifact_path` is always a local file to read."""

    def artifact_path(self, stage: str, fp: str, name: str) -> Path:
        raise NotImplementedError

    def has(self, stage: str, fp: str, name: str) -> bool:
        raise NotImplementedError

    @contextmanager
    def writing(self, stage: str, fp: str, name: str) -> Iterator[Path]:
        """Yield a temporary path; on success it becomes the artifact atomically."""
        raise NotImplementedError
        yield  # pragma: no cover

    def publish(self, source: Path, render: str, name: str) -> Path:
        """Copy a finished artifact to the render's friendly output folder, atomically."""
        raise NotImplementedError

    def remember_source(self, render: str, prompt_file: Path) -> None:
        """Record which prompt file a render comes from."""
        raise NotImplementedError

    def source_of(self, render: str) -> Path | None:
        raise NotImplementedError


class LocalArtifactStore(ArtifactStore):
    """Artifacts under `root/artifacts/<stage>/<fingerprint>/<name>`; outputs under
    `root/renders/<render>/`. Root defaults to `$DAGSTER_HOME/longvid`."""

    backend_name = "local"
    not_in_fingerprint = frozenset({"root"})
    root: str | None = None

    @property
    def root_path(self) -> Path:
        return Path(self.root).expanduser().resolve() if self.root else default_root().resolve()

    def artifact_path(self, stage: str, fp: str, name: str) -> Path:
        parts = (
            _check_part(stage, "stage"),
            _check_part(fp, "fingerprint"),
            _check_part(name, "name"),
        )
        return self.root_path.joinpath("artifacts", *parts)

    def has(self, stage: str, fp: str, name: str) -> bool:
        return self.artifact_path(stage, fp, name).is_file()

    @contextmanager
    def writing(self, stage: str, fp: str, name: str) -> Iterator[Path]:
        final = self.artifact_path(stage, fp, name)
        with atomic_path(final) as tmp:
            yield tmp

    def publish(self, source: Path, render: str, name: str) -> Path:
        target = (
            self.root_path / "renders" / _check_part(render, "render") / _check_part(name, "name")
        )
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
        return target

    def remember_source(self, render: str, prompt_file: Path) -> None:
        target = self.root_path / "sources" / f"{_check_part(render, 'render')}.txt"
        with atomic_path(target) as tmp:
            tmp.write_text(str(Path(prompt_file).resolve()), encoding="utf-8")

    def source_of(self, render: str) -> Path | None:
        record = self.root_path / "sources" / f"{_check_part(render, 'render')}.txt"
        return Path(record.read_text(encoding="utf-8")) if record.is_file() else None


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a hidden temp path beside `final`; rename it into place only on success."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{final.name}")
    try:
        yield tmp
        if not tmp.is_file():
            raise RuntimeError(f"nothing was written to {tmp}")
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
