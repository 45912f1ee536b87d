"""What the event log holds: one event of one stream, and who owns a stream.

These are the log's records, below both the in-memory log (:mod:`streamrt.serve.eventlog`) and its SQL tables
(:mod:`streamrt.serve.sqllog`), so that each of those can read and write them without importing the other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["LoggedEvent", "StreamOwner"]


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One event of one stream: ``kind`` is ``output``, ``status`` or ``error``; ``data`` is its JSON text."""

    stream_id: str
    id: int
    kind: str
    data: str
    at: float
    seq: int | None = None
    """An output's seq (outputs only)."""
    gid: int = 0
    """The event's place in the whole log (all streams): what ``GET /events`` numbers its events by."""

    def wire(self) -> bytes:
        """The event as Server-Sent Events text (JSON never holds a raw newline, so one ``data:`` line)."""
        return f"id: {self.id}\r\nevent: {self.kind}\r\ndata: {self.data}\r\n\r\n".encode()

    def merged_wire(self) -> bytes:
        """The event in a merged stream: numbered by ``gid``, its data with the stream's id in front."""
        data = '{"stream":' + json.dumps(self.stream_id) + "," + self.data[1:]
        return f"id: {self.gid}\r\nevent: {self.kind}\r\ndata: {data}\r\n\r\n".encode()

    def ws_text(self) -> str:
        """The event as one WebSocket text message."""
        return f'{{"id":{self.id},"event":"{self.kind}","data":{self.data}}}'


@dataclass(frozen=True, slots=True)
class StreamOwner:
    """Who started a stream, kept with the log so tenancy survives a restart."""

    stream_id: str
    client: str
    processor: str
    created_at: float
