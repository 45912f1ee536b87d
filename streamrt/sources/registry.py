"""Which source a URI names: one parser for source URIs, and the registry of source types by scheme.

Theory of operation
-------------------
:func:`parse_source_uri` is the only reading of a source URI. The opener (:func:`open_source`), the effect check
(:func:`source_effects`, asked by :mod:`streamrt.lang.effects` before a ``call`` runs) and the resolution of a
script's relative paths (:func:`relative_to`) all go through it, so what the security context judges is what is
opened. It reads, in order: ``-`` (stdin); a scheme (:func:`streamrt.plugins.scheme_of`: two or more characters
before the first ``:``, none of them ``/``); a path ending in ``.jsonl``; a bare stream name, resolved against the
base URL of ``STREAMRT_MCP_STREAM_ENDPOINT`` and read again. Anything else is refused.

The scheme then picks a :class:`SourceType` from :data:`SOURCES`: the built-in table, then types added in-process,
then the entry points of the ``streamrt.sources`` group (see :mod:`streamrt.plugins`). A source type says what
effects reading its sources has; a scheme nobody registered is judged ``:network`` until it is refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec

from streamrt.errors import SourceError, UsageError
from streamrt.plugins import Registry, scheme_of
from streamrt.sources.base import Continuation, Source
from streamrt.sources.config import auth_headers, get_option, stream_endpoint_base
from streamrt.sources.paths import jsonl_path

__all__ = [
    "SOURCES",
    "SourceRequest",
    "SourceType",
    "SourceURI",
    "jsonl_path",
    "open_source",
    "parse_source_uri",
    "relative_to",
    "resolve_uri",
    "source_effects",
]

_BARE_NAME: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_NETWORK: Final = frozenset({"network"})
_STDIN: Final = "-"


class SourceURI(msgspec.Struct, frozen=True):
    """A source URI as :func:`parse_source_uri` read it."""

    text: str
    """The URI to open; for a bare stream name, the URL it resolves to."""
    scheme: str
    """Lower case; ``"jsonl"`` for a plain path ending in ``.jsonl``, ``"-"`` for stdin, ``""`` for a bare name."""


class SourceRequest(msgspec.Struct, frozen=True):
    """What a source type's opener is given."""

    uri: SourceURI
    continuation: Continuation | None
    """Where to resume (from a snapshot), or None to start at the beginning."""
    env: Mapping[str, str]
    """The environment to read credentials and settings from (``os.environ`` unless a host passes another)."""
    options: Mapping[Any, Any] | None
    """The stream's options, keyword or string keys; read them with :func:`~streamrt.sources.config.get_option`."""


class SourceType(msgspec.Struct, frozen=True):
    """How to open the sources of one URI scheme, and what effects reading them has."""

    open: Callable[[SourceRequest], Source]
    """Make the source (not yet opened: the provider enters it with ``async with``)."""
    effects: frozenset[str] = _NETWORK
    """Effect labels a security context must permit (``fs``, ``stdin``, ``network``; none for a pure source)."""
    usage: str = ""
    """How its URIs look, for messages: ``"jsonl:PATH, PATH.jsonl"``."""


# --- the parser ------------------------------------------------------------------------------------------------


def _read(text: str) -> SourceURI:
    """One URI, a bare name left unresolved (scheme ``""``)."""
    if not text:
        raise SourceError(f"empty source URI; use one of: {forms()}")
    if text == _STDIN:
        return SourceURI(text, _STDIN)
    scheme = scheme_of(text)
    if scheme is not None:
        return SourceURI(text, scheme)
    if text.endswith(".jsonl"):
        return SourceURI(text, "jsonl")
    if _BARE_NAME.match(text):
        return SourceURI(text, "")
    raise SourceError(
        f"unknown source {text!r}: a path must end in .jsonl or use jsonl:PATH; or use {forms()}"
    )


def _resolve_bare(name: str, env: Mapping[str, str]) -> str:
    base = stream_endpoint_base(env)
    if base is None:
        raise SourceError(
            f"{name!r} is a bare stream name but no base URL is set; set STREAMRT_MCP_STREAM_ENDPOINT "
            f"(or CCOS_MCP_STREAM_ENDPOINT, CCOS_MCP_LOCAL_SSE_URL, CCOS_MCP_CLOUDFLARE_DOCS_SSE_URL), or give a "
            f"full URI: {forms()}"
        )
    # urllib.parse (and the ipaddress module it imports) only for a bare name: a run over a file needs neither
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(base)
    if parts.scheme.startswith("mcp+"):
        query = parse_qsl(parts.query, keep_blank_values=True)
        if not any(key == "tool" for key, _ in query):
            return urlunsplit(parts._replace(query=urlencode([*query, ("tool", name)])))
    return base.rstrip("/") + "/" + name


