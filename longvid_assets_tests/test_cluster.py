"""The GPU-scale path for real: a 2-node Ray cluster, PostgreSQL as the Dagster storage and a
moto S3 server as the artifact store, all on 127.0.0.1, rendering a 6-segment prompt with
tiny random-weight SD3 (keyframes) and Wan2.1 FLF2V (clips) through the real assets.

Each node declares one "GPU" (Ray only counts them) and runs one longvid GPU worker. Every
process started here is stopped by PID, pass or fail (see cluster_services / s3_services).
"""

import hashlib
import json
import pickle
import sys
import threading
import time
import uuid
from pathlib import Path

import boto3
import numpy as np
import pytest
from dagster import DagsterInstance, EnvVar, instance_for_test
from pydantic import BaseModel

from longvid_assets.compute.local import LocalCompute
from longvid_assets.compute.ray_compute import RayCompute
from longvid_assets.config import load_config
from longvid_assets.dev import seed_dagster_home
from longvid_assets.media.probe import probe
from longvid_assets.render import render_prompt_file
from longvid_assets.resources import model_cache
from longvid_assets.resources.gpu import GpuResource
from longvid_assets.resources.s3_store import S3ArtifactStore
from longvid_assets.resources.store import LocalArtifactStore
from longvid_assets_tests.backend_helpers import write_config
from longvid_assets_tests.cluster_services import postgres_server, ray_cluster, wait_until
from longvid_assets_tests.s3_services import TEST_KEY_ID, TEST_SECRET, FaultyProxy, moto_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups via /proc"),
]
ray = pytest.importorskip("ray")
pytest.importorskip("dagster_postgres")

ROOT = Path(__file__).resolve().parent.parent
KEY_ENV, SECRET_ENV = "LONGVID_TEST_S3_KEY", "LONGVID_TEST_S3_SECRET"
SHOTS = [
    "A lighthouse on a cliff at dusk",
    "The keeper climbs the spiral stairs",
    "The lamp turns above the sea",
    "A boat rocks in the swell",
    "Fog rolls over the rocks",
    "Dawn breaks over the water",
]


def prompt_text(shots: list[str]) -> str:
    lines = ["title: Six shots", "resolution: [72, 64]", "fps: 8", "music: calm", "seed: 5"]
    lines.append("segments:")
    for shot in shots:
        lines.append(f"  - {{prompt: '{shot}.', narration: '{shot}.', duration: 1}}")
    return "\n".join(lines) + "\n"


def model_sections(sd3: Path, wan: Path) -> dict[str, str]:
    """Wan takes 8 steps so that a clip lasts long enough (~1 s on one core) for the two
    segment runs' clips to overlap: the scheduler then has to use both workers."""
    return {
        "image_generator": (
            f"image_generator:\n  backend: sd3\n  model: {sd3}\n  steps: 2\n"
            "  gpu: {device: auto, dtype: float32}\n"
        ),
        "video_generator": (
            f"video_generator:\n  backend: wan_flf2v\n  model: {wan}\n  steps: 8\n"
            "  window_frames: 9\n  gpu: {device: auto, dtype: float32}\n"
        ),
    }


def decoded_frames(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


# --- services ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg():
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_server() as url:
        yield url


@pytest.fixture(scope="module")
def config_file(tmp_path_factory, tiny_sd3, tiny_wan) -> Path:
    return write_config(tmp_path_factory.mktemp("config"), model_sections(tiny_sd3, tiny_wan))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, config_file) -> list[np.ndarray]:
    """The same prompt rendered in this process (compute: local, local store, SQLite): the
    frames the cluster must reproduce. One torch thread, as each Ray worker has."""
    import torch

    folder = tmp_path_factory.mktemp("in-process")
    (folder / "home").mkdir()
    prompt = folder / "six.yaml"
    prompt.write_text(prompt_text(SHOTS), encoding="utf-8")
    config = load_config(str(config_file))
    config.resources["store"] = LocalArtifactStore(root=str(folder / "store"))
    config.resources["compute"] = LocalCompute()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with instance_for_test(temp_dir=str(folder / "home")) as instance:
            outcome = render_prompt_file(prompt, config, instance, log_level="WARNING")
    finally:
        torch.set_num_threads(threads)
        model_cache.release()
    return decoded_frames(outcome.path)


