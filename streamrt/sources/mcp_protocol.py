"""The MCP side of the MCP sources with no I/O: the URIs, JSON-RPC messages, and how messages become chunks.

Kept apart from the conversations (:mod:`streamrt.sources.mcp` over Streamable HTTP, :mod:`streamrt.sources.mcp_stdio`
over a child process's stdin and stdout) so every rule here is testable without a server, and both transports turn
the same message into the same chunk (:func:`read_message`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import msgspec

from streamrt.errors import SourceError
from streamrt.jsoncodec import from_json, from_json_text
from streamrt.meta import ID, KIND, REQUEST_ID, SOURCE, TOOL
from streamrt.secrets import redact_url
from streamrt.values import Keyword

__all__ = [
    "CLIENT_INFO",
    "PROTOCOL_VERSION",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "Incoming",
    "McpTarget",
    "StdioTarget",
    "call_meta",
    "initialize_request",
    "initialized_version",
    "initialized_notification",
    "log_value",
    "notification_value",
    "parse_mcp_uri",
    "parse_stdio_uri",
    "progress_value",
    "read_message",
    "result_value",
    "rpc_error_value",
    "server_message",
    "server_request_reply",
    "tool_call_request",
    "tool_error_value",
    "tool_summary",
    "tools_page",
    "tools_list_request",
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
_K_METHOD = Keyword("method")
_K_PARAMS = Keyword("params")

_METHOD_NOT_FOUND: Final = -32601
_ENV_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class McpTarget(msgspec.Struct, frozen=True):
    """What an ``mcp+http(s)://`` URI names: the endpoint to POST to, the tool, and its arguments."""

    endpoint: str
    tool: str
    arguments: dict[str, Any]

    @property
    def display_endpoint(self) -> str:
        """The endpoint without any ``user:password@`` part, for messages."""
        return redact_url(self.endpoint)


def parse_mcp_uri(uri: str, *, require_tool: bool = True) -> McpTarget:
    """Split ``mcp+http(s)://HOST:PORT/PATH?tool=NAME&arguments=JSON``; other query parameters stay on the endpoint.

    ``require_tool=False`` reads a server's URI without a tool (``streamrt tools``); the tool is then ``""``.
    """
    parts = urlsplit(uri)
    shown = redact_url(uri)
    scheme = parts.scheme.lower()
    if scheme not in ("mcp+http", "mcp+https"):
        raise SourceError(f"{shown}: not an MCP URI (expected mcp+http://HOST:PORT/PATH?tool=NAME)")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError as err:
        raise SourceError(f"{shown}: bad port in the MCP URI ({err})") from None
    if not parts.hostname:
        raise SourceError(f"{shown}: the MCP URI has no host")
    call, rest = _tool_call(shown, parts.query, require_tool)
    endpoint = urlunsplit((scheme.removeprefix("mcp+"), parts.netloc, parts.path or "/", urlencode(rest), ""))
    return McpTarget(endpoint=endpoint, tool=call[0], arguments=call[1])


def _tool_call(
    shown: str, query: str, require_tool: bool
) -> tuple[tuple[str, dict[str, Any]], list[tuple[str, str]]]:
    """``(tool, arguments)`` from a query, and the other parameters in order."""
    tool: str | None = None
    arguments_text: str | None = None
    rest: list[tuple[str, str]] = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "tool":
            tool = value
        elif key == "arguments":
            arguments_text = value
        else:
            rest.append((key, value))
    if not tool and require_tool:
        raise SourceError(f"{shown}: the MCP URI needs a tool name (?tool=NAME)")
    arguments: Any = {}
    if arguments_text:
        try:
            arguments = json.loads(arguments_text)
        except ValueError as err:
            raise SourceError(f"{shown}: arguments is not valid JSON ({err})") from None
        if not isinstance(arguments, dict):
            raise SourceError(f"{shown}: arguments must be a JSON object, got {type(arguments).__name__}")
    return (tool or "", arguments), rest


