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
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidHandshake, InvalidStatus, InvalidURI

from streamrt.errors import SourceAuthError, SourceError
from streamrt.meta import SOURCE
from streamrt.sources.base import Chunk, ChunkFault, Continuation, Item
from streamrt.sources.decode import json_or_text
from streamrt.sources.reconnect import ReconnectingSource, redact_url
from streamrt.sources.retry import RetryAfter, RetryPolicy, parse_retry_after

__all__ = ["WebSocketSource"]

_RETRY_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
_NORMAL_CLOSURE: Final = 1000


class _RetryableHandshake(Exception):
    """The server refused the upgrade with a status worth retrying."""


class WebSocketSource(ReconnectingSource):
    """A WebSocket feed of text frames."""

    kind = "ws"
    retryable = (OSError, TimeoutError, ConnectionClosedError, _RetryableHandshake)

    def __init__(
        self,
        uri: str,
        continuation: Continuation | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        connect_timeout: float = 10.0,
        max_size: int = 2**20,
    ) -> None:
        super().__init__(uri, None, retry=retry)
        self.headers = dict(headers or {})
        self.connect_timeout = connect_timeout
        self.max_size = max_size

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
            yield aiter(ws)
            if ws.close_code == _NORMAL_CLOSURE:
                self._end()

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
                return ChunkFault(f"binary frame of {len(message)} bytes is not UTF-8 text", meta)
        return Chunk(json_or_text(message), meta)
