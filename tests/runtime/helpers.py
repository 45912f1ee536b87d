"""Small processors, a fake clock and a scripted source shared by the runtime tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from streamrt.runtime.contract import result
from streamrt.sources.base import Item, Source
from streamrt.values import Keyword

K = Keyword
N, SEEN = K("n"), K("seen")


class FakeClock:
    """A clock the test moves by hand; every reading is recorded."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


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
