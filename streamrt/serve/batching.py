"""The writer task of a durable event log: appends are synchronous and only queue; one task writes what is queued
in batches, and :meth:`BatchWriter.flush` waits until everything queued so far is written.

Both durable logs use it, the SQL one (:class:`~streamrt.serve.eventlog.SqlEventLog`) and the cluster's Redis one
(:class:`~streamrt.cluster.eventlog.RedisEventLog`); each keeps its own queue and says how to write it and what to
do with a batch that failed (``write`` puts back what it could not write and raises).

A failed write is tried again after a wait that grows exponentially with full jitter up to a cap, the network
sources' :class:`~streamrt.sources.retry.RetryPolicy` (tenacity), so a database or Redis that is down is not asked
50 times a second; the log never gives up while the process runs (its events are held in memory).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

import msgspec

from streamrt.aio import stop_task

if TYPE_CHECKING:
    import tenacity

    from streamrt.sources.retry import RetryPolicy

__all__ = ["RETRY_INITIAL", "RETRY_MAXIMUM", "BatchWriter"]

RETRY_INITIAL: Final = 0.05
"""Seconds: the first wait after a failed write is up to this long, each next one up to twice the last."""
RETRY_MAXIMUM: Final = 2.0
"""Seconds: the longest wait between two attempts (and so about the longest a flush waits to hear of a failure)."""


class BatchWriter:
    """Runs ``write()`` after each :meth:`kick`, ``interval`` seconds later (a batch gathers meanwhile), while
    ``pending()`` says something is queued. A failure is kept, raised by the flushes waiting then and after, and
    cleared by the next write that goes through; ``write()`` is tried again after the ``retry`` policy's wait (its
    ``initial`` and ``maximum``; it never stops), ``sleep`` being how it waits (tests)."""

    def __init__(
        self,
        write: Callable[[], Awaitable[None]],
        pending: Callable[[], bool],
        *,
        interval: float,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._write = write
        self._pending = pending
        self.interval = interval
        self.retry = retry
        self._sleep = sleep
        self.failure: BaseException | None = None
        self.writing = False
        """The task holds a batch it took from the queue and has not written yet (or is pausing after a failure)."""
        self._taken = 0
        """Write attempts begun: each takes everything queued when it begins."""
        self._written = 0
        """The number of the last attempt that was written."""
        self._kick = asyncio.Event()
        self._flushed: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self, name: str) -> None:
        self._task = asyncio.create_task(self._run(), name=name)

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    def kick(self) -> None:
        """Something was queued: write it after the interval."""
        self._kick.set()

    async def flush(self) -> None:
        """Until everything queued so far is written (raises the writer's last failure).

        A batch the task already took is no longer queued: a flush waits for it too, or a close that follows would
        cancel the task in the middle of its write and lose the batch. What is queued after the call is not waited
        for: each write takes the whole queue, so the first attempt begun after the call (or the one in flight, when
        nothing is queued) is enough, and a flush returns under a steady stream of appends."""
        target = self._taken + 1 if self._pending() else self._taken
        while self._written < target and self._task is not None and not self._task.done():
            flushed = self._flushed
            if flushed is None:
                flushed = self._flushed = asyncio.Event()
            if self._pending():
                self._kick.set()
            await flushed.wait()
            if self.failure is not None:
                raise self.failure
        if self.failure is not None:
            raise self.failure

    async def stop(self) -> None:
        """Cancel the task and wait for it (what is still queued stays queued); cancelled again if it swallowed the
        cancellation, as a task inside a Redis call may (:func:`streamrt.aio.stop_task`)."""
        task, self._task = self._task, None
        if task is not None:
            await stop_task(task)

    def _retrying(self) -> tenacity.AsyncRetrying:
        from streamrt.sources.retry import RetryPolicy  # tenacity: imported when a durable log starts writing

        policy = self.retry or RetryPolicy(initial=RETRY_INITIAL, maximum=RETRY_MAXIMUM)
        # never give up the events held
        policy = msgspec.structs.replace(policy, max_attempts=0, max_elapsed=0)
        return policy.retrying(retry_on=(Exception,), before_sleep=self._failed, sleep=self._sleep)

    def _failed(self, state: tenacity.RetryCallState) -> None:
        """Before the wait: the failure is kept (``write`` put the batch back) and raised to the waiting flushes."""
        assert state.outcome is not None
        self.failure = state.outcome.exception()
        self._wake_flushes()

    def _wake_flushes(self) -> None:
        """Every flush waiting now looks again: those that came during this batch too."""
        flushed, self._flushed = self._flushed, None
        if flushed is not None:
            flushed.set()

    async def _run(self) -> None:
        retrying = self._retrying()
        while True:
            await self._kick.wait()
            self._kick.clear()
            if self.interval:
                await asyncio.sleep(self.interval)  # gather a batch
            self.writing = True
            try:
                async for attempt in retrying:
                    with attempt:
                        self._taken += 1
                        taken = self._taken
                        await self._write()
                        self._written = taken
                self.failure = None
            finally:
                self.writing = False
                self._wake_flushes()
            if self._pending():
                self._kick.set()
