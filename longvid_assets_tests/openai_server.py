"""A real local HTTP server that speaks enough of the OpenAI REST API for tests.

    with OpenAIServer() as server:
        server.reply_text('{"answer": 42}')           # next chat completion
        server.reply_error(401, "Incorrect API key")   # the one after that
        server.reply_echo_key(401)                     # an error body quoting the bearer token
        server.reply_hang()                            # a request never answered
        client = openai.OpenAI(base_url=server.base_url, api_key="test-key")
        ...
        server.requests[0].body["messages"]             # what the client sent

Chat completions, image generations (b64_json) and speech are served. Each path answers
from its own queue of scripted replies (`reply_*`, `queue`); images and speech fall back to
a plain default when their queue is empty, chat completions answer HTTP 400 so a missing
script fails loudly. Add a path with `route(path, handler)`. Every request is recorded.
"""

import base64
import io
import json
import socket
import threading
import time
import wave
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHAT_PATH = "/v1/chat/completions"
IMAGES_PATH = "/v1/images/generations"
SPEECH_PATH = "/v1/audio/speech"


@dataclass
class Request:
    """One recorded request; `headers` has lower-case names; `body` is the parsed JSON, or
    None when it was not JSON."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any = None

    @property
    def bearer(self) -> str | None:
        """The token of an `Authorization: Bearer ...` header."""
        value = self.headers.get("authorization", "")
        return value[len("Bearer ") :] if value.startswith("Bearer ") else None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> "Response":
        return cls(status=status, body=json.dumps(payload).encode())


@dataclass(frozen=True)
class EchoKey:
    """Scripted reply: an error body quoting the request's bearer token."""

    status: int


HANG = object()  # scripted reply: never answer


def special_reply(server: "OpenAIServer", request: Request, reply: Any) -> Response | None:
    """The response for an `EchoKey` or `HANG` reply (after holding the request until the
    server stops), else None."""
    if isinstance(reply, EchoKey):
        message = f"Incorrect API key provided: {request.bearer}. You can find your key at ..."
        body = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
        return Response.json(body, status=reply.status)
    if reply is HANG:
        server._stopping.wait()
        return Response.json({"error": {"message": "server stopped"}}, status=503)
    return None


# A handler turns a request (and the server, for its queues) into a response.
Handler = Callable[["OpenAIServer", Request], Response]


