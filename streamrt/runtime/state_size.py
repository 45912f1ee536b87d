"""How large a stream's state has grown, looked at on a budget: the ``max-state`` limit.

Theory of operation
-------------------
A processor whose every chunk adds to its state (8 MB a chunk, say) used to run until the operating system killed
the whole process. The ``max-state`` limit (:class:`~streamrt.lang.meter.Limits`, a host's ceiling a stream's
``:limits`` may lower) fails that stream alone instead, with a message naming the limit.

Measuring a state walks it, so it is done on a budget rather than after every chunk: after a batch, once the time
set by the previous look has come (:func:`due`, one comparison per batch). The walk (:func:`state_bytes`) is
iterative (a state nested 200,000 deep is walked like a flat one), counts each object once however often it is
shared (so it measures memory held, and a structure that doubles by sharing costs its distinct parts only), and
stops as soon as the count passes the limit, so it never costs more than the limit's worth of objects. The next
look comes after at most :data:`EVERY` seconds, sooner when the state grows fast enough to reach the limit before
then, and later when a look itself is costly (never more than about 5% of the time spent on looks).
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from streamrt.runtime.stream import StreamRecord

__all__ = ["EVERY", "FIRST", "look", "state_bytes"]

EVERY: Final = 0.5
"""Seconds between two looks at a stream's state size at most (unless a look costs more: see the module docs)."""
FIRST: Final = 0.02
"""Seconds from a stream's first look at its state to its second, which learns how fast it grows."""

_ATOMS: Final = (int, float, bool, type(None))


def state_bytes(value: Any, limit: int) -> int:
    """The memory ``value`` holds, in bytes (``sys.getsizeof`` of each distinct object), counted until it passes
    ``limit`` (then the count so far, already over it, is returned)."""
    getsizeof = sys.getsizeof
    seen: set[int] = set()
    stack = [value]
    total = 0
    while stack:
        v = stack.pop()
        if type(v) in _ATOMS:
            # small numbers are shared by the interpreter and their pointer is counted in their container; a
            # large integer is a value of its own
            if type(v) is int and not -0xFFFFFFFF <= v <= 0xFFFFFFFF:
                total += getsizeof(v)
            continue
        key = id(v)
        if key in seen:
            continue
        seen.add(key)
        total += getsizeof(v)
        if total > limit:
            return total
        if isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, tuple | list | frozenset | set):
            stack.extend(v)
    return total


def look(rec: StreamRecord, limit: int, now: float) -> str | None:
    """Measure the stream's state (its look came due at ``now``, ``time.perf_counter``); the failure message when
    it is over ``limit``, else None, and the time of the next look set."""
    started = time.perf_counter()
    size = state_bytes(rec.state, limit)
    cost = time.perf_counter() - started
    if size > limit:
        after = rec.seq - len(rec.queue)
        return (
            f"max-state limit exceeded: the state after chunk {after} holds more than {limit:,} bytes (at least "
            f"{size:,}); raise it with :limits {{:max-state N}} in the stream's options, up to the host's limit "
            f"(--max-state N on the command line)"
        )
    seen = rec.state_seen
    # the first look knows no growth yet: the second comes soon, so a state that grows fast is measured before it
    # can run far past the limit (at EVERY it grew by half a second of chunks, 500 MB in a test, on a slow machine)
    wait = EVERY if seen is not None else FIRST
    if seen is not None and size > seen[0] and now > seen[1]:
        growth = (size - seen[0]) / (now - seen[1])  # bytes a second
        wait = min(wait, (limit - size) / growth / 2)
    rec.state_seen = (size, now)
    rec.state_check_at = now + max(wait, 20 * cost, 0.001)
    return None


def due(rec: StreamRecord, now: float) -> bool:
    """Whether the stream's next look at its state size has come."""
    return now >= rec.state_check_at
