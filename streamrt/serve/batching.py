"""The writer task of a durable event log: appends are synchronous and only queue; one task writes what is queued
in batches, and :meth:`BatchWriter.flush` waits until everything queued so far is written.

Both durable logs use it, the SQL one (:class:`~streamrt.serve.eventlog.SqlEventLog`) and the cluster's Redis one
(:class:`~streamrt.cluster.eventlog.RedisEventLog`); each keeps its own queue and says how to write it and what to
do with a batch that failed (``write`` puts back what it could not write and raises).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

__all__ = ["BatchWriter"]


class BatchWriter:
    """Runs ``write()`` after each :meth:`kick`, ``interval`` seconds later (a batch gathers meanwhile), while
    ``pending()`` says something is queued. A failure is kept, raised by the next :meth:`flush` and cleared by the
    next batch that goes through; ``pause_after_failure`` seconds pass before the next try."""

    def __init__(
        self,
        write: Callable[[], Awaitable[None]],
        pending: Callable[[], bool],
        *,
        interval: float,
        pause_after_failure: float = 0.0,
    ) -> None:
        self._write = write
        self._pending = pending
        self.interval = interval
        self.pause_after_failure = pause_after_failure
        self.failure: BaseException | None = None
        self.writing = False
        """The task holds a batch it took from the queue and has not written yet (or is pausing after a failure)."""
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
        cancel the task in the middle of its write and lose the batch."""
        while (self.writing or self._pending()) and self._task is not None and not self._task.done():
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

    async def stop(self, stop_task: Callable[[asyncio.Task[None]], Awaitable[None]] | None = None) -> None:
        """Cancel the task (what is still queued stays queued); ``stop_task(task)`` does it instead when given (a
        task that calls Redis may swallow one cancellation: ``streamrt.store.redis.stop_task``)."""
        task, self._task = self._task, None
        if task is None:
            return
        if stop_task is not None:
            await stop_task(task)
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while True:
            await self._kick.wait()
            self._kick.clear()
            if self.interval:
                await asyncio.sleep(self.interval)  # gather a batch
            self.writing = True
            try:
                await self._write()
                self.failure = None
            except Exception as exc:  # kept, raised to the next flush; write put the batch back
                self.failure = exc
                if self.pause_after_failure:
                    await asyncio.sleep(self.pause_after_failure)
            finally:
                self.writing = False
                # every flush waiting now looks again: those that came during this batch too
                flushed, self._flushed = self._flushed, None
                if flushed is not None:
                    flushed.set()
            if self._pending():
                self._kick.set()