class OpenAIServer:
    """A ThreadingHTTPServer on 127.0.0.1 (a free port) in a daemon thread; a context manager
    that always shuts down."""

    def __init__(self, model: str = "test-model"):
        self.model = model
        self.requests: list[Request] = []
        self.routes: dict[str, Handler] = {
            CHAT_PATH: chat_completion,
            IMAGES_PATH: image_generation,
            SPEECH_PATH: speech,
        }
        self._queues: dict[str, deque] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # releases requests held by `reply_hang`
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle ---------------------------------------------------------------------------
    def start(self) -> "OpenAIServer":
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler_class(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    def __enter__(self) -> "OpenAIServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not running: call start() or use `with`")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as `base_url`."""
        return f"http://127.0.0.1:{self.port}/v1"

    # Scripting ---------------------------------------------------------------------------
    def route(self, path: str, handler: Handler) -> None:
        """Serve POST `path` (e.g. "/v1/embeddings") with `handler`."""
        self.routes[path] = handler

    def queue(self, path: str, reply: Any) -> None:
        """Queue a reply for `path`; its handler decides what the reply means. A `Response`
        is sent as it is by every built-in handler."""
        with self._lock:
            self._queues.setdefault(path, deque()).append(reply)

    def next_reply(self, path: str) -> Any:
        """The next queued reply for `path`, or None when the queue is empty."""
        with self._lock:
            queue = self._queues.get(path)
            return queue.popleft() if queue else None

    def pending(self, path: str = CHAT_PATH) -> int:
        with self._lock:
            return len(self._queues.get(path, ()))

    def reply_text(self, content: str, finish_reason: str = "stop") -> None:
        """The next chat completion answers with this assistant message content."""
        self.queue(CHAT_PATH, {"content": content, "finish_reason": finish_reason})

    def reply_json(self, payload: Any) -> None:
        """The next chat completion answers with `payload` as JSON text content."""
        self.reply_text(json.dumps(payload))

    def reply_tool_call(self, arguments: Any, name: str | None = None) -> None:
        """The next chat completion calls a tool with `arguments` (a dict or raw JSON text).
        The tool name defaults to the one the request forced with `tool_choice`."""
        self.queue(CHAT_PATH, {"tool_arguments": arguments, "tool_name": name})

    def reply_error(
        self,
        status: int,
        message: str,
        error_type: str = "invalid_request_error",
        code: str | None = None,
        path: str = CHAT_PATH,
    ) -> None:
        """The next request to `path` gets HTTP `status` and an OpenAI-style error body."""
        body = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
        self.queue(path, Response.json(body, status=status))

    def reply_echo_key(self, status: int = 401, path: str = CHAT_PATH) -> None:
        """The next request to `path` gets HTTP `status` with an error body that quotes its
        `Authorization` bearer token, as some OpenAI-compatible servers do."""
        self.queue(path, EchoKey(status))

    def reply_hang(self, count: int = 1, path: str = CHAT_PATH) -> None:
        """The next `count` requests to `path` are read and never answered (until stop)."""
        for _ in range(count):
            self.queue(path, HANG)

    def reply_image(self, png: bytes) -> None:
        self.queue(IMAGES_PATH, png)

    def reply_speech(self, audio: bytes, content_type: str = "audio/wav") -> None:
        self.queue(SPEECH_PATH, Response(body=audio, content_type=content_type))

    # Inspection --------------------------------------------------------------------------
    def requests_to(self, path: str = CHAT_PATH) -> list[Request]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)


def chat_completion(server: OpenAIServer, request: Request) -> Response:
    """Answer from the queue: a `Response`, or a dict from `reply_text` / `reply_tool_call`."""
    reply = server.next_reply(CHAT_PATH)
    if isinstance(reply, Response):
        return reply
    special = special_reply(server, request, reply)
    if special is not None:
        return special
    if reply is None:
        message = f"fake OpenAI server: no scripted reply left for POST {CHAT_PATH}"
        body = {"error": {"message": message, "type": "test_error", "param": None, "code": None}}
        return Response.json(body, status=400)
    message: dict[str, Any] = {"role": "assistant", "content": reply.get("content")}
    finish_reason = reply.get("finish_reason", "stop")
    if "tool_arguments" in reply:
        arguments = reply["tool_arguments"]
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments)
        name = reply["tool_name"] or _forced_tool_name(request.body or {})
        message["tool_calls"] = [
            {
                "id": f"call_{len(server.requests)}",
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
        ]
        finish_reason = "tool_calls"
    prompt_tokens = len(request.raw) // 4
    completion_tokens = len(json.dumps(message)) // 4
    return Response.json(
        {
            "id": f"chatcmpl-{len(server.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": (request.body or {}).get("model", server.model),
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


def image_generation(server: OpenAIServer, request: Request) -> Response:
    """Queued PNG bytes (or a `Response`), else a grey PNG of the requested size; b64_json."""
    from PIL import Image  # only this route needs Pillow

    body = request.body or {}
    count = int(body.get("n") or 1)
    images = []
    for _ in range(count):
        reply = server.next_reply(IMAGES_PATH)
        if isinstance(reply, Response):
            return reply
        if reply is None:
            width, height = (int(side) for side in str(body.get("size", "64x64")).split("x"))
            buffer = io.BytesIO()
            Image.new("RGB", (width, height), (128, 128, 128)).save(buffer, format="PNG")
            reply = buffer.getvalue()
        images.append({"b64_json": base64.b64encode(reply).decode()})
    return Response.json({"created": int(time.time()), "data": images})


def speech(server: OpenAIServer, request: Request) -> Response:
    """A queued `Response`, else half a second of 16-bit mono silence as WAV at 24 kHz."""
    reply = server.next_reply(SPEECH_PATH)
    if isinstance(reply, Response):
        return reply
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24_000)
        wav.writeframes(b"\0\0" * 12_000)
    return Response(body=buffer.getvalue(), content_type="audio/wav")


def unused_base_url() -> str:
    """A base_url on a port nothing listens on, for connection-refused tests."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def _forced_tool_name(body: dict) -> str:
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        return choice["function"]["name"]
    tools = body.get("tools") or [{"function": {"name": "tool"}}]
    return tools[0]["function"]["name"]


def _make_handler_class(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the OpenAI client expects
        timeout = 10  # drop idle keep-alive connections

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            path = self.path.split("?", 1)[0]
            request = Request(
                "POST", path, {k.lower(): v for k, v in self.headers.items()}, raw, _parse_json(raw)
            )
            server._record(request)
            handler = server.routes.get(path)
            if handler is None:
                message = f"fake OpenAI server: no route for POST {path}"
                response = Response.json({"error": {"message": message}}, status=404)
            else:
                response = handler(server, request)
            self._send(response)

        def do_GET(self) -> None:
            self._send(Response.json({"error": {"message": f"no route for GET {self.path}"}}, 404))

        def _send(self, response: Response) -> None:
            try:
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(response.body)))
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(response.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to answer

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet: requests are recorded on the server instead

    return _Handler


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
