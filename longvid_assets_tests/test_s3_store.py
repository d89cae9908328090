"""The S3 artifact store against a real moto S3 server process (and a proxy that fails 30% of
requests): what lands is verified, what is read back is verified, secrets never travel."""

import hashlib
import http.client
import json
import logging
import os
import random
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from dagster import EnvVar, asset, materialize

from longvid_assets.errors import BackendError, ConfigError
from longvid_assets.resources import s3_store
from longvid_assets.resources import store as store_module
from longvid_assets.resources.s3_store import S3ArtifactStore
from longvid_assets.resources.store import store_from_spec
from longvid_assets_tests.s3_services import (
    TEST_KEY_ID,
    TEST_SECRET,
    FaultyProxy,
    free_port,
    moto_server,
)

FP = "feedbeef"
MIB = 1024 * 1024
LOGGER = "longvid_assets.resources.s3_store"


@pytest.fixture(scope="module")
def endpoint():
    with moto_server() as url:
        yield url


@pytest.fixture
def admin(endpoint):
    """A plain boto3 client straight to the server: how the tests look at and damage objects."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=TEST_KEY_ID,
        aws_secret_access_key=TEST_SECRET,
    )


@pytest.fixture
def bucket(admin) -> str:
    name = f"t-{uuid.uuid4().hex[:12]}"
    admin.create_bucket(Bucket=name)
    return name


@pytest.fixture(autouse=True)
def new_process():
    """Each test starts as a fresh process would: nothing known about any object."""
    s3_store._KNOWN.clear()
    yield
    s3_store._KNOWN.clear()


def make_store(endpoint: str, bucket: str, cache: Path, **overrides) -> S3ArtifactStore:
    fields = dict(
        bucket=bucket,
        endpoint_url=endpoint,
        aws_access_key_id=TEST_KEY_ID,
        aws_secret_access_key=TEST_SECRET,
        cache_dir=str(cache),
        multipart_threshold_mb=8,
        multipart_chunk_mb=5,
    )
    store = S3ArtifactStore(**{**fields, **overrides})
    store.check_config()
    return store


def another_host(endpoint: str, bucket: str, cache: Path, **overrides) -> S3ArtifactStore:
    """A store as a second host opens it: its own empty cache, nothing known in-process."""
    s3_store._KNOWN.clear()
    return make_store(endpoint, bucket, cache, **overrides)


def put(store: S3ArtifactStore, data: bytes, fp: str = FP, name: str = "clip.mp4") -> None:
    with store.writing("clips", fp, name) as tmp:
        tmp.write_bytes(data)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_round_trip_between_hosts(endpoint, admin, bucket, tmp_path):
    data = os.urandom(50_000)
    writer = make_store(endpoint, bucket, tmp_path / "a")
    put(writer, data)
    head = admin.head_object(Bucket=bucket, Key=f"longvid/artifacts/clips/{FP}/clip.mp4")
    assert head["Metadata"] == {"sha256": sha(data), "size": "50000"}
    assert writer.has("clips", FP, "clip.mp4")
    local = writer.artifact_path("clips", FP, "clip.mp4")
    assert local == tmp_path / "a" / "artifacts" / "clips" / FP / "clip.mp4"
    assert local.read_bytes() == data

    reader = another_host(endpoint, bucket, tmp_path / "b")
    assert reader.has("clips", FP, "clip.mp4")
    copy = reader.artifact_path("clips", FP, "clip.mp4")
    assert copy.read_bytes() == data
    assert not reader.has("clips", "00000000", "clip.mp4")
    assert not reader.artifact_path("clips", "00000000", "clip.mp4").exists()

    # A damaged cached copy is replaced by a fresh, verified download.
    copy.write_bytes(b"damaged in the cache")
    assert reader.artifact_path("clips", FP, "clip.mp4").read_bytes() == data
    assert not [p for p in (tmp_path / "b").rglob(".tmp-*")]


def test_large_artifact_is_uploaded_in_parts(endpoint, admin, bucket, tmp_path):
    data = os.urandom(12 * MIB)
    put(make_store(endpoint, bucket, tmp_path / "a"), data, name="big.mp4")
    key = f"longvid/artifacts/clips/{FP}/big.mp4"
    etag = admin.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    assert etag.endswith("-3"), etag  # 5 + 5 + 2 MiB parts
    copy = another_host(endpoint, bucket, tmp_path / "b").artifact_path("clips", FP, "big.mp4")
    assert sha(copy.read_bytes()) == sha(data)


def test_object_corrupted_in_the_bucket_is_never_returned(
    endpoint, admin, bucket, tmp_path, caplog
):
    data = os.urandom(4096)
    put(make_store(endpoint, bucket, tmp_path / "a"), data)
    key = f"longvid/artifacts/clips/{FP}/clip.mp4"
    metadata = admin.head_object(Bucket=bucket, Key=key)["Metadata"]
    admin.put_object(Bucket=bucket, Key=key, Body=os.urandom(4096), Metadata=metadata)

    reader = another_host(endpoint, bucket, tmp_path / "b")
    # `has()` reads metadata only (no download), and the metadata is intact ...
    assert reader.has("clips", FP, "clip.mp4")
    # ... but the bytes are checked on the way in: wrong ones are never handed out.
    with caplog.at_level(logging.WARNING, logger=LOGGER), pytest.raises(BackendError) as error:
        reader.artifact_path("clips", FP, "clip.mp4")
    message = str(error.value)
    assert "\n" not in message and f"s3://{bucket}/{key} is corrupt" in message
    assert f"aws s3 rm s3://{bucket}/{key} --endpoint-url {endpoint}" in message
    assert caplog.text.count("does not match its metadata") == s3_store.DOWNLOAD_ATTEMPTS
    cache = tmp_path / "b" / "artifacts" / "clips" / FP
    assert not (cache / "clip.mp4").exists() and not list(cache.iterdir())

    # An object whose length contradicts its metadata, or one with no metadata (not written
    # by a store), is not trusted by `has()` either: the stage regenerates it.
    admin.put_object(Bucket=bucket, Key=key, Body=b"short", Metadata=metadata)
    admin.put_object(Bucket=bucket, Key="longvid/artifacts/clips/a1/x.mp4", Body=b"foreign")
    reader = another_host(endpoint, bucket, tmp_path / "b")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert not reader.has("clips", FP, "clip.mp4")
        assert not reader.has("clips", "a1", "x.mp4")
    assert "is corrupt (size 5 != 4096) — regenerating" in caplog.text
    assert "has no sha256/size metadata — regenerating" in caplog.text


def test_concurrent_writer_of_the_same_artifact_is_not_an_error(
    endpoint, admin, bucket, tmp_path, caplog
):
    """Two hosts may generate one fingerprint at once, not always bit-identically: whichever
    complete upload lands last is the artifact, and the other writer does not fail."""
    store = make_store(endpoint, bucket, tmp_path / "a")
    key = f"longvid/artifacts/clips/{FP}/clip.mp4"
    theirs = b"their take"
    upload = store._s3().upload_file

    def upload_then_another_writer(*args, **kwargs):
        upload(*args, **kwargs)
        meta = {"sha256": sha(theirs), "size": str(len(theirs))}
        admin.put_object(Bucket=bucket, Key=key, Body=theirs, Metadata=meta)

    store._s3().upload_file = upload_then_another_writer
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        put(store, b"our take")
    assert "stored by another writer meanwhile" in caplog.text
    assert store.artifact_path("clips", FP, "clip.mp4").read_bytes() == theirs


def test_published_render_has_a_working_presigned_link(endpoint, bucket, tmp_path):
    data = os.urandom(20_000)
    source = tmp_path / "final.mp4"
    source.write_bytes(data)
    store = make_store(endpoint, bucket, tmp_path / "a")
    published = store.publish(source, "meadow", "meadow.mp4")
    assert published == tmp_path / "a" / "renders" / "meadow" / "meadow.mp4"
    assert published.read_bytes() == data

    url = store.download_url("meadow", "meadow.mp4")
    assert "X-Amz-Expires=604800" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == data
    # Another host gets its own local copy of the published file, refreshed when the render
    # is published again (renders, unlike artifacts, change).
    elsewhere = another_host(endpoint, bucket, tmp_path / "b")
    assert elsewhere.published_path("meadow", "meadow.mp4").read_bytes() == data
    source.write_bytes(b"second cut")
    store.publish(source, "meadow", "meadow.mp4")
    assert elsewhere.published_path("meadow", "meadow.mp4").read_bytes() == b"second cut"


def test_source_is_readable_from_another_host(endpoint, bucket, tmp_path, monkeypatch):
    prompt = tmp_path / "prompts" / "meadow.yaml"
    prompt.parent.mkdir()
    prompt.write_text("title: Meadow\nsegments: []\n", encoding="utf-8")
    make_store(endpoint, bucket, tmp_path / "a").remember_source("meadow", prompt)

    reader = another_host(endpoint, bucket, tmp_path / "b")
    assert reader.source_of("meadow") == prompt.resolve()  # the file exists on this host
    monkeypatch.setattr(store_module, "this_host", lambda: "another-host")
    prompt.unlink()  # as on a host that never had it
    copy = reader.source_of("meadow")
    assert copy == tmp_path / "b" / "sources" / "meadow" / "meadow.yaml"
    assert copy.read_text(encoding="utf-8") == "title: Meadow\nsegments: []\n"
    assert reader.source_of("never-rendered") is None


def test_spec_names_env_vars_and_never_carries_secrets(endpoint, bucket, tmp_path, monkeypatch):
    monkeypatch.setenv("LONGVID_TEST_S3_KEY", TEST_KEY_ID)
    monkeypatch.setenv("LONGVID_TEST_S3_SECRET", TEST_SECRET)
    store = make_store(
        endpoint,
        bucket,
        tmp_path / "a",
        aws_access_key_id=EnvVar("LONGVID_TEST_S3_KEY"),
        aws_secret_access_key=EnvVar("LONGVID_TEST_S3_SECRET"),
    )
    spec = store.spec()
    assert spec["aws_access_key_id"] == {"env": "LONGVID_TEST_S3_KEY"}
    assert spec["aws_secret_access_key"] == {"env": "LONGVID_TEST_S3_SECRET"}
    assert json.loads(json.dumps(spec)) == spec and TEST_SECRET not in json.dumps(spec)
    put(store, b"through env credentials")

    worker = store_from_spec(spec)  # as a Ray worker opens it
    assert isinstance(worker, S3ArtifactStore) and worker.spec() == spec
    assert worker.aws_secret_access_key == TEST_SECRET
    assert worker.artifact_path("clips", FP, "clip.mp4").read_bytes() == b"through env credentials"

    # A literal secret is left out: the worker falls back to boto3's default chain.
    literal = make_store(endpoint, bucket, tmp_path / "a").spec()
    assert "aws_access_key_id" not in literal and "aws_secret_access_key" not in literal
    assert store.identity() == {"backend": "s3"}  # where artifacts live is not content

    monkeypatch.delenv("LONGVID_TEST_S3_SECRET")
    with pytest.raises(ConfigError, match="LONGVID_TEST_S3_SECRET, which is not set"):
        store_from_spec(spec)


def test_spec_inside_a_run_still_names_env_vars(endpoint, bucket, tmp_path, monkeypatch):
    """Dagster hands a run the store with `{env: NAME}` fields resolved to their values."""
    monkeypatch.setenv("LONGVID_TEST_S3_SECRET", TEST_SECRET)
    seen = {}

    @asset
    def probe(store: S3ArtifactStore) -> None:
        seen["value"] = store.aws_secret_access_key
        seen["spec"] = store.spec()

    store = make_store(
        endpoint, bucket, tmp_path / "a", aws_secret_access_key=EnvVar("LONGVID_TEST_S3_SECRET")
    )
    assert materialize([probe], resources={"store": store}).success
    assert seen["value"] == TEST_SECRET
    assert seen["spec"]["aws_secret_access_key"] == {"env": "LONGVID_TEST_S3_SECRET"}
    assert TEST_SECRET not in json.dumps(seen["spec"])


def test_config_and_connection_errors_are_one_line(bucket, tmp_path):
    with pytest.raises(ValueError, match="multipart_chunk_mb 4 is below S3's minimum part"):
        make_store(None, bucket, tmp_path, multipart_chunk_mb=4)
    with pytest.raises(ValueError, match="'My_Bucket' is not a valid S3 bucket name"):
        make_store(None, "My_Bucket", tmp_path)
    nowhere = make_store(
        f"http://127.0.0.1:{free_port()}", bucket, tmp_path, max_attempts=1, connect_timeout_s=1
    )
    with pytest.raises(BackendError) as error:
        nowhere.has("clips", FP, "clip.mp4")
    assert "\n" not in str(error.value) and "check the store's endpoint_url" in str(error.value)


def test_proxy_forwards_chunked_bodies(endpoint, admin, bucket):
    """boto3 over plain HTTP sends Content-Length bodies; other clients may send chunked."""
    with FaultyProxy(endpoint, failure_rate=0.0) as proxy:
        connection = http.client.HTTPConnection("127.0.0.1", int(proxy.url.rsplit(":", 1)[1]))
        chunks = iter([b"hello ", b"chunked ", b"world"])
        connection.request("PUT", f"/{bucket}/chunked.txt", body=chunks, encode_chunked=True)
        assert connection.getresponse().status == 200
        connection.close()
    assert proxy.chunked == 1 and proxy.failures == 0
    body = admin.get_object(Bucket=bucket, Key="chunked.txt")["Body"].read()
    assert body == b"hello chunked world"


@pytest.mark.slow
def test_artifacts_survive_a_network_that_fails_30_percent(endpoint, admin, bucket, tmp_path):
    rng = random.Random(3)
    sizes = [0, 1, 17, 4096] + [rng.randrange(1, 2 * MIB) for _ in range(24)] + [9 * MIB] * 2
    artifacts = {f"{i:08x}": rng.randbytes(size) for i, size in enumerate(sizes)}
    with FaultyProxy(endpoint, failure_rate=0.3, seed=11) as proxy:
        writer = make_store(proxy.url, bucket, tmp_path / "a")
        for fp, data in artifacts.items():
            put(writer, data, fp=fp)
        reader = another_host(proxy.url, bucket, tmp_path / "b")
        for fp, data in artifacts.items():
            assert reader.has("clips", fp, "clip.mp4"), fp
            copy = reader.artifact_path("clips", fp, "clip.mp4")
            assert sha(copy.read_bytes()) == sha(data), fp
    assert len(artifacts) == 30
    etags = [
        admin.head_object(Bucket=bucket, Key=f"longvid/artifacts/clips/{fp}/clip.mp4")["ETag"]
        for fp in artifacts
    ]
    assert sum(etag.strip('"').endswith("-2") for etag in etags) == 2  # the 9 MiB ones
    rate = proxy.failures / proxy.requests
    assert proxy.errors > 0 and proxy.drops > 0, (proxy.errors, proxy.drops)
    print(f"proxy: {proxy.requests} requests, {proxy.errors} errors, {proxy.drops} drops")
    assert 0.15 <= rate <= 0.45, (proxy.failures, proxy.requests)  # 0.3 ± ~4 sigma


def test_moto_server_is_stopped_when_the_test_fails():
    with pytest.raises(RuntimeError, match="test failed"), moto_server() as url:
        urllib.request.urlopen(f"{url}/moto-api/", timeout=5).close()
        raise RuntimeError("test failed")
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/moto-api/", timeout=2)
