"""Real services for tests: a PostgreSQL 15 server and a multi-node Ray cluster on 127.0.0.1.

Both are started as real processes in their own sessions and ALWAYS stopped by PID in
`finally` — the server's or node's process group first asked politely, then SIGKILLed — so a
failing test leaves no postmaster, raylet or Ray worker behind for the next one (or for the
other engineers sharing the machine). Linux only: process groups are read from /proc.

    with postgres_server() as pg:           # pg.url, pg.host, pg.port, pg.user, pg.db
        ...
    with ray_cluster() as cluster:          # cluster.address, cluster.nodes[i].kill()
        ...
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "postgres"
PG_DB = "longvid"

# Ray's health checks, read by the GCS on the head: a node that stops answering is marked
# dead after about initial delay + period × threshold (≈ 4 s) instead of the default ≈ 30 s.
RAY_FAST_FAILURE_ENV = {
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}
# Fewer idle Python workers on a small machine; no usage-stats reporting.
RAY_LEAN_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_prestart_worker_first_driver": "0",
    "RAY_enable_worker_prestart": "0",
}


# --- ports and processes ---------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether a server could bind the port now (nobody listens on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, pgid) of a process from /proc, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[2])


def pid_alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (a zombie has already exited)."""
    info = _stat(pid)
    return info is not None and info[0] != "Z"


