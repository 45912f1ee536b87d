"""A bounded Server-Sent Events parser: bytes in, events out, no I/O (used by the SSE and MCP sources).

Theory of operation. :meth:`SseParser.feed` takes whatever one network read returned and returns the events it
completed; what is left (a partial line, the fields of an event whose blank line has not come yet) stays inside.
Field handling follows the WHATWG event-stream rules as httpx-sse reads them, so the events are the same:

- lines end at CRLF, LF or CR; a line starting with ``:`` is a comment; ``field: value`` loses one leading space;
- ``data`` lines are joined with ``\\n``; ``event`` names the type (``message`` when absent); ``id`` sets the last
  event id, which persists across events (an id containing NUL is ignored); ``retry`` (digits) is kept on the event;
- a blank line completes the event when any field was seen (or an id was ever seen); at end of input an unfinished
  event is dropped.

What a server cannot do is make the client hold more than ``max_event_size`` bytes for one event: a line without
an end, or an event whose lines never stop coming, raises :class:`EventTooLarge` as soon as the partial line plus
the fields held pass the limit. Data is kept as bytes and decoded once per event (UTF-8, as the standard says;
undecodable bytes become U+FFFD). :attr:`SseParser.started` tells the caller that an event is under way, so it can
bound how long one may take to arrive.

:func:`read_events` is the thin async loop around it that both sources use: it reads the body only when the
consumer asks for the next event, and raises :class:`EventStalled` when an event that has started does not complete
within ``event_timeout`` seconds of reading (a server trickling a byte at a time keeps a connection "live" for ever
otherwise; heartbeat comments between events start nothing, so a quiet stream is not affected). Time spent while
the consumer does not ask (a paused stream) does not count.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Final, NamedTuple

__all__ = [
    "DEFAULT_EVENT_TIMEOUT",
    "DEFAULT_MAX_EVENT_SIZE",
    "EventStalled",
    "EventTooLarge",
    "SseEvent",
    "SseParser",
    "read_at_most",
    "read_events",
]

DEFAULT_MAX_EVENT_SIZE: Final = 4 * 2**20
"""4 MiB: far above what an event feed sends, far below what hurts a process serving many streams."""
DEFAULT_EVENT_TIMEOUT: Final = 60.0
"""Seconds of reading an event may take once it has started."""

_BOM: Final = b"\xef\xbb\xbf"


class SseEvent(NamedTuple):
    """One dispatched event; ``id`` is the last event id seen on this connection ("" before any)."""

    event: str
    data: str
    id: str
    retry: int | None


class EventTooLarge(Exception):
    """A line or an event passed the parser's ``max_event_size``."""


class EventStalled(Exception):
    """An event started but did not complete within the event timeout (a trickling or stuck server)."""


