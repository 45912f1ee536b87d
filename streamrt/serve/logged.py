"""What the event log holds: one event of one stream, who owns a stream, and where a stream's log is.

These are the log's records, below both the in-memory log (:mod:`streamrt.serve.eventlog`) and its SQL tables
(:mod:`streamrt.serve.sqllog`), so that each of those can read and write them without importing the other; the
cluster's Redis log (:mod:`streamrt.cluster.eventlog`) numbers its events with the same :class:`StreamHead`.
"""

from __future__ import annotations

import json

import msgspec

__all__ = ["LoggedEvent", "StreamHead", "StreamOwner"]


class LoggedEvent(msgspec.Struct, frozen=True):
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


class StreamOwner(msgspec.Struct, frozen=True):
    """Who started a stream, kept with the log so tenancy survives a restart."""

    stream_id: str
    client: str
    processor: str
    created_at: float


class StreamHead(msgspec.Struct):
    """Where one stream's log is: the last id it gave, the last output seq it holds, the last id committed."""

    last_id: int = 0
    output_seq: int = 0
    committed: int = 0

    def next_id(self, seq: int | None) -> int:
        """The id of the stream's next event, or 0 for an output the log already holds (its ``seq`` is not past
        the last one: a stream resumed from an older snapshot emits again outputs the log has)."""
        if seq is not None:
            if seq <= self.output_seq:
                return 0
            self.output_seq = seq
        self.last_id += 1
        return self.last_id
