"""Chunk sources and the URI registry that picks one.

| URI | source |
|---|---|
| ``jsonl:PATH``, ``PATH.jsonl`` | :class:`JsonlSource`, resumable at a byte offset |
| ``-`` | :class:`StdinSource` |
| ``mock:NAME?count=N&interval_ms=M`` | :class:`MockSource` (``count=inf`` for endless) |
| ``http://…``, ``https://…`` | :class:`SseSource` (Server-Sent Events) |
| ``mcp+http://HOST:PORT/PATH?tool=NAME&arguments=JSON`` | ``McpSource`` (MCP Streamable HTTP tool call) |
| ``ws://…``, ``wss://…`` | :class:`WebSocketSource` |
| a bare name such as ``weather.monitor.v1`` | resolved against ``STREAMRT_MCP_STREAM_ENDPOINT`` (see below) |

A bare name (letters, digits, ``. _ -``) is joined to the base URL from ``STREAMRT_MCP_STREAM_ENDPOINT``
(``CCOS_MCP_STREAM_ENDPOINT`` as a fallback): for an ``mcp+http(s)`` base without a ``tool`` parameter the name
becomes the tool (``…?tool=NAME``); for any other base the URL is ``base.rstrip("/") + "/" + NAME``, and the
result is opened by its scheme as above.

Network sources are imported lazily, so the CLI starts without loading httpx or websockets.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from streamrt.errors import SourceError, UsageError
from streamrt.sources.base import Chunk, ChunkFault, Continuation, Control, Item, Source, SourceHealth
from streamrt.sources.config import auth_headers, get_option, stream_endpoint_base

if TYPE_CHECKING:
    from streamrt.sources.retry import RetryPolicy

__all__ = [
    "Chunk",
    "ChunkFault",
    "Continuation",
    "Control",
    "Item",
    "Source",
    "SourceHealth",
    "auth_headers",
    "open_source",
    "resolve_uri",
]

_BARE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_FORMS = (
    "jsonl:PATH, PATH.jsonl, - (stdin), mock:NAME?count=N&interval_ms=M, http(s)://… (SSE), "
    "mcp+http(s)://HOST:PORT/PATH?tool=NAME (MCP), ws(s)://… (WebSocket), or a bare stream name"
)


def resolve_uri(uri: str, env: Mapping[str, str] | None = None) -> str:
    """The URI itself, or for a bare stream name the URL it resolves to (see the module docs)."""
    text = uri.strip()
    if not text:
        raise SourceError(f"empty source URI; use one of: {_FORMS}")
    if text == "-" or ":" in text or text.endswith(".jsonl") or not _BARE_NAME.match(text):
        return text
    environ = os.environ if env is None else env
    base = stream_endpoint_base(environ)
    if base is None:
        raise SourceError(
            f"{text!r} is a bare stream name but no base URL is set; set STREAMRT_MCP_STREAM_ENDPOINT "
            f"(or CCOS_MCP_STREAM_ENDPOINT), or give a full URI: {_FORMS}"
        )
    parts = urlsplit(base)
    if parts.scheme.startswith("mcp+"):
        query = parse_qsl(parts.query, keep_blank_values=True)
        if not any(key == "tool" for key, _ in query):
            return urlunsplit(parts._replace(query=urlencode([*query, ("tool", text)])))
    return base.rstrip("/") + "/" + text


def _retry_policy(options: Mapping[Any, Any] | None) -> RetryPolicy | None:
    from streamrt.sources.retry import RetryPolicy

    value = get_option(options, "retry")
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise SourceError("the :retry option must be a map such as {:max-attempts 5 :max-elapsed 60}")
    try:
        return RetryPolicy.from_mapping(value)
    except UsageError as err:
        raise SourceError(str(err)) from None


def _seconds(options: Mapping[Any, Any] | None, name: str, default: float | None) -> float | None:
    value = get_option(options, name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise SourceError(f"the :{name} option must be a non-negative number of seconds, got {value!r}")
    return float(value) or None


def open_source(
    uri: str,
    *,
    continuation: Continuation | None = None,
    env: Mapping[str, str] | None = None,
    options: Mapping[Any, Any] | None = None,
) -> Source:
    """Make the source a URI names (not yet opened: use ``async with``).

    ``env`` defaults to ``os.environ``; ``options`` are the stream's options (``:bearer-token``, ``:auth-header``,
    ``:headers``, ``:retry``, ``:read-timeout``, ``:connect-timeout``, ``:delete-on-close``), keyword or string
    keys.
    """
    environ = os.environ if env is None else env
    target = resolve_uri(uri, environ)
    if target == "-":
        from streamrt.sources.jsonl import StdinSource

        return StdinSource("-", continuation)
    scheme = urlsplit(target).scheme.lower() if ":" in target else ""
    if scheme == "jsonl" or (not scheme and target.endswith(".jsonl")):
        from streamrt.sources.jsonl import JsonlSource, jsonl_path

        path = jsonl_path(target)
        if not os.path.isfile(path):
            reason = "is not a file" if os.path.exists(path) else "no such file"
            raise SourceError(f"{path}: {reason}")
        return JsonlSource(target, continuation)
    if scheme == "mock":
        from streamrt.sources.mock import MockSource

        return MockSource(target, continuation)
    if scheme in ("http", "https"):
        from streamrt.sources.sse import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, SseSource

        return SseSource(
            target,
            continuation,
            headers=auth_headers(environ, options),
            retry=_retry_policy(options),
            read_timeout=_seconds(options, "read-timeout", DEFAULT_READ_TIMEOUT),
            connect_timeout=_seconds(options, "connect-timeout", DEFAULT_CONNECT_TIMEOUT)
            or DEFAULT_CONNECT_TIMEOUT,
        )
    if scheme in ("mcp+http", "mcp+https"):
        from streamrt.sources.mcp import McpSource

        mcp = McpSource(
            target, continuation, headers=auth_headers(environ, options), retry=_retry_policy(options)
        )
        delete = get_option(options, "delete-on-close")
        if delete is not None and not isinstance(delete, bool):
            raise SourceError(f"the :delete-on-close option must be true or false, got {delete!r}")
        mcp.delete_on_close = delete
        return mcp
    if scheme in ("ws", "wss"):
        from streamrt.sources.ws import WebSocketSource

        return WebSocketSource(
            target, continuation, headers=auth_headers(environ, options), retry=_retry_policy(options)
        )
    if not scheme:
        raise SourceError(
            f"unknown source {target!r}: a path must end in .jsonl or use jsonl:PATH; or use {_FORMS}"
        )
    raise SourceError(f"unknown source scheme {scheme!r} in {target!r}; use {_FORMS}")
