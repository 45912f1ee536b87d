"""Server-Sent Events over HTTP(S) (``http://``, ``https://``), on httpx and our bounded event parser.

Theory of operation. Each event becomes a :class:`Chunk` whose value is the data parsed as JSON when it is JSON and
the raw string otherwise, with metadata ``{:event :id :source "sse"}``. ``event: control`` with data
``{"action": "pause"}`` becomes a :class:`Control`. Comments (keep-alives) and events with no data are skipped.

Reconnects (see :mod:`streamrt.sources.reconnect`) send ``Last-Event-ID``; the server's ``retry:`` field sets the
reconnect delay; ``Retry-After`` on 429/503 sets the delay of that attempt; otherwise the policy's jittered backoff.

Exactly once: an event whose id was already delivered is a replay and is skipped. Right after each (re)connect the
source is in replay mode: events whose id is among the last ``dedupe_window`` ids delivered, or, when all of those
ids are decimal integers, whose id is not above the highest of them, are skipped; the first new id ends replay mode
for that connection. Events without ids cannot be recognised and are delivered as they come.

A stream ends (``items`` returns, and the stream completes) on ``event: end`` or when a (re)connect is answered with
``204 No Content`` (the SSE standard's "stop reconnecting"). A close without either is a drop and is reconnected.

Timeouts: connect, write and pool are bounded (``connect_timeout``, 10 s); the read timeout (``read_timeout``, 60 s)
is the longest silence tolerated, so a quiet stream that sends a heartbeat comment more often than that stays up;
a silence longer than that is treated as a dropped connection. ``read_timeout=None`` waits forever. An event that
has started must complete within ``event_timeout`` (60 s) of reading, or the connection counts as dropped: a server
trickling bytes is not a live feed.

Hostile servers: the body is parsed by :class:`~streamrt.sources.sse_parse.SseParser`, which refuses a line or an
event over ``max_event_size`` (4 MiB): the source fails with a :class:`SourceError` naming the limit, since
reconnecting would fetch the same event again. An error body is read up to 4 KiB, and what is shown of it has every
header value we sent removed (a server that echoes the request must not put the token into logs or the store).

Backpressure: the response body is read only when the consumer pulls the next item, so a paused stream leaves at most
one network read (64 KiB in httpx) plus one partial event in memory; the rest waits in TCP buffers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final

import httpx

from streamrt.errors import SourceAuthError, SourceError
from streamrt.meta import EVENT, ID, SOURCE
from streamrt.secrets import redact_url, secrets_of
from streamrt.sources.base import Chunk, ChunkFault, Continuation, Control, Item, bounded_raw
from streamrt.sources.decode import LoneSurrogateError, json_or_text
from streamrt.sources.reconnect import ReconnectingSource
from streamrt.sources.retry import RetryAfter, RetryPolicy, parse_retry_after
from streamrt.sources.sse_parse import (
    DEFAULT_EVENT_TIMEOUT,
    DEFAULT_MAX_EVENT_SIZE,
    EventStalled,
    EventTooLarge,
    SseEvent,
    SseParser,
    read_at_most,
    read_events,
)
from streamrt.values import Keyword

__all__ = [
    "CONTROL_ACTIONS",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_EVENT_TIMEOUT",
    "DEFAULT_MAX_EVENT_SIZE",
    "DEFAULT_READ_TIMEOUT",
    "RetryableStatus",
    "SseSource",
]

DEFAULT_CONNECT_TIMEOUT: Final = 10.0
DEFAULT_READ_TIMEOUT: Final = 60.0
CONTROL_ACTIONS: Final = frozenset(
    {"pause", "resume", "cancel", "stop", "complete", "checkpoint", "continue"}
)
_RETRY_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
_ACTION: Final = Keyword("action")
_ERROR_BODY_SHOWN: Final = 300
_ERROR_BODY_READ: Final = 4096
_STREAM_HEADERS: Final = {"Accept": "text/event-stream", "Cache-Control": "no-store"}


class RetryableStatus(Exception):
    """An HTTP status worth another attempt (429, 5xx gateway errors)."""


class _SeenIds:
    """The last ids delivered, to recognise replays after a reconnect.

    Delivery only appends to a bounded deque; the numeric view (are all ids integers, which is the highest) is worked
    out once per reconnect, on the first lookup, so it costs nothing per event.
    """

    def __init__(self, window: int) -> None:
        self._ids: deque[str] = deque(maxlen=max(1, window))
        self._highest: int | None = None
        self._fresh = False

    def add(self, event_id: str) -> None:
        self._ids.append(event_id)
        self._fresh = False

    def seen(self, event_id: str) -> bool:
        if not self._fresh:
            numeric = all(i.isdecimal() for i in self._ids)
            self._highest = max(map(int, self._ids)) if numeric and self._ids else None
            self._fresh = True
        if self._highest is not None and event_id.isdecimal():
            return int(event_id) <= self._highest
        return event_id in self._ids


class SseSource(ReconnectingSource):
    """An SSE endpoint, resumable from the last event id."""

    kind = "sse"
    retryable = (httpx.TransportError, RetryableStatus, EventStalled)

    def __init__(
        self,
        uri: str,
        continuation: Continuation | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        read_timeout: float | None = DEFAULT_READ_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        dedupe_window: int = 1024,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        event_timeout: float | None = DEFAULT_EVENT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(uri, continuation, retry=retry)
        self.headers = dict(headers or {})
        self.secrets = secrets_of(self.headers, uri)
        self.timeout = httpx.Timeout(connect_timeout, read=read_timeout)
        self.max_event_size = max_event_size
        self.event_timeout = event_timeout
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._seen = _SeenIds(dedupe_window)
        self._server_retry: float | None = None
        self._replaying = False
        self._carried: str | None = None
        """The id the parser carries over to the next event of this connection (the SSE "last event ID")."""
        last = (continuation or {}).get("last_event_id")
        if last is not None and not isinstance(last, str):
            raise SourceError(
                f"{redact_url(uri)}: bad continuation {continuation!r} (last_event_id must be a string)"
            )
        self.last_event_id: str | None = last or None
        if self.last_event_id:
            self._seen.add(self.last_event_id)

    async def open(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, transport=self._transport)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def describe(self) -> Mapping[str, Any]:
        return {**super().describe(), "uri": redact_url(self.uri), "last_event_id": self.last_event_id}

    def _server_delay(self) -> float | None:
        return self._server_retry

    @asynccontextmanager
    async def _connect(self) -> AsyncGenerator[AsyncIterator[SseEvent], None]:
        if self._client is None:
            await self.open()
        assert self._client is not None
        headers = {**self.headers, **_STREAM_HEADERS}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        async with self._client.stream("GET", self.uri, headers=headers) as response:
            if response.status_code == 204:
                self._end()
                yield _no_events()
                return
            await self._check_response(response)
            self.health.set("connected")
            self._replaying = bool(self.last_event_id)
            parser = SseParser(self.max_event_size)
            messages = read_events(response.aiter_bytes(), parser, self.event_timeout)
            self._carried = None
            try:
                yield messages
            except EventTooLarge as err:
                raise SourceError(
                    f"{redact_url(self.uri)}: the server sent an event over the size limit: {err} "
                    "(the :max-event-size option)"
                ) from None
            finally:
                await messages.aclose()

    async def _check_response(self, response: httpx.Response) -> None:
        """Raise the right error for a non-200 answer or a body that is not an event stream."""
        status = response.status_code
        where = redact_url(self.uri)
        if status in (401, 403):
            has_auth = any(name.lower() == "authorization" for name in self.headers)
            sent = "the Authorization header was refused" if has_auth else "no Authorization header was sent"
            raise SourceAuthError(
                f"{where}: HTTP {status} {response.reason_phrase}: {sent}"
                " (see STREAMRT_MCP_STREAM_BEARER_TOKEN / STREAMRT_MCP_STREAM_AUTH_HEADER)"
            )
        if status in _RETRY_STATUSES:
            cause = RetryableStatus(f"HTTP {status} {response.reason_phrase}")
            delay = parse_retry_after(response.headers.get("retry-after"))
            if delay is not None:
                raise RetryAfter(delay, cause)
            raise cause
        if status != 200:
            head, _ = await read_at_most(response.aiter_bytes(), _ERROR_BODY_READ)
            body = self.redact(head.decode("utf-8", "replace")[:_ERROR_BODY_SHOWN]).strip()
            detail = f": {body}" if body else ""
            raise SourceError(f"{where}: HTTP {status} {response.reason_phrase}{detail}")
        content_type = response.headers.get("content-type", "").partition(";")[0].strip()
        if content_type != "text/event-stream":
            raise SourceError(f"{where}: not an event stream (Content-Type {content_type or 'missing'!r})")

    def _convert(self, event: SseEvent) -> Item | None:
        """The item for one event, or ``None`` for a replay, an empty event or the end marker."""
        if event.retry is not None:
            self._server_retry = event.retry / 1000.0
        # The parser gives an event without an id line the last id again (as the SSE spec keeps it for
        # Last-Event-ID); the event's own id is a new one. A server sending the same id twice in a row is read as
        # one id and then none.
        carried = event.id or None
        event_id = carried if carried != self._carried else None
        self._carried = carried
        if self._replaying:
            if event_id is not None and self._seen.seen(event_id):
                return None
            self._replaying = False
        if event_id is not None:
            self.last_event_id = event_id
            self._seen.add(event_id)
        resume_at = self.last_event_id
        kind = event.event
        data = event.data
        if kind == "end":
            self._end()
            return None
        if not data:
            return None
        meta = {EVENT: kind, ID: event_id, SOURCE: "sse"}
        cont = {"last_event_id": resume_at} if resume_at is not None else None
        try:
            if kind == "control":
                return _control(data, meta, cont)
            return Chunk(json_or_text(data), meta, cont)
        except LoneSurrogateError as err:
            return ChunkFault(
                f"event {event_id or ''} is not valid Unicode: {err}", meta, cont, bounded_raw(data)
            )


async def _no_events() -> AsyncGenerator[SseEvent, None]:
    return
    yield


def _control(data: str, meta: dict[Keyword, Any], cont: Continuation | None) -> Item:
    """A Control for ``{"action": "pause"}``; a ChunkFault for anything else."""
    body = json_or_text(data)
    action = body.get(_ACTION) if isinstance(body, dict) else None
    if isinstance(action, str) and action.lstrip(":") in CONTROL_ACTIONS:
        return Control(Keyword(action.lstrip(":")), meta, cont)
    known = ", ".join(sorted(CONTROL_ACTIONS))
    return ChunkFault(
        f'control event {data[:100]!r} is not {{"action": NAME}} with NAME one of {known}',
        meta,
        cont,
        bounded_raw(data),
    )
