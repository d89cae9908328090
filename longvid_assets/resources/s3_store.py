"""An artifact store on any S3-compatible server (AWS S3, MinIO, SeaweedFS, Ceph), so every
host of a cluster reads and writes the same artifacts.

Layout under `s3://<bucket>/<prefix>/`:

    artifacts/<stage>/<fingerprint>/<name>   immutable; object metadata `sha256` and `size`
    renders/<render>/<name>                  published outputs (presigned download links)
    sources/<render>.json                    the prompt file a render comes from: path, text

Readers always get a local file: `artifact_path` downloads into `cache_dir` (a temp file,
renamed into place) and checks it against the sha256 its writer recorded, so bytes that
changed on the way or in the bucket are never handed to a stage.

    store:
      backend: s3
      bucket: longvid-artifacts
      endpoint_url: http://minio.internal:9000     # null: AWS
      aws_access_key_id: {env: AWS_ACCESS_KEY_ID}  # omit both: boto3's default chain
      aws_secret_access_key: {env: AWS_SECRET_ACCESS_KEY}
"""

import json
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster import EnvVar
from pydantic import PrivateAttr

from longvid_assets.errors import BackendError
from longvid_assets.resources.store import (
    ArtifactStore,
    Digest,
    _check_part,
    atomic_path,
    describe_mismatch,
    file_digest,
    remember_digest,
    restore_source,
    source_record,
    sweep_temp_files,
    temp_beside,
)

log = logging.getLogger(__name__)

DOWNLOAD_ATTEMPTS = 3
MIN_PART_MB = 5  # S3's smallest part of a multipart upload (all but the last)
MAX_PRESIGN_S = 7 * 24 * 3600  # SigV4's longest presigned URL
_MB = 1024 * 1024
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}

# (endpoint, bucket, key) -> digest of objects seen with valid metadata. Artifacts are
# content-addressed and never change, so one positive `head_object` per process is enough.
_KNOWN: dict[tuple[str | None, str, str], Digest] = {}
_CLIENT_LOCK = threading.Lock()


