"""A stream's source reader: pull items only when there is room, and turn a source's failure into ``:error``.

A reader task pulls from its source only while the stream's queue has room; when it is full the reader drains it
itself (an active stream) or waits (a paused one), so a full queue holds the source back and a network source is
slowed by TCP. A source that gives up does not fail its stream at once: what it already delivered is processed
first, and the ``:error`` message names the source (:func:`source_failure_message`), which is what lets a resume
tell a source's failure (reopen it) from a processor's.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from streamrt.runtime.batch import _ACTIVE, _Fault
from streamrt.runtime.callables import failure_text
from streamrt.runtime.machine import DIRECTIVES, KNOWN_ACTIONS, Transition
from streamrt.sources.base import Chunk, ChunkFault, Control, Source, redact_url
from streamrt.values import Keyword, pr_str

if TYPE_CHECKING:
    from streamrt.runtime.driver import _Stream

__all__ = ["SourceReading", "is_source_failure", "source_failure_message"]


def source_failure_message(uri: str, exc: BaseException) -> str:
    """A stream's ``:error`` message when its source failed: ``source URI: cause`` (no user info in the URI)."""
    label = redact_url(uri)
    cause = failure_text(exc)
    return f"source {label}: {cause.removeprefix(f'{label}: ')}"


def is_source_failure(message: str | None, uri: str | None) -> bool:
    """Whether an ``:error`` message says the source at ``uri`` failed (such a stream may be resumed)."""
    return message is not None and uri is not None and message.startswith(f"source {redact_url(uri)}: ")


class SourceReading:
    """The source reader of :class:`~streamrt.runtime.driver.Driver`, which provides the rest."""

    if TYPE_CHECKING:
        _closed: bool

        def _intake(self, s: _Stream, chunk: Any, meta: dict[Keyword, Any] | None) -> None: ...
        async def _make_room(self, s: _Stream) -> None: ...
        def _end_input(self, s: _Stream) -> None: ...
        def _carry_out(self, s: _Stream, t: Transition) -> None: ...
        def _fail(self, s: _Stream, message: str) -> None: ...
        def _schedule(self, s: _Stream) -> None: ...

    async def _read(self, s: _Stream, source: Source) -> None:
        """Pull items only when the queue has room, so a full queue holds the source back."""
        try:
            async with source:
                items = source.items().__aiter__()
                try:
                    while not s.status.terminal and not self._closed:
                        if len(s.queue) >= s.capacity:
                            await self._make_room(s)
                            continue
                        try:
                            item = await items.__anext__()
                        except StopAsyncIteration:
                            self._end_input(s)
                            return
                        if s.status.terminal or self._closed:
                            return
                        self._take_item(s, item)
                finally:
                    aclose = getattr(items, "aclose", None)
                    if aclose is not None:
                        await aclose()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not s.status.terminal:
                self._source_failed(s, source_failure_message(source.uri, exc))

    def _source_failed(self, s: _Stream, message: str) -> None:
        """The source gave up: process what it already delivered (in order, as usual), then go to ``:error``.

        Failing at once would discard the queue, and the continuation already points past those chunks, so a
        resumed stream would never see them. The input is not marked ended: a snapshot taken meanwhile must make
        a resume reopen the source, not complete the stream.
        """
        s.source_failure = message
        if not s.queue:
            self._fail(s, message)
        elif s.status is _ACTIVE and s.worker is None:
            self._schedule(s)

    def _take_item(self, s: _Stream, item: Chunk | Control | ChunkFault) -> None:
        if item.continuation is not None:
            s.continuation = item.continuation
        if type(item) is Chunk:
            self._intake(s, item.value, item.meta)
        elif type(item) is Control:
            event = DIRECTIVES.get(item.action) if isinstance(item.action, Keyword) else None
            if event is None:
                known = " ".join(pr_str(k) for k in KNOWN_ACTIONS)
                self._fail(s, f"source sent unknown control action {pr_str(item.action)}; known: {known}")
            else:
                t = s.apply(event)
                if not t.reject:
                    self._carry_out(s, t)
        elif type(item) is ChunkFault:
            self._intake(s, None, _Fault(item.message))  # type: ignore[arg-type]
        else:
            self._fail(s, f"source yielded {type(item).__name__}, not a Chunk, Control or ChunkFault")
