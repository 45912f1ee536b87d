"""Helpers for the provider-level source tests: order-witness processors and waiting on source health."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from streamrt.runtime.contract import result
from streamrt.sources.base import SourceHealth
from streamrt.values import Keyword

__all__ = ["SEQ", "Recorder", "health_becomes", "plateau", "until"]

SEQ = Keyword("seq")


class Recorder:
    """A processor that records each chunk's ``:seq`` (the order witness) and emits it."""

    def __init__(self, *, complete_at: int | None = None) -> None:
        self.seen: list[int] = []
        self.complete_at = complete_at

    def __call__(self, state: Any, chunk: Any) -> Any:
        self.seen.append(chunk[SEQ])
        if self.complete_at is not None and len(self.seen) >= self.complete_at:
            return result(state, action=Keyword("complete"))
        return result(state, output=chunk[SEQ])


async def health_becomes(
    health: SourceHealth, predicate: Callable[[SourceHealth], bool], timeout: float = 10.0
) -> SourceHealth:
    """Wait until a health change satisfies ``predicate`` (checked now, then on every change)."""
    if predicate(health):
        return health
    hit: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def check(h: SourceHealth) -> None:
        if not hit.done() and predicate(h):
            hit.set_result(None)

    unwatch = health.watch(check)
    try:
        await asyncio.wait_for(hit, timeout)
    finally:
        unwatch()
    return health


async def until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll a condition the runtime offers no event for (a queue filling up), with a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def plateau(count: Callable[[], int], window: float = 0.2, timeout: float = 10.0) -> int:
    """The value ``count`` settles at: unchanged over ``window`` seconds.

    Showing that nothing more happens takes a window of time (the kernel's receive buffer grows for a moment after
    the reader stops); nothing else in these tests is waited for by the clock.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    value = count()
    while True:
        await asyncio.sleep(window)
        now = count()
        if now == value:
            return now
        if loop.time() > deadline:
            raise AssertionError(f"still growing after {timeout}s: {value} -> {now}")
        value = now
