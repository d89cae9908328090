"""Shared by the OpenAI-compatible backends (vision captions, speech): the client and
one-line failure messages that name the config section to fix. The key never appears."""

import json

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def make_client(api_key: str, base_url: str | None, timeout_s: float, retries: int):
    import openai

    return openai.OpenAI(
        api_key=api_key or "unused",  # local servers (vLLM) accept any key
        base_url=base_url or DEFAULT_BASE_URL,
        timeout=timeout_s,
        max_retries=retries,
    )


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
    if api_key:
        message = message.replace(api_key, "***")
    return " ".join(message.split())[:600]


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
