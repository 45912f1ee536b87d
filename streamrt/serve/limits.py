"""Per-client limits: live streams, live subscribers, pushes per minute; each refusal a 429 with Retry-After.

Streams are counted from the provider's views (a stream that ends frees its place); subscribers are counted while
their connection is open; pushes are counted in a sliding window of one minute (timestamps of the last minute's
pushes, at most ``pushes_per_minute`` of them per client, so the memory is bounded by the limit).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Final

from streamrt.serve.config import ClientLimits
from streamrt.serve.problems import Problem

__all__ = ["Budget"]

_WINDOW: Final = 60.0


class Budget:
    """What each client may still do."""

    def __init__(self, limits: ClientLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._pushes: dict[str, deque[float]] = {}
        self._subscribers: dict[str, int] = {}

    def check_streams(self, client: str, live: int) -> None:
        """Before a start: ``live`` is how many of the client's streams are not ended."""
        if live >= self.limits.streams:
            raise Problem(
                "too-many-streams",
                f"client {client!r} has {live} live streams, the most it may have; end or delete one first",
                headers={"Retry-After": "1"},
                limit=self.limits.streams,
            )

    def take_push(self, client: str) -> None:
        """Count one push request, or refuse it with the seconds until the window has room."""
        now = self._clock()
        window = self._pushes.get(client)
        if window is None:
            window = self._pushes[client] = deque()
        while window and window[0] <= now - _WINDOW:
            window.popleft()
        if len(window) >= self.limits.pushes_per_minute:
            wait = max(1, math.ceil(window[0] + _WINDOW - now))
            raise Problem(
                "rate-limited",
                f"client {client!r} made {len(window)} pushes in the last minute, the most it may",
                headers={"Retry-After": str(wait)},
                limit=self.limits.pushes_per_minute,
            )
        window.append(now)

    def hold_subscriber(self, client: str) -> None:
        """Take a subscriber's place (for as long as its connection is open: :meth:`release_subscriber` after)."""
        held = self._subscribers.get(client, 0)
        if held >= self.limits.subscribers:
            raise Problem(
                "too-many-subscribers",
                f"client {client!r} has {held} open event streams, the most it may",
                headers={"Retry-After": "1"},
                limit=self.limits.subscribers,
            )
        self._subscribers[client] = held + 1

    def release_subscriber(self, client: str) -> None:
        left = self._subscribers.get(client, 0) - 1
        if left > 0:
            self._subscribers[client] = left
        else:
            self._subscribers.pop(client, None)

    def subscribers(self, client: str) -> int:
        return self._subscribers.get(client, 0)

    def total_subscribers(self) -> int:
        return sum(self._subscribers.values())
