"""A fake clock for a provider, so timer tests are exact and take no time: ``Provider(clock=FakeClock())``.

The provider reads processing time from its clock (``:received-at``, a timer chunk's ``:time``, ``(call :clock)``)
and arms timers with it (:class:`~streamrt.runtime.timers.TimerClock`); this one stands still until a test moves
it. :meth:`FakeClock.advance` moves it to each due callback in turn and, given the provider's ``settle``, lets the
runtime run what came due before it moves on, so a timer that a timer sets fires in its place, as in real time.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Awaitable, Callable
from typing import Final

__all__ = ["FakeClock", "FakeTimer"]

START: Final = 0.0


class FakeTimer:
    """One callback armed on a :class:`FakeClock`; :meth:`cancel` disarms it."""

    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """Seconds since the epoch that move only when told; callbacks run in due order (ties: in arming order)."""

    def __init__(self, start: float = START) -> None:
        self.now = float(start)
        self._armed: list[tuple[float, int, FakeTimer]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer(when, callback)
        heapq.heappush(self._armed, (when, next(self._order), timer))
        return timer

    def next_due(self) -> float | None:
        """When the next armed callback is due, or None."""
        armed = self._armed
        while armed and armed[0][2].cancelled:
            heapq.heappop(armed)
        return armed[0][0] if armed else None

    def step(self, until: float) -> bool:
        """Run every callback due by ``until`` that is due at the earliest such time, and move there; False (and
        move to ``until``) when none is."""
        when = self.next_due()
        if when is None or when > until:
            self.now = max(self.now, until)
            return False
        self.now = max(self.now, when)
        while self._armed and self._armed[0][0] == when:
            timer = heapq.heappop(self._armed)[2]
            if not timer.cancelled:
                timer.callback()
        return True

    async def advance(self, seconds: float, settle: Callable[[], Awaitable[object]] | None = None) -> None:
        """Move ``seconds`` on, stopping at each due time to run its callbacks and then ``await settle()`` (pass
        ``provider.settle``), so what came due runs before the clock moves past it; what was pending before the
        move is settled first, at the time it was pending."""
        until = self.now + seconds
        if settle is not None:
            await settle()  # what is pending happens now, before the clock moves
        while self.step(until):
            if settle is not None:
                await settle()
        if settle is not None:
            await settle()

    async def advance_ms(self, ms: float, settle: Callable[[], Awaitable[object]] | None = None) -> None:
        """:meth:`advance` by ``ms`` milliseconds."""
        await self.advance(ms / 1000.0, settle)