def parse_source_uri(uri: str, env: Mapping[str, str] | None = None) -> SourceURI:
    """Read a source URI (see the module docs); a bare name is resolved against ``env`` (default ``os.environ``)."""
    parsed = _read(uri.strip())
    if parsed.scheme:
        return parsed
    resolved = _read(_resolve_bare(parsed.text, os.environ if env is None else env))
    if not resolved.scheme:
        raise SourceError(f"{uri!r} resolves to {resolved.text!r}, which is not a URI")
    return resolved


def resolve_uri(uri: str, env: Mapping[str, str] | None = None) -> str:
    """The URI itself, or for a bare stream name the URL it resolves to."""
    return parse_source_uri(uri, env).text


def relative_to(uri: str, folder: str | os.PathLike[str]) -> str:
    """``uri`` with a relative JSON Lines path in it resolved against ``folder`` (a script's); others unchanged."""
    try:
        parsed = _read(uri.strip())
    except SourceError:
        return uri  # the opener reports it
    if parsed.scheme != "jsonl":
        return uri
    path = jsonl_path(parsed.text)
    if os.path.isabs(path):
        return uri
    return "jsonl:" + os.path.join(folder, os.path.normpath(path))


# --- the registry ----------------------------------------------------------------------------------------------


def _retry_policy(options: Mapping[Any, Any] | None) -> Any:
    from streamrt.sources.retry import RetryPolicy  # tenacity: only for network sources

    value = get_option(options, "retry")
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise SourceError("the :retry option must be a map such as {:max-attempts 5 :max-elapsed 60}")
    try:
        return RetryPolicy.from_mapping(value)
    except UsageError as err:
        raise SourceError(str(err)) from None


