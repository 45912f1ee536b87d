"""Small processors, a fake clock and a scripted source shared by the runtime tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from typing import Any, TypeVar

import pytest

from streamrt.runtime import feeding
from streamrt.runtime.contract import result
from streamrt.runtime.engine import Engine
from streamrt.sources.base import Item, Source
from streamrt.testing.clock import FakeClock as TestingClock
from streamrt.values import Keyword

K = Keyword
N, SEEN = K("n"), K("seen")
T = TypeVar("T")


def FakeClock(start: float = 1000.0) -> TestingClock:
    """The testing kit's fake clock, started where these tests expect it."""
    return TestingClock(start)


def collect(state: Any, chunk: Any) -> Any:
    """Keeps every chunk, emits it: the order witness."""
    return result({SEEN: (*state.get(SEEN, ()), chunk)}, output=chunk)


def counter(state: Any, chunk: Any) -> Any:
    return {N: state.get(N, 0) + 1}


class ScriptedSource(Source):
    """Yields the given items; counts how many were pulled (to see backpressure reach the source)."""

    kind = "scripted"

    def __init__(self, items: Sequence[Item], *, finite: bool = True) -> None:
        super().__init__("scripted:test")
        self._items = list(items)
        self.finite = finite
        self.pulled = 0
        self.opened = self.closed = False

    async def open(self) -> None:
        self.opened = True

    async def aclose(self) -> None:
        self.closed = True

    async def items(self) -> AsyncIterator[Item]:
        for item in self._items:
            self.pulled += 1
            yield item


def spy_hand_off(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many chunks each hand-off batch processed, in order (the queued batches are not counted)."""
    sizes: list[int] = []
    real = Engine.batch_done

    def spy(self: Engine, rec: Any, n: int, received: float, queued: bool) -> None:
        if not queued:
            sizes.append(n)
        real(self, rec, n, received, queued)

    monkeypatch.setattr(Engine, "batch_done", spy)
    return sizes


@contextlib.contextmanager
def hand_off_size(size: int) -> Iterator[None]:
    """``push_many``'s hand-off batches of ``size`` chunks while the block runs (0: no hand-off at all)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(feeding, "HAND_OFF", size)
        yield


async def queued_only(run: Awaitable[T]) -> T:
    """``run`` with the hand-off switched off: the reference the hand-off must match."""
    with hand_off_size(0):
        return await run
