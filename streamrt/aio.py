"""Helpers for asyncio tasks that any layer may use: this module imports nothing of streamrt.

:func:`stop_task` is how a background loop (a lease renewer, a poller, a batch writer) is stopped at close: it is
cancelled and waited for, and cancelled again if it swallowed the cancellation.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

__all__ = ["stop_task"]

_RECANCEL_S: Final = 0.1
"""How long :func:`stop_task` waits for a cancelled task to end before it cancels it again."""


async def stop_task(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has ended, cancelling it again if it went on.

    One ``cancel()`` is not always enough: on Python 3.11, redis-py sends each command under ``asyncio.wait_for``,
    which swallows a cancellation that arrives as the send completes (CPython gh-86296), and the loop then carries on
    with its next tick, so a close that awaited it waited forever (seen with a lease renewer of 1,500 streams).
    """
    while not task.done():
        task.cancel()
        # a task that takes its cancellation ends within a turn or two; one that swallowed it is cancelled again
        await asyncio.wait({task}, timeout=_RECANCEL_S)
    if not task.cancelled():
        task.exception()  # retrieved, as ``gather(..., return_exceptions=True)`` would: moot at close
