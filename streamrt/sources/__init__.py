"""Chunk sources, and the registry that picks one by URI (:mod:`streamrt.sources.registry`).

| URI | source |
|---|---|
| ``jsonl:PATH``, ``PATH.jsonl`` | :class:`JsonlSource`, resumable at a byte offset |
| ``-`` | :class:`StdinSource` |
| ``mock:NAME?count=N&interval_ms=M`` | :class:`MockSource` (``count=inf`` for endless) |
| ``http://…``, ``https://…`` | :class:`SseSource` (Server-Sent Events) |
| ``mcp+http://HOST:PORT/PATH?tool=NAME&arguments=JSON`` | ``McpSource`` (MCP Streamable HTTP tool call) |
| ``mcp+stdio:COMMAND?args=ARG&tool=NAME&arguments=JSON`` | ``McpStdioSource`` (a server launched as a child) |
| ``ws://…``, ``wss://…`` | :class:`WebSocketSource` |
| a bare name such as ``weather.monitor.v1`` | resolved against ``STREAMRT_MCP_STREAM_ENDPOINT`` (see below) |

A bare name (letters, digits, ``. _ -``) is joined to the base URL from ``STREAMRT_MCP_STREAM_ENDPOINT``
(``CCOS_MCP_STREAM_ENDPOINT`` as a fallback): for an ``mcp+http(s)`` base without a ``tool`` parameter the name
becomes the tool (``…?tool=NAME``); for any other base the URL is ``base.rstrip("/") + "/" + NAME``, and the
result is opened by its scheme as above.

Other packages add schemes through the ``streamrt.sources`` entry-point group (a :class:`SourceType` per scheme;
see ``docs/architecture.md``, "Ports"). Network sources are imported when opened, so the CLI starts without
loading httpx or websockets.
"""

from __future__ import annotations

from streamrt.sources.base import (
    Chunk,
    ChunkFault,
    ChunkRun,
    Continuation,
    Control,
    Item,
    Source,
    SourceHealth,
)
from streamrt.sources.config import auth_headers, get_option
from streamrt.sources.registry import (
    SOURCES,
    SourceRequest,
    SourceType,
    SourceURI,
    open_source,
    parse_source_uri,
    relative_to,
    resolve_uri,
    source_effects,
)

__all__ = [
    "SOURCES",
    "Chunk",
    "ChunkFault",
    "ChunkRun",
    "Continuation",
    "Control",
    "Item",
    "Source",
    "SourceHealth",
    "SourceRequest",
    "SourceType",
    "SourceURI",
    "auth_headers",
    "get_option",
    "open_source",
    "parse_source_uri",
    "relative_to",
    "resolve_uri",
    "source_effects",
]
