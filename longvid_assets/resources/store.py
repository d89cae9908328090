"""Artifact stores: content-addressed by fingerprint, written atomically, verified on read.

Two backends: `LocalArtifactStore` (a folder on this host) and `S3ArtifactStore` (any
S3-compatible server, see `s3_store.py`), so any host can reach the same artifacts. Either
records each artifact's size and sha256 when it is written, and `has()` is True only for an
artifact whose bytes still match: a truncated or emptied file is regenerated, never read.
"""

import hashlib
import json
import logging
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dagster import EnvVar, InitResourceContext
from pydantic import PrivateAttr

from longvid_assets.errors import ConfigError
from longvid_assets.resources.base import SECRET_FIELDS, BackendResource

log = logging.getLogger(__name__)

_SAFE = re.compile(r"[a-z0-9][a-z0-9_.-]*", re.IGNORECASE)
TEMP_PREFIX = ".tmp-"
SUM_SUFFIX = ".sum.json"
_CHUNK = 1 << 20


def default_root() -> Path:
    """`$DAGSTER_HOME/longvid`, or `./.longvid` where DAGSTER_HOME is unset."""
    home = os.environ.get("DAGSTER_HOME")
    return Path(home) / "longvid" if home else Path.cwd() / ".longvid"


def _check_part(part: str, what: str) -> str:
    if not _SAFE.fullmatch(part) or ".." in part:
        raise ValueError(f"unsafe {what} {part!r}: use letters, digits, '_', '-' and '.'")
    return part


# --- digests -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Digest:
    """What a writer records about an artifact and a reader checks: its size and sha256."""

    size: int
    sha256: str


# (path, st_mtime_ns, st_size) -> sha256: a file is hashed once per process, not per `has()`.
_DIGESTS: dict[tuple[str, int, int], str] = {}
# Stat keys of local artifacts already checked against their sums in this process.
_VERIFIED: set[tuple[str, int, int]] = set()


def _stat_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path), st.st_mtime_ns, st.st_size)


def file_digest(path: Path, remember: bool = True) -> Digest:
    """Size and sha256 of a file; remembered per (path, mtime, size) where `remember`."""
    key = _stat_key(path)
    sha = _DIGESTS.get(key)
    if sha is None:
        hasher = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(_CHUNK), b""):
                hasher.update(block)
        sha = hasher.hexdigest()
        if remember:
            _DIGESTS[key] = sha
    return Digest(size=key[2], sha256=sha)


def remember_digest(path: Path, digest: Digest) -> None:
    """Note a digest we already know (we just wrote the file) so the next check is free."""
    key = _stat_key(path)
    if key[2] == digest.size:
        _DIGESTS[key] = digest.sha256


def describe_mismatch(got: Digest, want: Digest) -> str | None:
    """`size 123 != 456` / `sha256 ab12… != cd34…` (found != recorded), or None if equal."""
    if got.size != want.size:
        return f"size {got.size} != {want.size}"
    if got.sha256 != want.sha256:
        return f"sha256 {got.sha256[:12]}… != {want.sha256[:12]}…"
    return None


# --- the interface -----------------------------------------------------------------------