class Deployment:
    """One test's cluster render: its own Postgres database, bucket, DAGSTER_HOME and config."""

    def __init__(self, tmp_path: Path, pg, endpoint: str, config_file: Path, monkeypatch):
        self.tmp_path, self.endpoint = tmp_path, endpoint
        # 1. A database of its own in the shared server, named to the instance file by env.
        db = f"t_{uuid.uuid4().hex[:10]}"
        conn = pg.connect(db="postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {db}")
        finally:
            conn.close()
        env = {
            "LONGVID_PG_USER": pg.user,
            "LONGVID_PG_PASSWORD": pg.password,
            "LONGVID_PG_HOST": pg.host,
            "LONGVID_PG_PORT": str(pg.port),
            "LONGVID_PG_DB": db,
            KEY_ENV: TEST_KEY_ID,  # the Ray nodes inherit these: workers open the store
            SECRET_ENV: TEST_SECRET,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        # 2. A fresh bucket; the orchestrator's S3 cache in its own temp dir (each Ray node
        #    has its own TMPDIR, so no cached file is shared between "hosts").
        self.bucket = f"lv-{uuid.uuid4().hex[:12]}"
        self.admin().create_bucket(Bucket=self.bucket)
        monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
        # 3. DAGSTER_HOME seeded as `longvid dev --instance configs/instance/postgres.yaml`.
        self.home = tmp_path / "dagster_home"
        seed_dagster_home(self.home, 2, instance_file=ROOT / "configs/instance/postgres.yaml")
        monkeypatch.setenv("DAGSTER_HOME", str(self.home))
        self.config = load_config(str(config_file))
        self.prompt = tmp_path / "six.yaml"
        self.prompt.write_text(prompt_text(SHOTS), encoding="utf-8")

    def admin(self):
        """A plain boto3 client straight to the server (not through any proxy)."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=TEST_KEY_ID,
            aws_secret_access_key=TEST_SECRET,
        )

    def attach(self, cluster, store_endpoint: str | None = None) -> RayCompute:
        store = S3ArtifactStore(
            bucket=self.bucket,
            endpoint_url=store_endpoint or self.endpoint,
            aws_access_key_id=EnvVar(KEY_ENV),
            aws_secret_access_key=EnvVar(SECRET_ENV),
            connect_timeout_s=2,
            read_timeout_s=10,
        )
        compute = RayCompute(address=cluster.address, workers=2)
        self.config.resources["store"] = store
        self.config.resources["compute"] = compute
        assert compute.wait_for_workers(2, timeout_s=120) == 2
        return compute

    def render(self, prompt: Path | None = None):
        with DagsterInstance.get() as instance:
            return render_prompt_file(
                prompt or self.prompt, self.config, instance, log_level="WARNING"
            )

    def verify_bucket(self) -> int:
        """Every artifact and published file is whole: its bytes hash to the sha256 its
        writer recorded; no temp object or unfinished multipart upload is left."""
        client, count = self.admin(), 0
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for item in page.get("Contents", []):
                key = item["Key"]
                head = client.head_object(Bucket=self.bucket, Key=key)
                body = client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                if key.startswith("longvid/sources/"):  # a small JSON document, put whole
                    assert json.loads(body)["text"], key
                    continue
                recorded = head["Metadata"]
                assert "sha256" in recorded and "size" in recorded, key
                assert hashlib.sha256(body).hexdigest() == recorded["sha256"], key
                assert len(body) == int(recorded["size"]) == item["Size"], key
                assert ".tmp" not in key, key
                count += 1
        uploads = client.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])
        assert uploads == [], uploads  # an interrupted multipart upload was aborted
        return count


@pytest.fixture
def deployment(tmp_path, pg, s3_endpoint, config_file, monkeypatch):
    yield Deployment(tmp_path, pg, s3_endpoint, config_file, monkeypatch)
    ray.shutdown()
    model_cache.release()


def node_names(cluster) -> dict[str, str]:
    """Ray node id -> our node name (a = head, b)."""
    by_port = {node.node_manager_port: node.name for node in cluster.nodes}
    return {n["NodeID"]: by_port[n["NodeManagerPort"]] for n in ray.nodes()}


def records_between_assets(home: Path) -> list:
    """Every output one asset handed another: the pickles Dagster's IO manager stored."""
    stages = {"segment_plan", "keyframe_images", "segment_clips", "clip_captions"}
    stages |= {"audio_tracks", "final_video"}
    found = []
    for stage in stages:
        for path in sorted((home / "storage" / stage).rglob("*")):
            if path.is_file():
                found.append(pickle.loads(path.read_bytes()))
    return found


def strings_in(value) -> list[str]:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return _walk(json.loads(json.dumps(value, default=str)))


def _walk(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _walk(v)]
    if isinstance(value, list):
        return [s for v in value for s in _walk(v)]
    return []


def worker_stats(compute: RayCompute) -> list[dict]:
    return [w for w in compute.stats()["workers"] if "error" not in w]


# --- tests ---------------------------------------------------------------------------------


def test_six_segments_on_two_ray_nodes_with_postgres_and_s3(
    deployment, reference, tmp_path, monkeypatch
):
    # Any step that resolves a torch device in this process (the orchestrator) touched a GPU.
    touched: list[str] = []
    real_resolve = GpuResource._resolve

    def spy(self):
        touched.append(self.device)
        return real_resolve(self)

    monkeypatch.setattr(GpuResource, "_resolve", spy)
    loads_here = dict(model_cache.LOADS)
    with ray_cluster([{"num_gpus": 1, "num_cpus": 2}, {"num_gpus": 1, "num_cpus": 2}]) as cluster:
        compute = deployment.attach(cluster)

        # 1. The render: both nodes' workers generate segments; each loads each model once.
        outcome = deployment.render()
        assert outcome.parallel == 2
        names = node_names(cluster)
        stats = worker_stats(compute)
        assert len(stats) == 2, stats
        clips_by_node = {names[w["node"]]: len(w["made"].get("clip", [])) for w in stats}
        assert clips_by_node.keys() == {"a", "b"} and min(clips_by_node.values()) >= 1, stats
        assert sum(clips_by_node.values()) == len(SHOTS), stats
        for worker in stats:
            assert worker["gpu_ids"] and worker["cuda_visible_devices"], worker
            assert worker["loads"] == {"diffusers_images": 1, "wan_flf2v": 1}, worker
        # 2. Every keyframe was generated once: 7 boundaries, 7 makes across both workers.
        keyframes = [key for w in stats for key in w["made"].get("keyframe", [])]
        assert len(keyframes) == len(set(keyframes)) == len(SHOTS) + 1, keyframes
        # 3. Nothing in the orchestrator resolved a device or loaded a model.
        assert touched == [], touched
        for kind in ("diffusers_images", "wan_flf2v"):  # (Piper, on the CPU, loads here)
            assert model_cache.LOADS[kind] == loads_here.get(kind, 0), kind
        # 4. The final MP4 is frame for frame the in-process render's.
        frames = decoded_frames(outcome.path)
        assert len(frames) == len(reference) == 6 * 8
        for index, (ours, theirs) in enumerate(zip(frames, reference, strict=True)):
            assert np.array_equal(ours, theirs), f"frame {index} differs"
        published = outcome.final.published  # a key in the store, not a path on this host
        assert published == "renders/six/six.mp4", published
        deployment.admin().head_object(Bucket=deployment.bucket, Key=f"longvid/{published}")
        assert probe(outcome.path).audio_codec == "aac"
        # 5. No record handed between assets names a local absolute path.
        records = records_between_assets(deployment.home)
        assert len(records) >= 1 + 3 * len(SHOTS) + 2, len(records)
        for record in records:
            for text in strings_in(record):
                assert not text.startswith("/") and str(tmp_path) not in text, (record, text)
        # 6. Postgres holds the runs.
        with DagsterInstance.get() as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            runs = instance.get_runs()
            assert runs and {r.status.value for r in runs} == {"SUCCESS"}

        # 7. An edited prompt: only its segments are made again, and no model loads again.
        tasks_before = sum(w["tasks"] for w in stats)
        deployment.prompt.write_text(
            prompt_text([*SHOTS[:5], "Dawn breaks over a calm sea"]), encoding="utf-8"
        )
        second = deployment.render()
        after = worker_stats(compute)
        assert [w["loads"] for w in after] == [w["loads"] for w in stats], after
        assert sum(w["tasks"] for w in after) > tasks_before
        clips = second.statuses["segment_clips"]
        rebuilt = {key for key, status in clips.items() if status == "built"}
        assert rebuilt and len(rebuilt) < len(SHOTS), second.statuses
        assert deployment.verify_bucket() > 0
    assert touched == []


def test_killing_a_worker_node_mid_render_loses_nothing(deployment, reference):
    with ray_cluster([{"num_gpus": 1, "num_cpus": 2}, {"num_gpus": 1, "num_cpus": 2}]) as cluster:
        compute = deployment.attach(cluster)
        names = node_names(cluster)
        result: dict = {}

        def render():
            try:
                result["outcome"] = deployment.render()
            except BaseException as exc:  # reported by the assertion below
                result["error"] = exc

        thread = threading.Thread(target=render)
        thread.start()

        # 1. Once node b's worker is busy with a clip (not its first task), kill -9 the node.
        def b_makes_a_clip() -> bool:
            for worker in worker_stats(compute):
                on_b = names.get(worker["node"]) == "b"
                if on_b and worker["tasks"] >= 1 and worker["running"].startswith("clip"):
                    return True
            return False

        assert wait_until(b_makes_a_clip, 180, interval_s=0.2), compute.stats()
        cluster.nodes[1].kill()
        killed_at = time.monotonic()
        cluster.nodes[1].wait_dead(timeout_s=15)
        thread.join(timeout=600)
        assert not thread.is_alive(), "the render did not finish after the node was killed"
        assert "error" not in result, result.get("error")
        print(f"render finished {time.monotonic() - killed_at:.1f} s after node b was killed")

        # 2. The scheduler saw the worker die and ran its task elsewhere.
        stats = compute.stats()
        assert any("worker" in failure for failure in stats["failures"]), stats
        # 3. Same final frames; every object in the bucket is whole.
        frames = decoded_frames(result["outcome"].path)
        assert len(frames) == len(reference)
        assert all(np.array_equal(a, b) for a, b in zip(frames, reference, strict=True))
        assert deployment.verify_bucket() > 0


def test_store_behind_a_network_failing_30_percent(deployment, reference):
    with (
        FaultyProxy(deployment.endpoint, failure_rate=0.3, seed=5) as proxy,
        ray_cluster([{"num_gpus": 1, "num_cpus": 2}, {"num_gpus": 1, "num_cpus": 2}]) as cluster,
    ):
        deployment.attach(cluster, store_endpoint=proxy.url)
        outcome = deployment.render()
        frames = decoded_frames(outcome.path)
        requests, failures = proxy.requests, proxy.failures
    print(f"proxy: {requests} requests, {failures} failed")
    assert failures > 0 and 0.15 <= failures / requests <= 0.45, (failures, requests)
    assert len(frames) == len(reference)
    assert all(np.array_equal(a, b) for a, b in zip(frames, reference, strict=True))
    assert deployment.verify_bucket() > 0