def _size(options: Mapping[Any, Any] | None, name: str, default: int) -> int:
    value = get_option(options, name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise SourceError(f"the :{name} option must be a positive number of bytes, got {value!r}")
    return value


def _seconds(options: Mapping[Any, Any] | None, name: str, default: float | None) -> float | None:
    value = get_option(options, name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise SourceError(f"the :{name} option must be a non-negative number of seconds, got {value!r}")
    return float(value) or None


# The openers import their source modules when called, so that naming a source type costs nothing: the network
# ones bring httpx or websockets with them.


def _open_stdin(request: SourceRequest) -> Source:
    from streamrt.sources.jsonl import StdinSource

    return StdinSource(_STDIN, request.continuation)


def _open_jsonl(request: SourceRequest) -> Source:
    from streamrt.sources.jsonl import JsonlSource

    path = jsonl_path(request.uri.text)
    if not os.path.isfile(path):
        raise SourceError(f"{path}: {'is not a file' if os.path.exists(path) else 'no such file'}")
    return JsonlSource(request.uri.text, request.continuation)


def _open_mock(request: SourceRequest) -> Source:
    from streamrt.sources.mock import MockSource

    return MockSource(request.uri.text, request.continuation)


def _open_sse(request: SourceRequest) -> Source:
    from streamrt.sources.sse import (
        DEFAULT_CONNECT_TIMEOUT,
        DEFAULT_EVENT_TIMEOUT,
        DEFAULT_MAX_EVENT_SIZE,
        DEFAULT_READ_TIMEOUT,
        SseSource,
    )

    options = request.options
    return SseSource(
        request.uri.text,
        request.continuation,
        headers=auth_headers(request.env, options),
        retry=_retry_policy(options),
        read_timeout=_seconds(options, "read-timeout", DEFAULT_READ_TIMEOUT),
        connect_timeout=_seconds(options, "connect-timeout", DEFAULT_CONNECT_TIMEOUT)
        or DEFAULT_CONNECT_TIMEOUT,
        max_event_size=_size(options, "max-event-size", DEFAULT_MAX_EVENT_SIZE),
        event_timeout=_seconds(options, "event-timeout", DEFAULT_EVENT_TIMEOUT),
    )


def _open_mcp(request: SourceRequest) -> Source:
    from streamrt.sources.mcp import McpSource
    from streamrt.sources.sse_parse import DEFAULT_EVENT_TIMEOUT, DEFAULT_MAX_EVENT_SIZE

    options = request.options
    mcp = McpSource(
        request.uri.text,
        request.continuation,
        headers=auth_headers(request.env, options),
        retry=_retry_policy(options),
        max_event_size=_size(options, "max-event-size", DEFAULT_MAX_EVENT_SIZE),
        event_timeout=_seconds(options, "event-timeout", DEFAULT_EVENT_TIMEOUT),
    )
    delete = get_option(options, "delete-on-close")
    if delete is not None and not isinstance(delete, bool):
        raise SourceError(f"the :delete-on-close option must be true or false, got {delete!r}")
    mcp.delete_on_close = delete
    return mcp


def _open_mcp_stdio(request: SourceRequest) -> Source:
    from streamrt.sources.mcp_stdio import McpStdioSource

    return McpStdioSource(request.uri.text, request.continuation, env=request.env)


def _open_ws(request: SourceRequest) -> Source:
    from streamrt.sources.sse_parse import DEFAULT_EVENT_TIMEOUT
    from streamrt.sources.ws import DEFAULT_MAX_MESSAGE_SIZE, WebSocketSource

    options = request.options
    return WebSocketSource(
        request.uri.text,
        request.continuation,
        headers=auth_headers(request.env, options),
        retry=_retry_policy(options),
        max_size=_size(options, "max-event-size", DEFAULT_MAX_MESSAGE_SIZE),
        event_timeout=_seconds(options, "event-timeout", DEFAULT_EVENT_TIMEOUT),
    )


_SSE: Final = SourceType(_open_sse, _NETWORK, "http(s)://… (SSE)")
_MCP: Final = SourceType(_open_mcp, _NETWORK, "mcp+http(s)://HOST:PORT/PATH?tool=NAME (MCP)")
_WS: Final = SourceType(_open_ws, _NETWORK, "ws(s)://… (WebSocket)")

SOURCES: Final = Registry(
    "streamrt.sources",
    SourceType,
    {
        "jsonl": SourceType(_open_jsonl, frozenset({"fs"}), "jsonl:PATH, PATH.jsonl"),
        _STDIN: SourceType(_open_stdin, frozenset({"stdin"}), "- (stdin)"),
        "mock": SourceType(_open_mock, frozenset(), "mock:NAME?count=N&interval_ms=M"),
        "http": _SSE,
        "https": _SSE,
        "mcp+http": _MCP,
        "mcp+https": _MCP,
        "mcp+stdio": SourceType(
            _open_mcp_stdio, frozenset({"process"}), "mcp+stdio:COMMAND?args=ARG&tool=NAME (MCP over stdio)"
        ),
        "ws": _WS,
        "wss": _WS,
    },
    error=SourceError,
)
"""Source types by URI scheme (``"-"`` is stdin)."""


def forms() -> str:
    """How source URIs look, built-in and installed, for messages."""
    return ", ".join([*SOURCES.usages(), "or a bare stream name"])


def open_source(
    uri: str,
    *,
    continuation: Continuation | None = None,
    env: Mapping[str, str] | None = None,
    options: Mapping[Any, Any] | None = None,
) -> Source:
    """Make the source a URI names (not yet opened: use ``async with``).

    ``env`` defaults to ``os.environ``; ``options`` are the stream's options (``:bearer-token``, ``:auth-header``,
    ``:headers``, ``:retry``, ``:read-timeout``, ``:connect-timeout``, ``:event-timeout``, ``:max-event-size``,
    ``:delete-on-close``), keyword or string keys.
    """
    environ = os.environ if env is None else env
    parsed = parse_source_uri(uri, environ)
    source_type = SOURCES.get(parsed.scheme)
    if source_type is None:
        raise SourceError(f"unknown source scheme {parsed.scheme!r} in {parsed.text!r}; use {forms()}")
    return source_type.open(SourceRequest(parsed, continuation, environ, options))


def source_effects(uri: str, env: Mapping[str, str] | None = None) -> frozenset[str]:
    """The effects of reading ``uri``, from its text and the registry alone (no I/O).

    A bare name with no base URL set is judged ``:network`` (stream names are network streams); any other URI the
    parser refuses needs nothing, since :func:`open_source` refuses it the same way; a scheme nobody registered
    (or whose plugin is broken) is judged ``:network`` until the opener refuses it.
    """
    try:
        parsed = parse_source_uri(uri, env)
    except SourceError:
        return _NETWORK if _BARE_NAME.match(uri.strip()) else frozenset()
    try:
        source_type = SOURCES.get(parsed.scheme)
    except SourceError:
        return _NETWORK
    return _NETWORK if source_type is None else source_type.effects