class ArtifactStore(BackendResource):
    """Interface: where artifacts live. `artifact_path` is always a local file to read."""

    # Fields configured as `{env: NAME}`: `spec()` ships the name to workers, never the value.
    _env_names: dict = PrivateAttr(default_factory=dict)

    def artifact_path(self, stage: str, fp: str, name: str) -> Path:
        raise NotImplementedError

    def has(self, stage: str, fp: str, name: str) -> bool:
        """Whether the artifact is stored and verified; call it before `artifact_path`."""
        raise NotImplementedError

    @contextmanager
    def writing(self, stage: str, fp: str, name: str) -> Iterator[Path]:
        """Yield a temporary path; on success it becomes the artifact atomically."""
        raise NotImplementedError
        yield  # pragma: no cover

    def publish(self, source: Path, render: str, name: str) -> Path:
        """Copy a finished artifact to the render's friendly output folder, atomically."""
        raise NotImplementedError

    def published_path(self, render: str, name: str) -> Path:
        """The local file of a published output (`publish` put it there)."""
        raise NotImplementedError

    def published_matches(self, source: Path, render: str, name: str) -> bool:
        """Whether the published copy `name` holds exactly the bytes of `source`."""
        raise NotImplementedError

    def download_url(self, render: str, name: str) -> str | None:
        """A link anyone can download a published output from, where the store has one."""
        return None

    def remember_source(self, render: str, prompt_file: Path) -> None:
        """Record which prompt file a render comes from (its path and its text)."""
        raise NotImplementedError

    def source_of(self, render: str) -> Path | None:
        """A local prompt file for the render: the original, or a copy of its recorded text."""
        raise NotImplementedError

    def sweep_temp(self, max_age_s: float = 3600) -> int:
        """Delete temp files older than `max_age_s` (crash leftovers); returns how many."""
        raise NotImplementedError

    def spec(self) -> dict:
        """A JSON-able dict from which `store_from_spec` opens this store on another host."""
        raise NotImplementedError

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Dagster hands a run this resource with `{env: NAME}` fields already resolved;
        remember the names so `spec()` can still pass them on instead of the secrets."""
        schema = context.resource_def.config_schema if context.resource_def else None
        field = schema.as_field() if schema is not None else None
        configured = field.default_value if field is not None and field.default_provided else {}
        self._env_names = {
            name: value["env"] for name, value in (configured or {}).items() if _is_env_ref(value)
        }

    def _portable_fields(self) -> dict:
        """Every field for a spec: `{"env": NAME}` for one set from the environment, literal
        secrets left out (the worker then uses its own default credentials)."""
        fields = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            env_name = self._env_names.get(name)
            if isinstance(value, EnvVar):  # not yet resolved: the store is used outside a run
                env_name = value.env_var_name
            if env_name:
                fields[name] = {"env": env_name}
            elif name not in SECRET_FIELDS:
                fields[name] = value
        return fields


# --- the local store ---------------------------------------------------------------------


class LocalArtifactStore(ArtifactStore):
    """Artifacts under `root/artifacts/<stage>/<fingerprint>/<name>`, each with a sidecar
    `<name>.sum.json` (size, sha256); outputs under `root/renders/<render>/`. Root defaults
    to `$DAGSTER_HOME/longvid`."""

    backend_name = "local"
    not_in_fingerprint = frozenset({"root"})
    root: str | None = None

    @property
    def root_path(self) -> Path:
        return Path(self.root).expanduser().resolve() if self.root else default_root().resolve()

    def artifact_path(self, stage: str, fp: str, name: str) -> Path:
        """Where the artifact lives; pure path computation (`has()` verifies)."""
        parts = (
            _check_part(stage, "stage"),
            _check_part(fp, "fingerprint"),
            _check_part(name, "name"),
        )
        return self.root_path.joinpath("artifacts", *parts)

    def has(self, stage: str, fp: str, name: str) -> bool:
        """True only if the artifact's size and sha256 match its sum; a bad or unsummed file
        is deleted (with a warning) so its stage regenerates it."""
        path = self.artifact_path(stage, fp, name)
        try:
            key = _stat_key(path)
        except FileNotFoundError:
            return False
        if key in _VERIFIED:
            return True
        problem = _local_problem(path, key[2])
        if problem is None:
            _VERIFIED.add(key)
            return True
        log.warning(f"stored {stage}/{fp}/{name} is corrupt ({problem}) — regenerating")
        path.unlink(missing_ok=True)
        sum_path(path).unlink(missing_ok=True)
        return False

    @contextmanager
    def writing(self, stage: str, fp: str, name: str) -> Iterator[Path]:
        """The sum lands just before the artifact: a crash leaves at most an orphan sum,
        never an artifact without one, and a reader never deletes a file mid-write."""
        final = self.artifact_path(stage, fp, name)
        with atomic_path(final) as tmp:
            yield tmp
            digest = _written_digest(tmp)
            write_sum(final, digest)
        remember_digest(final, digest)

    def publish(self, source: Path, render: str, name: str) -> Path:
        target = self.published_path(render, name)
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
        return target

    def published_path(self, render: str, name: str) -> Path:
        folder = self.root_path / "renders" / _check_part(render, "render")
        return folder / _check_part(name, "name")

    def published_matches(self, source: Path, render: str, name: str) -> bool:
        target = self.published_path(render, name)
        if not target.is_file() or target.stat().st_size != source.stat().st_size:
            return False
        return file_digest(target, remember=False) == file_digest(source)

    def remember_source(self, render: str, prompt_file: Path) -> None:
        target = self._sources / f"{_check_part(render, 'render')}.json"
        with atomic_path(target) as tmp:
            tmp.write_text(json.dumps(source_record(prompt_file)), encoding="utf-8")

    def source_of(self, render: str) -> Path | None:
        record = self._sources / f"{_check_part(render, 'render')}.json"
        if record.is_file():
            return restore_source(
                json.loads(record.read_text(encoding="utf-8")), self._sources / render
            )
        legacy = self._sources / f"{render}.txt"  # before texts were recorded: a path only
        return Path(legacy.read_text(encoding="utf-8")) if legacy.is_file() else None

    def sweep_temp(self, max_age_s: float = 3600) -> int:
        return sweep_temp_files(self.root_path, max_age_s)

    def spec(self) -> dict:
        """How another process on this host opens the same store (see `store_from_spec`)."""
        return {"backend": "local", "root": str(self.root_path)}

    @property
    def _sources(self) -> Path:
        return self.root_path / "sources"


def sum_path(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + SUM_SUFFIX)


def write_sum(artifact: Path, digest: Digest) -> None:
    with atomic_path(sum_path(artifact)) as tmp:
        tmp.write_text(json.dumps({"size": digest.size, "sha256": digest.sha256}))


def read_sum(artifact: Path) -> Digest | None:
    """The recorded digest, or None where there is none (or it is unreadable)."""
    try:
        recorded = json.loads(sum_path(artifact).read_text(encoding="utf-8"))
        return Digest(size=int(recorded["size"]), sha256=str(recorded["sha256"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _local_problem(path: Path, size: int) -> str | None:
    """Why a stored file of `size` bytes cannot be trusted, or None."""
    recorded = read_sum(path)
    if recorded is None:
        return f"no size/sha256 recorded in {sum_path(path).name}"
    if size != recorded.size:  # cheap: no hashing needed
        return f"size {size} != {recorded.size}"
    return describe_mismatch(file_digest(path), recorded)


def _written_digest(tmp: Path) -> Digest:
    if not tmp.is_file():
        raise RuntimeError(f"nothing was written to {tmp}")
    return file_digest(tmp, remember=False)


# --- prompt sources ----------------------------------------------------------------------


def this_host() -> str:
    return socket.gethostname()


def source_record(prompt_file: Path) -> dict:
    """The prompt file's path and text, and the host it is on: another host plans from the
    text."""
    path = Path(prompt_file).resolve()
    text = path.read_text(encoding="utf-8")
    return {"path": str(path), "name": path.name, "text": text, "host": this_host()}


def restore_source(record: dict, folder: Path) -> Path:
    """The original prompt file where this host has it, else a copy of the recorded text
    under `folder`. On the host that recorded it the original stays the answer even when
    deleted: there a missing prompt file means the user removed it (the schedule leaves such
    renders alone, and a same-named file in the prompts folder takes over)."""
    original = Path(record["path"])
    if original.is_file() or record.get("host") == this_host():
        return original
    copy = folder / Path(record["name"]).name
    if not copy.is_file() or copy.read_text(encoding="utf-8") != record["text"]:
        with atomic_path(copy) as tmp:
            tmp.write_text(record["text"], encoding="utf-8")
    return copy


# --- specs and temp files ----------------------------------------------------------------


def store_from_spec(spec: dict) -> ArtifactStore:
    """The store a `spec()` describes, e.g. inside a Ray worker. A `{"env": NAME}` value is
    read from this host's environment."""
    params = dict(spec)
    backend = params.pop("backend", None)
    env_names = {k: v["env"] for k, v in params.items() if _is_env_ref(v)}
    for name, variable in env_names.items():
        if variable not in os.environ:
            raise ConfigError(
                f"store spec field {name!r} reads environment variable {variable}, which is "
                "not set on this host — export it where the worker runs"
            )
        params[name] = os.environ[variable]
    if backend == "local":
        store: ArtifactStore = LocalArtifactStore(**params)
    elif backend == "s3":
        from longvid_assets.resources.s3_store import S3ArtifactStore

        store = S3ArtifactStore(**params)
        store.check_config()
    else:
        raise ValueError(f"unknown store backend {backend!r} in a store spec: use local or s3")
    store._env_names = env_names
    return store


