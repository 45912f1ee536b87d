"""The MCP side of the MCP source with no I/O: the URI, JSON-RPC messages, and how replies become chunk values.

Kept apart from :mod:`streamrt.sources.mcp` (the HTTP conversation) so every rule here is testable without a server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from streamrt.errors import SourceError
from streamrt.values import Keyword, from_json, from_json_text

__all__ = [
    "CLIENT_INFO",
    "PROTOCOL_VERSION",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "McpTarget",
    "initialize_request",
    "initialized_notification",
    "log_value",
    "parse_mcp_uri",
    "progress_value",
    "redact",
    "result_value",
    "rpc_error_value",
    "server_message",
    "server_request_reply",
    "tool_call_request",
    "tool_error_value",
    "without_userinfo",
]

PROTOCOL_VERSION: Final = "2025-11-25"
"""The version we offer in ``initialize``."""

SUPPORTED_PROTOCOL_VERSIONS: Final = ("2025-11-25", "2025-06-18", "2025-03-26")
"""Versions a server may answer with: they share the Streamable HTTP transport and the messages we use."""


def _version() -> str:
    # the installed distribution's, which hatch reads from streamrt/__init__.py (the one place it is written)
    try:
        return metadata.version("streamrt")
    except metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
        return "0+unknown"


CLIENT_INFO: Final = {"name": "streamrt", "version": _version()}

_K_PROGRESS = Keyword("progress")
_K_TOTAL = Keyword("total")
_K_MESSAGE = Keyword("message")
_K_LEVEL = Keyword("level")
_K_LOGGER = Keyword("logger")
_K_DATA = Keyword("data")
_K_CODE = Keyword("code")
_K_RESULT = Keyword("result")
_K_CONTENT = Keyword("content")
_K_TYPE = Keyword("type")
_K_TEXT = Keyword("text")
_K_JSON = Keyword("json")

_METHOD_NOT_FOUND: Final = -32601


@dataclass(frozen=True)
class McpTarget:
    """What an ``mcp+http(s)://`` URI names: the endpoint to POST to, the tool, and its arguments."""

    endpoint: str
    tool: str
    arguments: dict[str, Any]

    @property
    def display_endpoint(self) -> str:
        """The endpoint without any ``user:password@`` part, for messages."""
        return without_userinfo(self.endpoint)


def without_userinfo(url: str) -> str:
    """``url`` without a ``user:password@`` part, so messages and inspect never show it."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_mcp_uri(uri: str) -> McpTarget:
    """Split ``mcp+http(s)://HOST:PORT/PATH?tool=NAME&arguments=JSON``; other query parameters stay on the endpoint."""
    parts = urlsplit(uri)
    shown = without_userinfo(uri)
    scheme = parts.scheme.lower()
    if scheme not in ("mcp+http", "mcp+https"):
        raise SourceError(f"{shown}: not an MCP URI (expected mcp+http://HOST:PORT/PATH?tool=NAME)")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError as err:
        raise SourceError(f"{shown}: bad port in the MCP URI ({err})") from None
    if not parts.hostname:
        raise SourceError(f"{shown}: the MCP URI has no host")
    tool: str | None = None
    arguments_text: str | None = None
    rest: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "tool":
            tool = value
        elif key == "arguments":
            arguments_text = value
        else:
            rest.append((key, value))
    if not tool:
        raise SourceError(f"{shown}: the MCP URI needs a tool name (?tool=NAME)")
    arguments: Any = {}
    if arguments_text:
        try:
            arguments = json.loads(arguments_text)
        except ValueError as err:
            raise SourceError(f"{shown}: arguments is not valid JSON ({err})") from None
        if not isinstance(arguments, dict):
            raise SourceError(f"{shown}: arguments must be a JSON object, got {type(arguments).__name__}")
    endpoint = urlunsplit((scheme.removeprefix("mcp+"), parts.netloc, parts.path or "/", urlencode(rest), ""))
    return McpTarget(endpoint=endpoint, tool=tool, arguments=arguments)


# --- requests --------------------------------------------------------------------------------------------------


def initialize_request(request_id: int) -> dict[str, Any]:
    """The ``initialize`` request: we declare no client capabilities, so servers send us no sampling or roots."""
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO},
    }


def initialized_notification() -> dict[str, Any]:
    """Sent once after ``initialize`` succeeds, before any other request."""
    return {"jsonrpc": "2.0", "method": "notifications/initialized"}


