"""The keys of the metadata map a processor receives as ``(state chunk meta)``, each defined once.

Sources set the per-source keys when they read a chunk; the provider adds the per-stream keys when it hands the
chunk to the processor. A plugin source (see ``docs/architecture.md``, "Ports") uses the same keywords.

| key | set by | value |
|---|---|---|
| ``:stream-id`` | the provider | the stream's id |
| ``:seq`` | the provider | the chunk's number in its stream, from 1 |
| ``:source`` | every source | its kind: ``"jsonl"``, ``"stdin"``, ``"mock"``, ``"sse"``, ``"mcp"``, ``"ws"`` |
| ``:received-at`` | the provider | when the chunk was accepted (seconds since the epoch) |
| ``:ended-at`` | the provider | in ``:on-end``'s metadata instead of ``:received-at``: when the input ended |
| ``:line`` | jsonl, stdin | the 1-based line number |
| ``:name`` | mock | the mock's name |
| ``:event``, ``:id`` | SSE | the event type and id (``:id`` nil for an event without one) |
| ``:kind``, ``:tool``, ``:request-id``, ``:id`` | MCP | what the server sent (``"progress"``, ``"log"``, ``"notification"``, ``"result"``, ``"error"``), the tool, our request id, the event id (HTTP only) |
| ``:kind``, ``:timer`` | the provider | a timer chunk's: ``"timer"`` and the timer's name (:mod:`streamrt.runtime.timers`) |
"""

from __future__ import annotations

from typing import Final

from streamrt.values import Keyword

__all__ = [
    "ENDED_AT",
    "EVENT",
    "ID",
    "KIND",
    "LINE",
    "NAME",
    "RECEIVED_AT",
    "REQUEST_ID",
    "SEQ",
    "SOURCE",
    "STREAM_ID",
    "TIMER",
    "TOOL",
]

STREAM_ID: Final = Keyword("stream-id")
SEQ: Final = Keyword("seq")
SOURCE: Final = Keyword("source")
RECEIVED_AT: Final = Keyword("received-at")
ENDED_AT: Final = Keyword("ended-at")
LINE: Final = Keyword("line")
NAME: Final = Keyword("name")
EVENT: Final = Keyword("event")
ID: Final = Keyword("id")
KIND: Final = Keyword("kind")
TOOL: Final = Keyword("tool")
REQUEST_ID: Final = Keyword("request-id")
TIMER: Final = Keyword("timer")