def _all_pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def processes_in_group(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is `pgid`."""
    pids = []
    for pid in _all_pids():
        info = _stat(pid)
        if info is not None and info[2] == pgid and info[0] != "Z":
            pids.append(pid)
    return pids


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains `text` (e.g. a cluster's temp dir)."""
    pids = []
    for pid in _all_pids():
        if pid == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if text.encode() in cmdline and pid_alive(pid):
            pids.append(pid)
    return pids


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` in the parent tree (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for other in _all_pids():
        info = _stat(other)
        if info is not None and info[0] != "Z":
            children.setdefault(info[1], []).append(other)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def wait_until(condition, timeout_s: float, interval_s: float = 0.1) -> bool:
    """Poll `condition()` until it is true or `timeout_s` passed; returns its last value."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _signal_pids(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop_group(process: subprocess.Popen, first_signal: int, grace_s: float) -> None:
    """Send `first_signal` to the group leader, then SIGKILL the whole group after `grace_s`.

    The leader is the process we started with `start_new_session=True`, so its PID is the
    group id; anything it forked and left behind in the group dies with the SIGKILL.
    """
    pgid = process.pid
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, first_signal)

    def group_gone() -> bool:
        process.poll()  # reap the leader once it exits, so it stops counting as alive
        return not processes_in_group(pgid)

    if not wait_until(group_gone, grace_s):
        _signal_group(pgid, signal.SIGKILL)
        wait_until(group_gone, 10)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- PostgreSQL ------------------------------------------------------------------------------


@dataclass
class PostgresServer:
    """A running server: `url` for SQLAlchemy (and Dagster's `postgres_url`), `connect()`
    for psycopg2."""

    host: str
    port: int
    user: str
    password: str  # trust auth: any password is accepted, this one is for config files
    db: str
    pid: int  # the postmaster
    root: Path  # data dir, socket and log live below it

    @property
    def url(self) -> str:
        # The driver is named: SQLAlchemy >= 2.1 maps plain postgresql:// to psycopg (3).
        credentials = f"{self.user}:{self.password}"
        return f"postgresql+psycopg2://{credentials}@{self.host}:{self.port}/{self.db}"

    def connect(self, db: str | None = None):
        import psycopg2

        return psycopg2.connect(
            host=self.host, port=self.port, user=self.user, dbname=db or self.db, connect_timeout=5
        )


def _as_postgres_user() -> dict:
    """Popen arguments that drop root to the `postgres` user (initdb and postgres refuse root).

    `user=`/`group=` make the Popen PID the postmaster itself — with `runuser` in front it
    would be runuser's, and stopping by PID would have to read postmaster.pid instead.
    """
    if os.geteuid() != 0:
        return {}
    return {"user": PG_USER, "group": PG_USER, "extra_groups": []}


def _wait_for_postgres(process: subprocess.Popen, port: int, log: Path, timeout_s: float) -> None:
    import psycopg2

    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"postgres exited with {process.returncode}: {_tail(log, 5)}")
        try:
            psycopg2.connect(
                host="127.0.0.1", port=port, user=PG_USER, dbname="postgres", connect_timeout=2
            ).close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"postgres did not accept connections in {timeout_s} s: {_tail(log, 5)}"
                ) from None
            time.sleep(0.1)


@contextlib.contextmanager
def postgres_server(timeout_s: float = 60) -> Iterator[PostgresServer]:
    """A fresh PostgreSQL 15 server with a database `longvid`, stopped by PID on exit."""
    root = Path(tempfile.mkdtemp(prefix="lvpg-"))
    process = None
    try:
        # 1. A data dir owned by the postgres user, trust auth (local and 127.0.0.1).
        if os.geteuid() == 0:
            shutil.chown(root, PG_USER, PG_USER)
        data, log = root / "data", root / "postgres.log"
        initdb = subprocess.run(
            [str(PG_BIN / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust"]
            + ["--no-sync", "--encoding=UTF8", "--locale=C", "--no-instructions"],
            cwd=root,
            capture_output=True,
            text=True,
            **_as_postgres_user(),
        )
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed: {initdb.stderr.strip().splitlines()[-1:]}")
        # 2. The postmaster in its own session, listening on a free port and a socket in root.
        port = free_port()
        with log.open("w") as log_file:
            process = subprocess.Popen(
                [str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port), "-k", str(root)]
                + ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]
                + ["-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
                cwd=root,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **_as_postgres_user(),
            )
        # 3. Wait until it accepts connections, then create the database.
        _wait_for_postgres(process, port, log, timeout_s)
        server = PostgresServer("127.0.0.1", port, PG_USER, "longvid", PG_DB, process.pid, root)
        conn = server.connect(db="postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {PG_DB}")
        finally:
            conn.close()
        yield server
    finally:
        # SIGINT is a "fast" shutdown (what `pg_ctl stop -m fast` sends): open sessions are
        # rolled back instead of waited for, as SIGTERM ("smart") would.
        if process is not None:
            stop_group(process, signal.SIGINT, grace_s=15)
        shutil.rmtree(root, ignore_errors=True)


# --- Ray -------------------------------------------------------------------------------------


@dataclass
class RayNode:
    """One `ray start --block` process; its session holds its raylet and worker processes."""

    name: str  # "a" for the head, then "b", "c", ...
    process: subprocess.Popen
    temp_dir: Path
    node_manager_port: int  # how Ray's node table names this node
    spec: dict  # as given to ray_cluster
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def pgid(self) -> int:
        return self.process.pid  # started with start_new_session=True

    @property
    def resource(self) -> str:
        """The custom resource only this node has: `options(resources={node.resource: 1})`."""
        return f"node_{self.name}"

    def processes(self) -> list[int]:
        self.process.poll()
        return processes_in_group(self.pgid)

    def kill(self) -> None:
        """SIGKILL the whole node at once (raylet, object store, workers): a node failure."""
        _signal_group(self.pgid, signal.SIGKILL)

    def wait_dead(self, timeout_s: float = 15) -> None:
        """Wait until no process of this node's group is left; TimeoutError names the rest."""
        if not wait_until(lambda: not self.processes(), timeout_s):
            raise TimeoutError(f"ray node {self.name}: still running {self.processes()}")

    def stop(self, grace_s: float = 10) -> None:
        stop_group(self.process, signal.SIGTERM, grace_s)


# Run in a short-lived driver subprocess: the node table as Ray reports it.
_NODES_SCRIPT = """
import json, sys
import ray
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
nodes = [{"port": n["NodeManagerPort"], "alive": n["Alive"]} for n in ray.nodes()]
print(json.dumps(nodes))
"""


@dataclass
class RayCluster:
    address: str  # "127.0.0.1:<gcs port>", for `ray.init(address=...)`
    nodes: list[RayNode]
    root: Path  # every node's temp dir lies below it
    env: dict[str, str] = field(repr=False)

    @property
    def head(self) -> RayNode:
        return self.nodes[0]

    def node_states(self, timeout_s: float = 60) -> dict[str, bool]:
        """node name -> alive, from `ray.nodes()` in a short-lived driver (not this process)."""
        result = subprocess.run(
            [sys.executable, "-c", _NODES_SCRIPT, self.address],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        if result.returncode != 0:
            raise RuntimeError(f"ray.nodes() failed: {result.stderr.strip()[-500:]}")
        reported = json.loads(result.stdout.strip().splitlines()[-1])
        by_port = {node.node_manager_port: node.name for node in self.nodes}
        states: dict[str, bool] = {}
        for entry in reported:
            name = by_port.get(entry["port"])
            if name is not None:
                states[name] = states.get(name, False) or entry["alive"]
        return states


def _ray_command(
    name: str, spec: dict, temp_dir: Path, node_manager_port: int, head: str | int
) -> list[str]:
    """The `ray start --block` line of one node. `head` is the GCS port to open (the head
    itself) or the address to join. Every port is free-picked: Ray's fixed defaults (52365,
    10001, ...) would clash between two nodes on one machine, or with another cluster."""
    spec = dict(spec)
    resources = {**spec.pop("resources", {}), f"node_{name}": 1}
    command = [
        str(Path(sys.executable).with_name("ray")),
        "start",
        "--block",
        "--node-ip-address=127.0.0.1",
        f"--num-cpus={spec.pop('num_cpus', 1)}",
        f"--num-gpus={spec.pop('num_gpus', 0)}",
        f"--resources={json.dumps(resources)}",
        f"--object-store-memory={spec.pop('object_store_memory', 100 * 1024**2)}",
        f"--temp-dir={temp_dir}",
        "--disable-usage-stats",
        f"--node-manager-port={node_manager_port}",
        "--min-worker-port=0",  # 0: workers bind OS-picked ports
        "--max-worker-port=0",
        f"--dashboard-agent-listen-port={free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}",
        f"--runtime-env-agent-port={free_port()}",
        f"--metrics-export-port={free_port()}",
    ]
    if spec:
        raise ValueError(f"ray_cluster: unknown node setting(s) {sorted(spec)}")
    if isinstance(head, int):
        return command + [
            "--head",
            f"--port={head}",
            "--include-dashboard=false",
            f"--dashboard-port={free_port()}",
            f"--ray-client-server-port={free_port()}",
        ]
    return command + [f"--address={head}"]


def _start_node(name: str, spec: dict, head: str | int, root: Path, env: dict) -> RayNode:
    """Start one node in its own session, logging to `<root>/<name>.log`."""
    temp_dir = root / name
    temp_dir.mkdir()
    node_manager_port = free_port()
    command = _ray_command(name, spec, temp_dir, node_manager_port, head)
    log = root / f"{name}.log"
    # Each node its own TMPDIR, as separate hosts have: nothing below tempfile.gettempdir()
    # (the S3 store's cache, task locks) is shared between nodes by accident.
    tmp = temp_dir / "tmp"
    tmp.mkdir()
    with log.open("w") as log_file:
        process = subprocess.Popen(
            command,
            cwd=root,
            env={**env, "TMPDIR": str(tmp)},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return RayNode(name, process, temp_dir, node_manager_port, dict(spec), log)


def _wait_all_alive(cluster: RayCluster, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    states: dict[str, bool] = {}
    while time.monotonic() < deadline:
        for node in cluster.nodes:
            if node.process.poll() is not None:
                raise RuntimeError(
                    f"ray node {node.name} exited with {node.process.returncode}: "
                    f"{_tail(node.log, 5)}"
                )
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            states = cluster.node_states(timeout_s=max(5.0, deadline - time.monotonic()))
            if len(states) == len(cluster.nodes) and all(states.values()):
                return
        time.sleep(0.5)
    raise TimeoutError(f"ray cluster not up in {timeout_s} s: alive={states}")


@contextlib.contextmanager
def ray_cluster(
    nodes: list[dict] | None = None, env: dict[str, str] | None = None, timeout_s: float = 90
) -> Iterator[RayCluster]:
    """A real Ray cluster on this machine: the first spec is the head, one node per spec.

    A spec takes num_gpus, num_cpus (default 1), resources and object_store_memory. Each
    node also gets the custom resource `node_<name>` (a, b, ...) so tests can place work on
    it. `env` is added to every node's environment. On exit every node's process group is
    SIGTERMed then SIGKILLed, and any leftover process whose command line names this
    cluster's temp dir is killed too — pass or fail.

    Every node is started with `--node-ip-address=127.0.0.1`, but Ray on Linux replaces a
    loopback address with the host's primary one (`resolve_ip_for_localhost`; the only
    switch, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, refuses to start worker nodes), so the
    node table shows that address. Traffic stays on this machine; `address` (127.0.0.1)
    works for `ray.init(address=...)` as the GCS listens on every interface.
    """
    nodes = nodes if nodes is not None else [{"num_gpus": 1}, {"num_gpus": 1}]
    if not nodes:
        raise ValueError("ray_cluster: needs at least one node spec (the head)")
    # Short: Ray puts Unix sockets below the temp dir, and their paths are limited to 107 bytes.
    root = Path(tempfile.mkdtemp(prefix="lvray-", dir="/tmp"))
    node_env = {**os.environ, **RAY_LEAN_ENV, **RAY_FAST_FAILURE_ENV, **(env or {})}
    node_env.pop("CUDA_VISIBLE_DEVICES", None)  # Ray sets it per actor from --num-gpus
    node_env.pop("RAY_ADDRESS", None)
    started: list[RayNode] = []
    try:
        port = free_port()
        address = f"127.0.0.1:{port}"
        for index, spec in enumerate(nodes):
            head = port if index == 0 else address
            started.append(_start_node(chr(ord("a") + index), spec, head, root, node_env))
        cluster = RayCluster(address, started, root, node_env)
        _wait_all_alive(cluster, timeout_s)
        yield cluster
    finally:
        # Workers before the head: a worker node outliving the GCS retries for a while.
        for node in reversed(started):
            node.stop()
        leftovers = processes_mentioning(str(root))
        _signal_pids(leftovers, signal.SIGKILL)
        wait_until(lambda: not processes_mentioning(str(root)), 10)
        shutil.rmtree(root, ignore_errors=True)