def tool_call_request(request_id: int, tool: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """``tools/call`` with the request id as progress token, so a resumed process can tell its progress apart."""
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": tool, "arguments": dict(arguments), "_meta": {"progressToken": request_id}},
    }


def server_request_reply(message: Mapping[str, Any]) -> dict[str, Any]:
    """Our answer to a request the server sent us: ``ping`` succeeds, anything else is not supported."""
    if message.get("method") == "ping":
        return {"jsonrpc": "2.0", "id": message.get("id"), "result": {}}
    return {
        "jsonrpc": "2.0",
        "id": message.get("id"),
        "error": {
            "code": _METHOD_NOT_FOUND,
            "message": f"streamrt does not support {message.get('method')!r}",
        },
    }


# --- chunk values ----------------------------------------------------------------------------------------------


def progress_value(params: Mapping[str, Any]) -> dict[Keyword, Any]:
    """``{:progress :total :message}`` from ``notifications/progress``; absent fields are nil."""
    return {
        _K_PROGRESS: params.get("progress"),
        _K_TOTAL: params.get("total"),
        _K_MESSAGE: params.get("message"),
    }


def log_value(params: Mapping[str, Any]) -> dict[Keyword, Any]:
    """``{:level :logger :data}`` from ``notifications/message``."""
    return {
        _K_LEVEL: params.get("level"),
        _K_LOGGER: params.get("logger"),
        _K_DATA: from_json(params.get("data")),
    }


def _with_json(item: Any) -> Any:
    """A text content item gains ``:json`` when its text is JSON; the text itself is kept as sent."""
    if not isinstance(item, dict) or item.get(_K_TYPE) != "text":
        return item
    text = item.get(_K_TEXT)
    if not isinstance(text, str):
        return item
    try:
        parsed = from_json_text(text)
    except ValueError:
        return item
    return {**item, _K_JSON: parsed}


def result_value(result: Mapping[str, Any]) -> dict[Keyword, Any]:
    """The tool result as a language map: ``:structuredContent`` as sent, text content parsed into ``:json``."""
    value: dict[Keyword, Any] = from_json(dict(result))
    content = value.get(_K_CONTENT)
    if isinstance(content, tuple):
        value[_K_CONTENT] = tuple(_with_json(item) for item in content)
    return value


def _content_text(value: Mapping[Keyword, Any]) -> str:
    content = value.get(_K_CONTENT)
    if not isinstance(content, tuple):
        return ""
    texts = [item.get(_K_TEXT) for item in content if isinstance(item, dict)]
    return "\n".join(t for t in texts if isinstance(t, str))


def tool_error_value(result: dict[Keyword, Any]) -> dict[Keyword, Any]:
    """``{:message :code :data :result}`` for a result with ``isError``: the message is its text content."""
    return {
        _K_MESSAGE: _content_text(result) or "the tool reported an error",
        _K_CODE: None,
        _K_DATA: None,
        _K_RESULT: result,
    }


def rpc_error_value(error: Any) -> dict[Keyword, Any]:
    """``{:message :code :data :result}`` for a JSON-RPC error reply (``:result`` is nil)."""
    if not isinstance(error, Mapping):
        return {_K_MESSAGE: str(error), _K_CODE: None, _K_DATA: None, _K_RESULT: None}
    return {
        _K_MESSAGE: str(error.get("message") or "JSON-RPC error"),
        _K_CODE: error.get("code"),
        _K_DATA: from_json(error.get("data")),
        _K_RESULT: None,
    }


# --- errors ----------------------------------------------------------------------------------------------------


def server_message(body: bytes, limit: int = 300) -> str:
    """The human part of an HTTP error body: a JSON-RPC error message, an OAuth error description, or the text."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            text = error["message"]
        elif isinstance(data.get("error_description"), str):
            text = data["error_description"]
        elif isinstance(error, str):
            text = error
        elif isinstance(data.get("message"), str):
            text = data["message"]
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text or "(no message)"


def redact(text: str, secrets: Mapping[str, str]) -> str:
    """Remove header values (and the token part of ``Bearer x``) from a message meant for users and logs."""
    for value in secrets.values():
        for secret in {value, value.partition(" ")[2]}:
            if len(secret) >= 4:
                text = text.replace(secret, "[redacted]")
    return text
