"""The real-service helpers start what they promise and leave nothing behind.

PostgreSQL: a table can be created and read; after the context the postmaster is gone and
its port is free. Ray: two nodes with one GPU each take one GPU actor each (Ray sets
CUDA_VISIBLE_DEVICES for it); a SIGKILLed node is reported dead within the fast health
check window; after the context no process of the cluster is left.
"""

import os
import sys
import time

import pytest

from longvid_assets_tests.cluster_services import (
    pid_alive,
    port_is_free,
    postgres_server,
    processes_mentioning,
    ray_cluster,
    wait_until,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups via /proc"),
]
DEAD_WITHIN_S = 20  # health checks: ~1 s initial delay + 3 missed 1 s periods, plus slack


def test_postgres_server_serves_and_stops_by_pid():
    with postgres_server() as pg:
        pid, port = pg.pid, pg.port
        assert pid_alive(pid) and not port_is_free(port)
        conn = pg.connect()
        try:
            with conn, conn.cursor() as cursor:
                cursor.execute("CREATE TABLE clips (id serial PRIMARY KEY, name text)")
                cursor.execute("INSERT INTO clips (name) VALUES ('fox'), ('owl')")
                cursor.execute("SELECT name FROM clips ORDER BY id")
                assert [row[0] for row in cursor.fetchall()] == ["fox", "owl"]
        finally:
            conn.close()
        assert pg.url == f"postgresql+psycopg2://postgres:longvid@127.0.0.1:{port}/longvid"
    assert not pid_alive(pid)
    assert port_is_free(port)


def node_names_by_id(cluster, ray) -> dict[str, str]:
    """Ray node id -> our node name (a, b), matched on the node manager port."""
    by_port = {node.node_manager_port: node.name for node in cluster.nodes}
    return {n["NodeID"]: by_port[n["NodeManagerPort"]] for n in ray.nodes()}


def test_ray_cluster_places_gpu_actors_on_both_nodes_and_detects_a_killed_node():
    ray = pytest.importorskip("ray")

    @ray.remote(num_gpus=1)
    class GpuProbe:
        def where(self) -> dict:
            return {
                "node_id": ray.get_runtime_context().get_node_id(),
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "gpu_ids": ray.get_gpu_ids(),
            }

    started_pids: list[int] = []
    with ray_cluster([{"num_gpus": 1}, {"num_gpus": 1}]) as cluster:
        ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
        try:
            # 1. One GPU per node, two GPU actors: Ray has to put one on each node.
            probes = [GpuProbe.remote() for _ in cluster.nodes]
            seen = ray.get([probe.where.remote() for probe in probes], timeout=60)
            names = node_names_by_id(cluster, ray)
            assert sorted(names[item["node_id"]] for item in seen) == ["a", "b"], seen
            for item in seen:
                assert item["cuda_visible_devices"] not in (None, ""), item
                assert item["gpu_ids"], item
            for node in cluster.nodes:
                started_pids += node.processes()
            started_pids += processes_mentioning(str(cluster.root))

            # 2. Kill node b outright; Ray marks it dead within the health check window.
            node_b = cluster.nodes[1]
            b_id = next(node_id for node_id, name in names.items() if name == "b")
            killed_at = time.monotonic()
            node_b.kill()
            node_b.wait_dead(timeout_s=10)

            def b_reported_dead() -> bool:
                return any(n["NodeID"] == b_id and not n["Alive"] for n in ray.nodes())

            assert wait_until(b_reported_dead, DEAD_WITHIN_S, interval_s=0.5), ray.nodes()
            print(f"node b reported dead {time.monotonic() - killed_at:.1f} s after SIGKILL")
        finally:
            ray.shutdown()
        root = cluster.root
    # 3. Nothing of the cluster outlives the context.
    assert started_pids
    assert [pid for pid in set(started_pids) if pid_alive(pid)] == []
    assert processes_mentioning(str(root)) == []
    assert not root.exists()