class SseParser:
    """Incremental, size-bounded event-stream parser (see the module docs)."""

    __slots__ = (
        "_cr",
        "_data",
        "_event",
        "_first",
        "_last_id",
        "_open",
        "_partial",
        "_parts",
        "_retry",
        "max_event_size",
    )

    def __init__(self, max_event_size: int = DEFAULT_MAX_EVENT_SIZE) -> None:
        self.max_event_size = max_event_size
        self._parts: list[bytes] = []  # the unterminated line, as read
        self._partial = 0  # its length
        self._cr = False  # the last read ended with CR (maybe half of a CRLF)
        self._first = True  # no byte read yet (a BOM may come)
        self._data: bytes | bytearray | None = None
        self._event = ""
        self._retry: int | None = None
        self._last_id = ""
        self._open = False  # a field line was seen since the last blank line

    @property
    def started(self) -> bool:
        """Whether an event is under way: a partial line or fields waiting for their blank line."""
        return self._open or self._partial > 0

    @property
    def held(self) -> int:
        """Bytes held for the event under way (the partial line and the data so far)."""
        return self._partial + (len(self._data) if self._data is not None else 0)

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """The events ``chunk`` completes, in order; :class:`EventTooLarge` when the event under way is too big."""
        if self._first and chunk:
            self._first = False
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
        if self._cr:
            chunk = b"\r" + chunk
            self._cr = False
        if b"\r" in chunk:
            if chunk.endswith(b"\r"):  # wait: the next read may start with the LF of a CRLF
                chunk = chunk[:-1]
                self._cr = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n" not in chunk:
            if chunk:
                self._parts.append(chunk)
                self._partial += len(chunk)
                self._check()
            return []
        if self._parts:
            chunk = b"".join(self._parts) + chunk
            self._parts = []
            self._partial = 0
        lines = chunk.split(b"\n")
        rest = lines.pop()
        events = self._lines(lines)
        if rest:
            self._parts.append(rest)
            self._partial = len(rest)
            self._check()
        return events

    def end(self) -> list[SseEvent]:
        """At the end of the input: the event a final CR completes, if any (an unfinished one is dropped)."""
        return self.feed(b"\n") if self._cr else []

    def _lines(self, lines: list[bytes]) -> list[SseEvent]:
        events: list[SseEvent] = []
        limit = self.max_event_size
        data, event, retry, last_id, opened = self._data, self._event, self._retry, self._last_id, self._open
        try:
            for line in lines:
                if not line:
                    if data is not None or event or retry is not None or last_id:
                        text = "" if data is None else data.decode("utf-8", "replace")
                        events.append(SseEvent(event or "message", text, last_id, retry))
                    data, event, retry, opened = None, "", None, False
                    continue
                if line[0] == 58:  # b":": a comment
                    continue
                name, _, value = line.partition(b":")
                if value[:1] == b" ":
                    value = value[1:]
                opened = True
                if name == b"data":
                    if data is None:
                        data = value
                    else:
                        if type(data) is bytes:
                            data = bytearray(data)
                        data += b"\n"
                        data += value
                    if len(data) > limit:
                        raise EventTooLarge(f"an event's data passed {limit} bytes")
                elif name == b"event":
                    event = value.decode("utf-8", "replace")
                elif name == b"id":
                    if b"\0" not in value:
                        last_id = value.decode("utf-8", "replace")
                elif name == b"retry" and value.isdigit():
                    retry = int(value)
        finally:
            self._data, self._event, self._retry, self._last_id, self._open = (
                data,
                event,
                retry,
                last_id,
                opened,
            )
        return events

    def _check(self) -> None:
        if self.held > self.max_event_size:
            raise EventTooLarge(
                f"a line or event passed {self.max_event_size} bytes ({self.held} bytes held, no end in sight)"
            )


async def read_events(
    chunks: AsyncIterator[bytes], parser: SseParser, event_timeout: float | None = DEFAULT_EVENT_TIMEOUT
) -> AsyncGenerator[SseEvent, None]:
    """The events of a body read chunk by chunk, pulled one at a time; see the module docs for the two bounds."""
    loop = asyncio.get_running_loop()
    waited = 0.0  # reading time spent on the event under way
    while True:
        if event_timeout and parser.started:
            left = event_timeout - waited
            began = loop.time()
            try:
                if left <= 0:
                    raise TimeoutError
                async with asyncio.timeout(left):
                    chunk = await anext(chunks, None)
            except TimeoutError:
                raise EventStalled(
                    f"no complete event in {event_timeout:g}s ({parser.held} bytes of one held)"
                ) from None
            waited += loop.time() - began
        else:
            chunk = await anext(chunks, None)
        if chunk is None:
            for event in parser.end():
                yield event
            return
        events = parser.feed(chunk)
        if events or not parser.started:
            waited = 0.0
            for event in events:
                yield event


async def read_at_most(chunks: AsyncIterator[bytes], limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of a body, and whether that was all of it (an error body, a JSON reply)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(parts)[:limit], False
    return b"".join(parts), True