def _is_env_ref(value) -> bool:
    return isinstance(value, dict) and set(value) == {"env"}


def sweep_temp_files(root: Path, max_age_s: float) -> int:
    """Delete the `.tmp-<pid>-*` files and folders under `root` that a crash left behind:
    at once where that pid no longer runs here, else once older than `max_age_s` (a write
    in progress, or one by another host on a shared disk, is left alone until then)."""
    if not root.is_dir():
        return 0
    cutoff = time.time() - max_age_s
    removed = 0
    for folder, dirs, files in os.walk(root):
        for name in [*files, *dirs]:
            path = Path(folder) / name
            if name.startswith(TEMP_PREFIX) and (_writer_gone(name) or _older_than(path, cutoff)):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                removed += 1
        dirs[:] = [d for d in dirs if (Path(folder) / d).is_dir()]
    if removed:
        log.info(f"removed {removed} temp file(s) and folder(s) of ended writers under {root}")
    return removed


def temp_name(suffix: str) -> str:
    """A hidden temp name that names its writer: `.tmp-<pid>-<random>-<suffix>`."""
    return f"{TEMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}-{suffix}"


def _writer_gone(name: str) -> bool:
    pid = name[len(TEMP_PREFIX) :].split("-", 1)[0]
    if not pid.isdigit():
        return False  # an older name without a pid: by age only
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _older_than(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:  # a concurrent writer renamed it into place
        return False


def temp_beside(final: Path) -> Path:
    """A hidden temp name in `final`'s folder (same filesystem, so `os.replace` is atomic)."""
    return final.with_name(temp_name(final.name))


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a hidden temp path beside `final`; rename it into place only on success."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(final)
    try:
        yield tmp
        if not tmp.is_file():
            raise RuntimeError(f"nothing was written to {tmp}")
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