class S3ArtifactStore(ArtifactStore):
    """Artifacts in an S3 bucket, verified by sha256 on every download, cached locally."""

    backend_name = "s3"
    # Where artifacts live, and how they travel, does not change their content.
    not_in_fingerprint = frozenset(
        {
            "bucket",
            "prefix",
            "endpoint_url",
            "region_name",
            "cache_dir",
            "multipart_threshold_mb",
            "multipart_chunk_mb",
            "max_attempts",
            "connect_timeout_s",
            "read_timeout_s",
            "presign_expires_s",
        }
    )

    bucket: str
    prefix: str = "longvid"
    endpoint_url: str | None = None
    region_name: str = "us-east-1"
    aws_access_key_id: str | None = None  # None (both): boto3's default credential chain
    aws_secret_access_key: str | None = None
    cache_dir: str | None = None  # default: $TMPDIR/longvid-s3-cache/<bucket>
    multipart_threshold_mb: int = 64
    multipart_chunk_mb: int = 16
    max_attempts: int = 10
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    presign_expires_s: int = 7 * 24 * 3600

    _client: Any = PrivateAttr(default=None)

    def check_config(self) -> None:
        """Reject values S3 would refuse later, mid-run, with a less helpful message."""
        if not _BUCKET.fullmatch(self.bucket):
            raise ValueError(
                f"bucket {self.bucket!r} is not a valid S3 bucket name: use 3-63 lowercase "
                "letters, digits, '.' and '-'"
            )
        for part in self.prefix.split("/"):
            _check_part(part, "prefix part (write the prefix without leading/trailing '/')")
        if self.multipart_chunk_mb < MIN_PART_MB:
            raise ValueError(
                f"multipart_chunk_mb {self.multipart_chunk_mb} is below S3's minimum part "
                f"size of {MIN_PART_MB} MiB: use {MIN_PART_MB} or more"
            )
        if self.multipart_threshold_mb < 1 or self.max_attempts < 1:
            raise ValueError("multipart_threshold_mb and max_attempts must be 1 or more")
        if min(self.connect_timeout_s, self.read_timeout_s) <= 0:
            raise ValueError("connect_timeout_s and read_timeout_s must be positive seconds")
        if not 1 <= self.presign_expires_s <= MAX_PRESIGN_S:
            raise ValueError(
                f"presign_expires_s {self.presign_expires_s} is outside 1..{MAX_PRESIGN_S} "
                "(SigV4 links last at most 7 days): use a value in that range"
            )

    # 1. Artifacts

    def artifact_path(self, stage: str, fp: str, name: str) -> Path:
        """The verified local copy, downloaded first where missing or different. Where the
        object does not exist the path is returned without a file (as the local store does)."""
        key = self._artifact_key(stage, fp, name)
        local = self._cache_path("artifacts", stage, fp, name)
        recorded = self._recorded(key)
        if recorded is None:
            local.unlink(missing_ok=True)  # a copy of an object that is gone must not be read
            return local
        self._fetch_verified(key, local, recorded)
        return local

    def has(self, stage: str, fp: str, name: str) -> bool:
        """Whether the object exists with its size and sha256 metadata (no download: the
        bytes are checked when `artifact_path` fetches them)."""
        return self._recorded(self._artifact_key(stage, fp, name)) is not None

    @contextmanager
    def writing(self, stage: str, fp: str, name: str) -> Iterator[Path]:
        """Yield a local temp path; on success upload it, confirm it landed, and keep it in
        the local cache."""
        key = self._artifact_key(stage, fp, name)
        local = self._cache_path("artifacts", stage, fp, name)
        with atomic_path(local) as tmp:
            yield tmp
            if not tmp.is_file():
                raise RuntimeError(f"nothing was written to {tmp}")
            digest = file_digest(tmp, remember=False)
            self._upload(tmp, key, digest)
        remember_digest(local, digest)

    # 2. Published outputs

    def publish(self, source: Path, render: str, name: str) -> Path:
        """Upload to `renders/<render>/<name>` and keep a local copy that callers can probe."""
        local = self.published_path(render, name, fetch=False)
        key = self._key("renders", render, name)
        self._upload(Path(source), key, file_digest(source), immutable=False)
        with atomic_path(local) as tmp:
            shutil.copyfile(source, tmp)
        return local

    def published_path(self, render: str, name: str, fetch: bool = True) -> Path:
        """The local copy of a published output, (re)downloaded and verified where this host
        has none or an older one (a render is published again when it changes)."""
        local = self._cache_path("renders", render, name)
        key = self._key("renders", render, name)
        recorded = self._recorded(key, immutable=False) if fetch else None
        if recorded is not None:
            self._fetch_verified(key, local, recorded)
        return local

    def published_matches(self, source: Path, render: str, name: str) -> bool:
        recorded = self._recorded(self._key("renders", render, name), immutable=False)
        return recorded is not None and recorded == file_digest(source)

    def download_url(self, render: str, name: str) -> str:
        """A presigned GET link to the published object, valid `presign_expires_s` (less
        where the credentials themselves expire sooner, e.g. STS session keys)."""
        params = {"Bucket": self.bucket, "Key": self._key("renders", render, name)}
        return self._s3().generate_presigned_url(
            "get_object", Params=params, ExpiresIn=self.presign_expires_s
        )

    # 3. Prompt sources

    def remember_source(self, render: str, prompt_file: Path) -> None:
        """Record the prompt file's path and text, so any host can plan the render."""
        key = self._source_key(render)
        body = json.dumps(source_record(prompt_file)).encode("utf-8")
        with self._errors(key, "recording the prompt source"):
            self._s3().put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType="application/json"
            )

    def source_of(self, render: str) -> Path | None:
        """The original prompt file where it exists on this host, else a cached copy of its
        recorded text; None if the render was never recorded."""
        key = self._source_key(render)
        try:
            with self._errors(key, "reading the prompt source"):
                body = self._s3().get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except _Missing:
            return None
        return restore_source(json.loads(body), self._cache_path("sources", render))

    # 4. Housekeeping

    def sweep_temp(self, max_age_s: float = 3600) -> int:
        """Uploads are atomic on the server (a multipart upload that fails is aborted), so
        only the local cache has crash leftovers to delete."""
        return sweep_temp_files(self.cache_root, max_age_s)

    def spec(self) -> dict:
        """Every field; `{"env": NAME}` where it came from the environment. A secret set as a
        literal value is left out: the worker then uses boto3's default credential chain."""
        return {"backend": "s3", **self._portable_fields()}

    @property
    def cache_root(self) -> Path:
        if self.cache_dir:
            return Path(self.cache_dir).expanduser()
        return Path(tempfile.gettempdir()) / "longvid-s3-cache" / self.bucket

    # --- keys and paths ------------------------------------------------------------------

    def _key(self, *parts: str) -> str:
        return "/".join([self.prefix, *(_check_part(p, "key part") for p in parts)])

    def _artifact_key(self, stage: str, fp: str, name: str) -> str:
        return self._key("artifacts", stage, fp, name)

    def _source_key(self, render: str) -> str:
        return self._key("sources", f"{_check_part(render, 'render')}.json")

    def _cache_path(self, *parts: str) -> Path:
        return self.cache_root.joinpath(*(_check_part(p, "path part") for p in parts))

    def _url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    # --- S3 calls ------------------------------------------------------------------------

    def _s3(self):
        """The boto3 client, made on first use (never at import or construction)."""
        with _CLIENT_LOCK:
            if self._client is None:
                self._client = self._make_client()
        return self._client

    def _make_client(self):
        import boto3
        from botocore.config import Config

        options: dict = {
            "retries": {"max_attempts": self.max_attempts, "mode": "standard"},
            "connect_timeout": self.connect_timeout_s,
            "read_timeout": self.read_timeout_s,
            "signature_version": "s3v4",  # presigned links too (boto3 would sign those V2)
        }
        if self.endpoint_url:  # MinIO & co. serve buckets by path, not by host name
            options["s3"] = {"addressing_style": "path"}
        session = boto3.session.Session(
            aws_access_key_id=self._secret("aws_access_key_id"),
            aws_secret_access_key=self._secret("aws_secret_access_key"),
            region_name=self.region_name,
        )
        return session.client("s3", endpoint_url=self.endpoint_url, config=Config(**options))

    def _secret(self, name: str) -> str | None:
        """A credential field's value; an unresolved `EnvVar` (the store used outside a run)
        is read from the environment here."""
        value = getattr(self, name)
        if not isinstance(value, EnvVar):
            return value
        resolved = os.environ.get(value.env_var_name)
        if resolved is None:
            raise BackendError(
                f"store field {name} reads environment variable {value.env_var_name}, which "
                "is not set — "
                "export it, or remove the field to use boto3's default credentials"
            )
        return resolved

    def _transfer_config(self):
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=self.multipart_threshold_mb * _MB,
            multipart_chunksize=self.multipart_chunk_mb * _MB,
        )

    def _recorded(self, key: str, immutable: bool = True) -> Digest | None:
        """The object's recorded digest, or None where it is missing or has no metadata.
        Remembered for `immutable` (content-addressed) objects only."""
        cache_key = (self.endpoint_url, self.bucket, key)
        if immutable and cache_key in _KNOWN:
            return _KNOWN[cache_key]
        try:
            head = self._head(key)
        except _Missing:
            return None
        recorded = _digest_of(head)
        if recorded is None:
            log.warning(f"stored {self._url(key)} has no sha256/size metadata — regenerating")
        elif recorded.size != head["ContentLength"]:
            problem = f"size {head['ContentLength']} != {recorded.size}"
            log.warning(f"stored {self._url(key)} is corrupt ({problem}) — regenerating")
            recorded = None
        elif immutable:
            _KNOWN[cache_key] = recorded
        return recorded

    def _head(self, key: str) -> dict:
        with self._errors(key, "checking"):
            return self._s3().head_object(Bucket=self.bucket, Key=key)

    def _upload(self, path: Path, key: str, digest: Digest, immutable: bool = True) -> None:
        """Upload with the digest as metadata, then confirm what the server holds."""
        extra = {"Metadata": {"sha256": digest.sha256, "size": str(digest.size)}}
        with self._errors(key, "uploading"):
            self._s3().upload_file(
                str(path), self.bucket, key, ExtraArgs=extra, Config=self._transfer_config()
            )
        landed = self._confirm(key, digest)
        if immutable:
            _KNOWN[(self.endpoint_url, self.bucket, key)] = landed

    def _confirm(self, key: str, digest: Digest) -> Digest:
        """The digest of the object now at `key`: ours, or — where another writer stored the
        same artifact a moment later (generation is not always bit-exact) — theirs, if it is
        complete. Anything else did not land intact."""
        try:
            head = self._head(key)
        except _Missing:
            head = {"ContentLength": -1}
        landed = _digest_of(head)
        size = head["ContentLength"]
        if landed == digest and size == digest.size:
            return digest
        if landed is not None and landed.size == size and landed.sha256 != digest.sha256:
            log.warning(
                f"{self._url(key)} was stored by another writer meanwhile (sha256 "
                f"{landed.sha256[:12]}… != ours {digest.sha256[:12]}…) — keeping theirs"
            )
            return landed
        found = "no object" if size < 0 else f"size {size}, metadata {landed}"
        raise BackendError(
            f"{self._url(key)}: the upload did not land intact ({found}; sent {digest}) — "
            "rerun; if it repeats, something between this host and the server alters uploads"
        )

    def _fetch_verified(self, key: str, local: Path, recorded: Digest) -> None:
        """Make `local` a copy of the object whose bytes match `recorded`: keep a matching
        cached copy, else download to a temp file and rename it into place only if it
        matches, up to DOWNLOAD_ATTEMPTS times."""
        if local.is_file() and file_digest(local) == recorded:
            return
        local.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            tmp = temp_beside(local)
            try:
                with self._errors(key, "downloading"):
                    self._s3().download_file(
                        self.bucket, key, str(tmp), Config=self._transfer_config()
                    )
                problem = describe_mismatch(file_digest(tmp, remember=False), recorded)
                if problem is None:
                    os.replace(tmp, local)
                    remember_digest(local, recorded)
                    return
                log.warning(
                    f"download {attempt}/{DOWNLOAD_ATTEMPTS} of {self._url(key)} does not "
                    f"match its metadata ({problem}) — retrying"
                )
            except _Missing:
                raise BackendError(
                    f"{self._url(key)} disappeared while being read — rerun so its stage "
                    "regenerates it"
                ) from None
            finally:
                tmp.unlink(missing_ok=True)
        _KNOWN.pop((self.endpoint_url, self.bucket, key), None)
        raise BackendError(
            f"{self._url(key)} is corrupt: {DOWNLOAD_ATTEMPTS} downloads did not match its "
            f"recorded sha256 {recorded.sha256[:12]}… ({problem}) — delete the object "
            f"({self._rm_command(key)}) and rerun to regenerate it"
        )

    def _rm_command(self, key: str) -> str:
        endpoint = f" --endpoint-url {self.endpoint_url}" if self.endpoint_url else ""
        return f"aws s3 rm {self._url(key)}{endpoint}"

    @contextmanager
    def _errors(self, key: str, doing: str) -> Iterator[None]:
        """boto3's errors as one line naming the object and the fix; a missing object as
        `_Missing` for the caller to handle."""
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if str(error.get("Code")) in _NOT_FOUND:
                raise _Missing(key) from None
            reason = f"{error.get('Code')}: {error.get('Message')}"
            raise self._backend_error(key, doing, reason) from exc
        except (BotoCoreError, Boto3Error) as exc:
            raise self._backend_error(key, doing, str(exc)) from exc

    def _backend_error(self, key: str, doing: str, reason: str) -> BackendError:
        where = self.endpoint_url or f"AWS {self.region_name}"
        reason = " ".join(reason.split())
        return BackendError(
            f"{doing} {self._url(key)} at {where} failed ({reason}) — check the store's "
            "endpoint_url, bucket and credentials, and that the server is reachable"
        )


class _Missing(Exception):
    """The object does not exist (404)."""


def _digest_of(head: dict) -> Digest | None:
    """The digest a longvid writer put in the object's metadata, or None."""
    metadata = head.get("Metadata") or {}
    try:
        return Digest(size=int(metadata["size"]), sha256=str(metadata["sha256"]))
    except (KeyError, ValueError):
        return None
