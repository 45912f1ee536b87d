"""WebSocket feeds (``ws://``, ``wss://``) on the ``websockets`` library.

Each text frame becomes a :class:`Chunk`: JSON parsed into values when it is JSON, else the string. A binary frame
is decoded as UTF-8 text and treated the same; one that is not UTF-8 is a :class:`ChunkFault`. Metadata is
``{:source "ws"}``.

The stream ends when the server closes with code 1000 (normal closure). Any other close (1001 going away, 1011,
1012 service restart, a lost connection) is a drop and is reconnected under the :class:`RetryPolicy`, as for SSE.
A refused handshake with 401/403 is a :class:`SourceAuthError`; 429/5xx are retried (``Retry-After`` honoured).

There is no continuation: frames cannot be replayed, so a resumed stream starts with whatever the server sends next,
and frames sent while the client was away are lost. Keep-alive pings are the library's (every 20 s, 20 s timeout).
Backpressure: the library stops reading the socket once ``max_queue`` (16) frames wait unread.

Hostile servers: a message over ``max_event_size`` (1 MiB, the library's ``max_size``) fails the source with a
:class:`SourceError` (reconnecting would only fetch more of the same); a message that has started (part of a frame,
or some fragments, wait in the library's buffers) and does not complete within ``event_timeout`` (60 s) counts as a
drop. A quiet connection with nothing under way is left alone: the library's pings watch it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)
from websockets.frames import CloseCode

from streamrt.errors import SourceAuthError, SourceError
from streamrt.meta import SOURCE
from streamrt.secrets import redact_url, secrets_of
from streamrt.sources.base import Chunk, ChunkFault, Continuation, Item, bounded_raw
from streamrt.sources.decode import LoneSurrogateError, json_or_text
from streamrt.sources.reconnect import ReconnectingSource
from streamrt.sources.retry import RetryAfter, RetryPolicy, parse_retry_after
from streamrt.sources.sse_parse import DEFAULT_EVENT_TIMEOUT, EventStalled

__all__ = ["DEFAULT_MAX_MESSAGE_SIZE", "WebSocketSource"]

DEFAULT_MAX_MESSAGE_SIZE: Final = 2**20
"""1 MiB, the websockets library's own default."""

_RETRY_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
_NORMAL_CLOSURE: Final = 1000


class _RetryableHandshake(Exception):
    """The server refused the upgrade with a status worth retrying."""


def _message_under_way(ws: ClientConnection) -> bool:
    """Whether part of a message has arrived: bytes of a frame in the reader, or fragments waiting to be joined."""
    reader = getattr(ws.protocol, "reader", None)
    frames = getattr(getattr(ws, "recv_messages", None), "frames", None)
    return bool(getattr(reader, "buffer", b"")) or bool(frames is not None and len(frames))


class WebSocketSource(ReconnectingSource):
    """A WebSocket feed of text frames."""

    kind = "ws"
    retryable = (OSError, TimeoutError, ConnectionClosedError, _RetryableHandshake, EventStalled)

    def __init__(
        self,
        uri: str,
        continuation: Continuation | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        connect_timeout: float = 10.0,
        max_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        event_timeout: float | None = DEFAULT_EVENT_TIMEOUT,
    ) -> None:
        super().__init__(uri, None, retry=retry)
        self.headers = dict(headers or {})
        self.secrets = secrets_of(self.headers, uri)
        self.connect_timeout = connect_timeout
        self.max_size = max_size
        self.event_timeout = event_timeout

    def describe(self) -> Mapping[str, Any]:
        return {**super().describe(), "uri": redact_url(self.uri)}

    @asynccontextmanager
    async def _connect(self) -> AsyncGenerator[AsyncIterator[str | bytes], None]:
        where = redact_url(self.uri)
        try:
            ws = await connect(
                self.uri,
                additional_headers=self.headers,
                open_timeout=self.connect_timeout,
                max_size=self.max_size,
            )
        except InvalidURI as err:
            raise SourceError(f"{where}: not a WebSocket URI: {err}") from None
        except InvalidStatus as err:
            raise self._status_error(err) from None
        except InvalidHandshake as err:
            raise SourceError(f"{where}: WebSocket handshake failed: {err}") from None
        async with ws:
            self.health.set("connected")
            yield self._messages(ws)
            if ws.close_code == _NORMAL_CLOSURE:
                self._end()

    async def _messages(self, ws: ClientConnection) -> AsyncGenerator[str | bytes, None]:
        """Messages until the server closes normally; a too-large message fails the source."""
        try:
            while True:
                try:
                    message = await self._recv(ws)
                except ConnectionClosedOK:
                    return
                yield message
        except ConnectionClosedError as err:
            if err.sent is not None and err.sent.code == CloseCode.MESSAGE_TOO_BIG:
                raise SourceError(
                    f"{redact_url(self.uri)}: the server sent a message over {self.max_size} bytes "
                    "(the :max-event-size option)"
                ) from None
            raise

    async def _recv(self, ws: ClientConnection) -> str | bytes:
        """The next message; :class:`EventStalled` when one has been under way for ``event_timeout`` seconds."""
        timeout = self.event_timeout
        if not timeout:
            return await ws.recv()
        loop = asyncio.get_running_loop()
        under_way_since: float | None = None
        while True:
            try:
                async with asyncio.timeout(timeout / 4):
                    return await ws.recv()  # cancelling recv loses nothing (websockets documents it)
            except TimeoutError:
                if not _message_under_way(ws):
                    under_way_since = None
                    continue
                now = loop.time()
                if under_way_since is None:
                    under_way_since = now
                elif now - under_way_since >= timeout:
                    raise EventStalled(f"no complete message in {timeout:g}s") from None

    def _status_error(self, err: InvalidStatus) -> BaseException:
        status = err.response.status_code
        where = redact_url(self.uri)
        if status in (401, 403):
            has_auth = any(name.lower() == "authorization" for name in self.headers)
            sent = "the Authorization header was refused" if has_auth else "no Authorization header was sent"
            return SourceAuthError(f"{where}: HTTP {status}: {sent}")
        if status in _RETRY_STATUSES:
            cause = _RetryableHandshake(f"HTTP {status}")
            delay = parse_retry_after(err.response.headers.get("Retry-After"))
            return RetryAfter(delay, cause) if delay is not None else cause
        return SourceError(f"{where}: the server refused the WebSocket upgrade with HTTP {status}")

    def _convert(self, message: str | bytes) -> Item:
        meta = {SOURCE: self.kind}
        if isinstance(message, bytes):
            try:
                message = message.decode("utf-8")
            except UnicodeDecodeError:
                return ChunkFault(
                    f"binary frame of {len(message)} bytes is not UTF-8 text", meta, raw=bounded_raw(message)
                )
        try:
            return Chunk(json_or_text(message), meta)
        except LoneSurrogateError as err:
            return ChunkFault(f"frame is not valid Unicode: {err}", meta, raw=bounded_raw(message))
