"""Shared by the OpenAI-compatible backends (planner, vision captions, speech, images): the
client, one-line failure messages that name the config section to fix, and the redaction
that keeps the API key out of every message and log record, even when a server echoes it
back in an error body."""

import json
import logging
import threading

DEFAULT_BASE_URL = "https://api.openai.com/v1"
CONNECT_TIMEOUT_S = 5.0  # a server that is up accepts a connection at once
MIN_SECRET_CHARS = 4  # shorter "keys" (vLLM's "x") are not secrets, and redacting them
# would garble every message
SECRET_LOGGERS = ("openai", "instructor", "httpx", "httpx2", "httpcore")
REDACTED = "***"


def make_client(api_key: str, base_url: str | None, timeout_s: float, retries: int):
    import openai

    install_secret_filter(api_key)
    return openai.OpenAI(
        api_key=api_key or "unused",  # local servers (vLLM) accept any key
        base_url=base_url or DEFAULT_BASE_URL,
        timeout=client_timeout(timeout_s),
        max_retries=retries,
    )


def client_timeout(timeout_s: float):
    """`timeout_s` to wait for each reply, but only a few seconds to connect."""
    import openai

    return openai.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s))


def scrub(text: str, secrets) -> str:
    """`text` with every secret (of at least MIN_SECRET_CHARS) replaced by ***."""
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET_CHARS and secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record so no configured secret survives in its message, arguments,
    traceback or stack text. Never drops a record."""

    def __init__(self):
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        clean = scrub(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = scrub(text, self.secrets), None
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info, self.secrets)
        return True


SECRET_FILTER = RedactSecrets()
_factory_lock = threading.Lock()
_factory_installed = False


def install_secret_filter(secret: str | None) -> None:
    """Redact `secret` from every record of the HTTP client loggers (openai, instructor,
    httpx, httpcore and their children), from now on and in this process.

    A filter added to the `openai` logger would not see records of `openai._base_client`
    (logger filters do not apply to records propagated from children), and those libraries
    create child loggers lazily, so the filter runs from the log record factory, for every
    record whose logger is in that family, before any handler (stderr, Dagster's compute
    logs, the event log) sees it."""
    global _factory_installed
    if not secret or len(secret) < MIN_SECRET_CHARS:
        return
    SECRET_FILTER.secrets.add(secret)
    with _factory_lock:
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def redacting_factory(*args, **kwargs) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            # `logging.makeLogRecord` calls this with name None and fills the record later
            if str(record.name).split(".", 1)[0] in SECRET_LOGGERS:
                SECRET_FILTER.filter(record)
            return record

        logging.setLogRecordFactory(redacting_factory)
        _factory_installed = True


def describe_failure(
    exc: Exception, section: str, base_url: str | None, api_key: str, timeout_s: float
) -> str | None:
    """One line naming what failed and the fix, or None when `exc` is not an OpenAI error."""
    import openai

    url = base_url or DEFAULT_BASE_URL
    if isinstance(exc, openai.APITimeoutError):
        message = (
            f"no reply from {url} within {timeout_s} s — check the server is up and serving "
            f"the model, or raise {section}.timeout_s"
        )
    elif isinstance(exc, openai.APIConnectionError):
        message = (
            f"cannot reach {url}: {root_reason(exc)} — start the server or fix {section}.base_url"
        )
    elif isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        message = (
            f"{url} refused the API key (HTTP {exc.status_code}: {server_message(exc)}) — set "
            f"{section}.api_key's variable to a valid key for this server"
        )
    elif isinstance(exc, openai.APIStatusError):
        fix = (
            "the server failed: check its logs, then retry"
            if exc.status_code >= 500
            else f"check {section}.model is served there and {section}.base_url ends in /v1"
        )
        message = f"{url} answered HTTP {exc.status_code}: {server_message(exc)} — {fix}"
    elif isinstance(exc, openai.OpenAIError):
        message = f"{section} request to {url} failed: {exc}"
    else:
        return None
    return " ".join(scrub(message, [api_key]).split())[:600]


def root_reason(exc: BaseException) -> str:
    """The innermost cause's message, e.g. '[Errno 111] Connection refused'."""
    seen = set()
    while (exc.__cause__ or exc.__context__) is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return str(exc) or type(exc).__name__


def server_message(exc) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        return json.dumps(body)[:200]
    return str(body or exc.message)[:200]
