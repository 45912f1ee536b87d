"""Outputs: the value type and the async-iterator subscription the provider feeds.

A subscription starts receiving outputs when it is created (not when it is first iterated), so
``it = provider.outputs()`` taken before pushing misses nothing. It buffers without bound: a consumer that stops
reading makes memory grow. Sinks (plain callbacks) are the lossless, back-pressure-free alternative: they run
inline, in order, as each output is produced.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, NamedTuple

__all__ = ["Output", "OutputSubscription", "Sink"]


class Output(NamedTuple):
    """One emitted value; ``seq`` counts the stream's outputs from 1 so a consumer can drop repeats.

    A named tuple (immutable, compared by value), not a frozen dataclass: one is built for every output, and a
    frozen dataclass's ``__init__`` (an ``object.__setattr__`` per field) took about twice as long."""

    stream_id: str
    seq: int
    value: Any


Sink = Callable[[Output], Any]
"""A callback run for each output, in order, inside the provider's processing loop."""


class OutputSubscription(AsyncIterator[Output]):
    """Outputs of one stream (or all streams) as an async iterator; ends when the stream or the provider ends."""

    __slots__ = ("_closed", "_items", "_on_close", "_waiter", "stream_id")

    def __init__(self, stream_id: str | None, on_close: Callable[[OutputSubscription], None]) -> None:
        self.stream_id = stream_id
        self._items: deque[Output] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._on_close = on_close

    def put(self, output: Output) -> None:
        """Called by the provider for every output."""
        if self.stream_id is not None and output.stream_id != self.stream_id:
            return
        self._items.append(output)
        self._wake()

    def close(self) -> None:
        """No more outputs will come; iteration ends once the buffer is read."""
        if not self._closed:
            self._closed = True
            self._on_close(self)
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> OutputSubscription:
        return self

    async def __anext__(self) -> Output:
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()

    async def aclose(self) -> None:
        """Stop receiving; outputs already buffered are discarded."""
        self._items.clear()
        self.close()
