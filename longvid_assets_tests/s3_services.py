"""Real S3 services for tests: a moto S3 server process and a proxy that fails requests.

    with moto_server() as endpoint:                      # "http://127.0.0.1:<port>"
        with FaultyProxy(endpoint, failure_rate=0.3, seed=7) as proxy:
            store = S3ArtifactStore(bucket=..., endpoint_url=proxy.url, ...)
            ...
        proxy.requests, proxy.failures                   # what it saw and what it broke

The server runs in its own session and is ALWAYS stopped by PID in `finally` (its process
group asked with SIGTERM, then SIGKILLed), pass or fail, so no moto process outlives a test.
"""

import contextlib
import http.client
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

# Credentials moto accepts (it checks none); tests pass them to the stores explicitly.
TEST_KEY_ID = "testing"
TEST_SECRET = "testing-secret"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- moto ------------------------------------------------------------------------------------


@contextlib.contextmanager
def moto_server(start_timeout_s: float = 30.0) -> Iterator[str]:
    """Run `python -m moto.server` on 127.0.0.1:<free port>; yield its endpoint URL."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
    with tempfile.TemporaryDirectory(prefix="moto-") as folder:
        log = Path(folder) / "server.log"
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
            try:
                _wait_until_answering(endpoint, process, log, start_timeout_s)
                yield endpoint
            finally:
                stop_process_group(process)


def _wait_until_answering(
    endpoint: str, process: subprocess.Popen, log: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with {process.returncode}: {_tail(log)}")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"moto server did not answer at {endpoint} in {timeout_s}s: {_tail(log)}")


def _tail(log: Path) -> str:
    return " | ".join(log.read_text(errors="replace").splitlines()[-5:])


def stop_process_group(process: subprocess.Popen, grace_s: float = 5.0) -> None:
    """SIGTERM the process's group (it leads its own session), SIGKILL after `grace_s`."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace_s)


# --- a proxy that fails requests ---------------------------------------------------------------

# Not forwarded: they describe one hop (the proxy re-frames bodies with Content-Length).
_HOP_HEADERS = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "content-length",
}
_ERRORS = [
    (500, "InternalError", "We encountered an internal error. Please try again."),
    (503, "SlowDown", "Please reduce your request rate."),
]


class FaultyProxy:
    """An HTTP proxy on 127.0.0.1 that breaks a seeded random `failure_rate` of requests —
    half answered 500/503 with an S3 XML error, half dropped without any response — and
    forwards the rest to `target_url`. Failed requests never reach the target."""

    def __init__(self, target_url: str, failure_rate: float = 0.3, seed: int = 0):
        target = urlsplit(target_url)
        self.target = (target.hostname, target.port or 80)
        self.failure_rate = failure_rate
        self.requests = 0
        self.errors = 0  # answered 500/503
        self.drops = 0  # connection closed without a response
        self.chunked = 0  # request bodies that came with chunked transfer encoding
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()  # client connections, closed on exit
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def failures(self) -> int:
        return self.errors + self.drops

    def decide(self) -> str:
        """'forward', 'drop', or an index into `_ERRORS` as text, for the next request
        (seeded: the same sequence of decisions, in arrival order, for the same seed)."""
        with self._lock:
            self.requests += 1
            if self._random.random() >= self.failure_rate:
                return "forward"
            if self._random.random() < 0.5:
                self.drops += 1
                return "drop"
            self.errors += 1
            return str(self._random.randrange(len(_ERRORS)))

    def __enter__(self) -> "FaultyProxy":
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="faulty-proxy", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        """Stop accepting, then end kept-alive connections so no handler thread lingers."""
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def track(self, connection: socket.socket, is_open: bool) -> None:
        with self._lock:
            if is_open:
                self._open.add(connection)
            else:
                self._open.discard(connection)


def _handler_for(proxy: FaultyProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(_ProxyHandler):
        owner = proxy

    return Handler


class _ProxyHandler(BaseHTTPRequestHandler):
    """Reads each request whole (Content-Length or chunked), then fails or forwards it."""

    protocol_version = "HTTP/1.1"  # keep-alive, and `Expect: 100-continue` is answered
    owner: FaultyProxy

    def do_GET(self) -> None:
        self._handle()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

    def setup(self) -> None:
        super().setup()
        self.owner.track(self.connection, is_open=True)

    def finish(self) -> None:
        self.owner.track(self.connection, is_open=False)
        super().finish()

    def log_message(self, format, *args) -> None:
        """Quiet: one line per request would drown the test output."""

    def _handle(self) -> None:
        body = self._read_body()
        action = self.owner.decide()
        if action == "forward":
            self._forward(body)
        elif action == "drop":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self._send_error_xml(*_ERRORS[int(action)])

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            with self.owner._lock:
                self.owner.chunked += 1
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        """An HTTP/1.1 chunked body: `<hex size>[;ext]CRLF data CRLF`..., `0`, trailers."""
        parts = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailer fields end with an empty line
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after the data

    def _send_error_xml(self, status: int, code: str, message: str) -> None:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<Resource>{self.path}</Resource><RequestId>faulty-proxy</RequestId></Error>"
        ).encode()
        self.send_response_only(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(0 if self.command == "HEAD" else len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _forward(self, body: bytes) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
        if body or self.command in ("PUT", "POST"):
            headers["Content-Length"] = str(len(body))
        upstream = http.client.HTTPConnection(*self.owner.target, timeout=120)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            self.send_response_only(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in _HOP_HEADERS:
                    self.send_header(name, value)
            # HEAD: the object's length, without a body; otherwise the body we read.
            length = response.getheader("Content-Length", "0") if self.command == "HEAD" else None
            self.send_header("Content-Length", length or str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        finally:
            upstream.close()