class StdioTarget(msgspec.Struct, frozen=True):
    """What an ``mcp+stdio:`` URI names: the command to launch, its arguments and settings, the tool to call."""

    command: str
    args: tuple[str, ...]
    tool: str
    arguments: dict[str, Any]
    cwd: str | None = None
    env: tuple[tuple[str, str | None], ...] = ()
    """Variables the child gets on top of the few it inherits (``PATH``, ``HOME``, ...: the SDK's default
    environment): ``(NAME, VALUE)``, or ``(NAME, None)`` for streamrt's own value of ``NAME``."""

    @property
    def display(self) -> str:
        """The command line, for messages and inspect."""
        return " ".join([self.command, *self.args])

    def environment(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The variables to add, names without a value taken from ``environ`` (a :class:`SourceError` if unset)."""
        added: dict[str, str] = {}
        for name, value in self.env:
            if value is None:
                if name not in environ:
                    raise SourceError(
                        f"mcp+stdio:{self.display}: env={name} names a variable that is not set"
                    )
                value = environ[name]
            added[name] = value
        return added


def parse_stdio_uri(uri: str, *, require_tool: bool = True) -> StdioTarget:
    """Read ``mcp+stdio:COMMAND?args=A&args=B&tool=NAME&arguments=JSON&cwd=DIR&env=NAME&env=NAME=VALUE``.

    ``COMMAND`` is everything between ``mcp+stdio:`` and ``?``, percent-decoded (a leading ``//`` is dropped, so
    ``mcp+stdio:///usr/bin/node`` is ``/usr/bin/node``); each ``args`` is one argument, in order; each ``env`` passes
    one variable: ``NAME`` with streamrt's own value (so a secret need not be written in the URI), ``NAME=VALUE``
    with that value. Any other parameter is an error: it would otherwise be silently ignored.
    """
    text = uri.strip()
    if not text.lower().startswith("mcp+stdio:"):
        raise SourceError(f"{text}: not an MCP stdio URI (expected mcp+stdio:COMMAND?tool=NAME)")
    command_text, _, query = text[len("mcp+stdio:") :].partition("?")
    command = unquote(command_text.removeprefix("//"))
    shown = f"mcp+stdio:{command}"
    if not command.strip():
        raise SourceError(f"{text}: the MCP stdio URI has no command (mcp+stdio:COMMAND?tool=NAME)")
    (tool, arguments), rest = _tool_call(shown, query, require_tool)
    args: list[str] = []
    cwd: str | None = None
    env: list[tuple[str, str | None]] = []
    for key, value in rest:
        if key == "args":
            args.append(value)
        elif key == "cwd":
            cwd = value or None
        elif key == "env":
            name, eq, given = value.partition("=")
            if not _ENV_NAME.match(name):
                raise SourceError(f"{shown}: env={value.partition('=')[0]!r} is not a variable name")
            env.append((name, given if eq else None))
        else:
            raise SourceError(f"{shown}: unknown parameter {key!r} (known: args, tool, arguments, cwd, env)")
    return StdioTarget(command, tuple(args), tool, arguments, cwd, tuple(env))


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


def tools_list_request(request_id: int, cursor: str | None = None) -> dict[str, Any]:
    """``tools/list``, one page (``cursor`` from the previous page's ``nextCursor``)."""
    params: dict[str, Any] = {} if cursor is None else {"cursor": cursor}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/list", "params": params}


def initialized_version(where: str, reply: Any, redact: Callable[[str], str] = str) -> str:
    """The protocol version of an ``initialize`` reply; a :class:`SourceError` for a refusal or a version we do not
    speak (``redact`` cleans the server's message of anything we sent)."""
    if not isinstance(reply, dict):
        raise SourceError(f"{where}: no reply to initialize")
    if "error" in reply:
        message = rpc_error_value(reply["error"])[_K_MESSAGE]
        raise SourceError(f"{where} refused initialize: {redact(message)}")
    result = reply.get("result")
    version = result.get("protocolVersion") if isinstance(result, dict) else None
    if version not in SUPPORTED_PROTOCOL_VERSIONS:
        raise SourceError(
            f"{where} speaks MCP protocol version {version!r}; "
            f"streamrt supports {', '.join(SUPPORTED_PROTOCOL_VERSIONS)}"
        )
    return str(version)


def tools_page(where: str, reply: Any) -> dict[str, Any]:
    """The result of a ``tools/list`` reply (``tools`` a list); a :class:`SourceError` for an error or no reply."""
    if not isinstance(reply, dict):
        raise SourceError(f"{where}: no reply to tools/list")
    if "error" in reply:
        raise SourceError(f"{where} refused tools/list: {rpc_error_value(reply['error'])[_K_MESSAGE]}")
    result = reply.get("result")
    if not isinstance(result, dict) or not isinstance(result.get("tools"), list):
        raise SourceError(f"{where}: the tools/list reply holds no list of tools")
    return result


def tool_summary(tool: Any) -> dict[str, Any]:
    """What ``streamrt tools`` shows of one tool: name, title, description and schemas, as the server sent them."""
    if not isinstance(tool, Mapping):
        return {"name": str(tool)}
    summary = {"name": tool.get("name"), "description": tool.get("description")}
    for key in ("title", "inputSchema", "outputSchema"):
        if tool.get(key) is not None:
            summary[key] = tool[key]
    return summary


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


def notification_value(method: str, params: Mapping[str, Any] | None) -> dict[Keyword, Any]:
    """``{:method :params}`` for a server notification other than progress and log (``:params`` nil if absent)."""
    return {_K_METHOD: method, _K_PARAMS: None if params is None else from_json(dict(params))}


# --- messages to chunks ----------------------------------------------------------------------------------------


class Incoming(msgspec.Struct, frozen=True):
    """What one message from the server means to a tool call.

    ``kind`` is a chunk's ``:kind`` (``progress``, ``log``, ``notification``, ``result``, ``error``) with ``value``
    its value; or ``request`` (the server asks us something: answer with :func:`server_request_reply`, ``value``
    is the request); or ``fault`` (``value`` says what is wrong with the message).
    """

    kind: str
    value: Any

    @property
    def final(self) -> bool:
        """The call's reply: nothing of the call follows it."""
        return self.kind in ("result", "error")


def read_message(message: Any, request_id: int | None) -> Incoming | None:
    """One decoded JSON-RPC message for the call ``request_id``; None for what is not ours (another call's reply
    or progress)."""
    if not isinstance(message, dict):
        return Incoming("fault", f"not a JSON-RPC message: {str(message)[:80]!r}")
    method = message.get("method")
    if isinstance(method, str):
        if "id" in message:
            return Incoming("request", message)
        params = message.get("params")
        params = params if isinstance(params, dict) else None
        if method == "notifications/progress":
            if params is None or params.get("progressToken") != request_id:
                return None
            return Incoming("progress", progress_value(params))
        if method == "notifications/message":
            return Incoming("log", log_value(params or {}))
        return Incoming("notification", notification_value(method, params))
    if message.get("id") != request_id:
        return None
    if "error" in message:
        return Incoming("error", rpc_error_value(message["error"]))
    result = message.get("result")
    value = result_value(result if isinstance(result, dict) else {})
    if isinstance(result, dict) and result.get("isError"):
        return Incoming("error", tool_error_value(value))
    return Incoming("result", value)


def call_meta(
    kind: str, tool: str, request_id: int | None, event_id: str | None = None
) -> dict[Keyword, Any]:
    """A chunk's metadata: ``:source "mcp"``, ``:kind``, ``:tool``, ``:request-id``, and ``:id`` when there is one."""
    meta: dict[Keyword, Any] = {SOURCE: "mcp", KIND: kind, TOOL: tool, REQUEST_ID: request_id}
    if event_id is not None:
        meta[ID] = event_id
    return meta


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
