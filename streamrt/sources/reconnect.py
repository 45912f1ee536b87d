"""The reconnect loop shared by live network sources (SSE, WebSocket).

Theory of operation: a subclass provides :meth:`ReconnectingSource._connect`, an async context manager that opens
one connection and gives an async iterator of raw messages (it ends when the peer closes), and
:meth:`ReconnectingSource._convert`, which turns one message into an item (or ``None`` to skip it). Keeping the
conversion out of the connection's iterator saves an async-generator hop per item, which the SSE benchmark feels.
:meth:`ReconnectingSource.items` runs connections as tenacity attempts under the stream's :class:`RetryPolicy`:

- an attempt that fails before delivering anything (connect error, 503, a close before the first event) counts
  against the policy and waits its backoff (or the server's requested delay) before the next one;
- a connection that delivered items and then dropped is not a failure: the counters start afresh and the source
  reconnects after the policy's ``reconnect_delay`` (0.5 s) or the server's longer ``retry:`` delay (capped at the
  policy's ``maximum``), so a long-lived feed with rare drops never runs out of attempts; drops in a row (each
  connection up for less than ``reconnect_reset``, 60 s) double the wait, with jitter, up to ``maximum``
  (:meth:`RetryPolicy.after_drop`), so a server that sends one event per connection cannot make it reconnect in a
  tight loop, nor at a steady two a second;
- a subclass calls :meth:`ReconnectingSource._end` for a clean, final end (an SSE ``event: end``, a 204, a WebSocket
  close with code 1000); ``items`` then returns and the stream completes like a finite source;
- :class:`SourceError` (401, 404, a wrong content type) is permanent and propagates at once.

When the policy gives up, :meth:`items` raises :class:`SourceError` naming the attempts and the last cause; health
reads ``failed``. Items are pulled one at a time, so a consumer that stops pulling stops the reading.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import tenacity

from streamrt.errors import SourceError
from streamrt.secrets import redact_url
from streamrt.sources.base import Continuation, Item, Source
from streamrt.sources.retry import RetryAfter, RetryPolicy, root_cause, wait_note

__all__ = ["Dropped", "ReconnectingSource"]

logger = logging.getLogger(__name__)


class Dropped(Exception):
    """The peer closed the connection without a final end; retryable."""


class _Reconnect(Exception):
    """A connection that made progress dropped: reconnect with fresh retry counters."""

    def __init__(self, cause: BaseException | None) -> None:
        super().__init__(str(cause) if cause else "dropped")
        self.cause = cause


def _describe(error: BaseException | None) -> str:
    cause = root_cause(error)
    if cause is None:
        return "dropped"
    text = str(cause)
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


class ReconnectingSource(Source):
    """A live source that reconnects under a :class:`RetryPolicy`; subclasses implement ``_connect`` and ``_convert``."""

    finite = False
    #: exceptions of one connection that are worth another attempt
    retryable: tuple[type[BaseException], ...] = (OSError,)

    def __init__(
        self, uri: str, continuation: Continuation | None = None, *, retry: RetryPolicy | None = None
    ) -> None:
        super().__init__(uri, continuation)
        self.retry = retry or RetryPolicy()
        self._ended = False
        self._progress = False

    @abc.abstractmethod
    def _connect(self) -> AbstractAsyncContextManager[AsyncIterator[Any]]:
        """Open one connection; its iterator gives raw messages until the peer closes (end) or fails (raise)."""

    @abc.abstractmethod
    def _convert(self, message: Any) -> Item | None:
        """The item for one raw message, or ``None`` to skip it."""

    def _server_delay(self) -> float | None:
        """A reconnect delay the server asked for (SSE ``retry:``), if any."""
        return None

    def _end(self) -> None:
        """Note a clean, final end: no reconnect."""
        self._ended = True

    def _with_server_delay(self, error: BaseException) -> BaseException:
        delay = self._server_delay()
        if delay is None or isinstance(error, RetryAfter):
            return error
        return RetryAfter(delay, error)

    async def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        self.health.reconnects += 1
        error = state.outcome.exception() if state.outcome is not None and state.outcome.failed else None
        self.health.set("reconnecting", _describe(error) + wait_note(error), retry_in=state.upcoming_sleep)

    def _reconnect_delay(self, drops: int) -> tuple[float, str]:
        """The wait before reconnecting after the ``drops``-th drop in a row: the policy's backoff, or the server's
        longer ``retry:`` capped by the policy."""
        requested = self._server_delay() or 0.0
        delay = self.retry.after_drop(requested, drops)
        if delay < requested:
            logger.info(
                "%s: server asked for retry: %gs; waiting %gs", redact_url(self.uri), requested, delay
            )
            return delay, f"; the server asked to wait {requested:g}s, waiting {delay:g}s (retry policy cap)"
        return delay, ""

    async def items(self) -> AsyncGenerator[Item, None]:
        retry_on: tuple[type[BaseException], ...] = (*self.retryable, Dropped)
        failures: tuple[type[BaseException], ...] = (*retry_on, RetryAfter)
        clock = asyncio.get_running_loop().time
        drops = 0  # connections in a row that delivered and dropped before they were stable
        try:
            while not self._ended:
                try:
                    async for attempt in self.retry.retrying(
                        retry_on=retry_on, before_sleep=self._before_sleep
                    ):
                        with attempt:
                            self._progress = False
                            opened = clock()
                            try:
                                async with self._connect() as messages:
                                    async for message in messages:
                                        item = self._convert(message)
                                        if item is not None:
                                            self._progress = True
                                            yield item
                                        if self._ended:
                                            break
                            except failures as err:
                                if self._progress:
                                    raise _Reconnect(err) from err
                                delayed = self._with_server_delay(err)
                                if delayed is err:
                                    raise
                                raise delayed from err
                            if self._ended:
                                break
                            if self._progress:
                                raise _Reconnect(None)
                            raise self._with_server_delay(Dropped("the server closed the connection"))
                except _Reconnect as drop:
                    drops = 1 if self.retry.stable(clock() - opened) else drops + 1
                    delay, note = self._reconnect_delay(drops)
                    self.health.reconnects += 1
                    self.health.set("reconnecting", _describe(drop.cause) + note, retry_in=delay)
                    if delay:
                        await asyncio.sleep(delay)
        except tenacity.RetryError as err:
            message = f"{redact_url(self.uri)}: {self.retry.explain(err)}"
            self.health.set("failed", message)
            raise SourceError(message) from root_cause(err)
        except SourceError as err:
            self.health.set("failed", str(err))
            raise
        self.health.set("ended")
