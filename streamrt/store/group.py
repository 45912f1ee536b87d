"""Group commit: snapshot writes of many streams coalesced into as few transactions as the store allows.

Theory of operation
-------------------
Callers do not hand over snapshots; they say a stream is *due* (:meth:`GroupCommit.due`). One writer task runs
while anything is due. Each round it takes every due stream, *captures* its snapshot right then (through the
``capture`` callback, between two chunks of that stream since the event loop runs one thing at a time) and commits
the lot in one ``put_many``. While that transaction is in flight, streams keep running and becoming due again; the
next round captures each of them once, at its latest. So:

- a stream that processed five chunks during one commit is written once, with the state after the fifth chunk
  (the latest snapshot supersedes the earlier ones: state, queue and source continuation are one consistent cut,
  so nothing is lost or applied twice);
- many streams share a transaction; there is at most one transaction in flight per store;
- the number of transactions adapts to the store: a fast store commits often with small batches, a slow one
  less often with larger batches, and no stream waits for a write unless it asks to.

A caller may also hand over a snapshot it captured itself (interval snapshots are taken at the interval's end,
so that how far a stream can run past its last committed snapshot is a whole number of intervals); it is written
as it is unless the stream becomes due again before the transaction starts.

Waiting is opt-in: :meth:`GroupCommit.wait` marks a stream due and returns a future that resolves when a snapshot
captured *after* the call is committed (``push`` under the per-chunk policy, checkpoints, status changes).

A stream can be *held* (:meth:`GroupCommit.hold`) while a write that must land before its next snapshot is in
flight (a dead letter): it stays due but is not captured until released.

When a batch fails, each of its writes is retried alone, so a stream that lost its lease (a version conflict) or
whose state cannot be encoded fails by itself and does not take the other streams of the batch down with it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from streamrt.store.base import SnapshotStore
from streamrt.store.snapshot import Snapshot

__all__ = ["GroupCommit"]

Capture = Callable[[str], Snapshot | None]
"""Take a stream's snapshot now; None if the stream is no longer persisted."""
Written = Callable[[Sequence[Snapshot], float], None]
"""Told of each committed batch and how long its commit took (seconds)."""
Failed = Callable[[str, Exception], None]
"""Told of a stream whose write failed when nobody was waiting for it."""

_NOTHING: Final[frozenset[str]] = frozenset()


class GroupCommit:
    """One writer per store that commits due snapshots in coalesced transactions."""

    def __init__(
        self,
        store: SnapshotStore,
        capture: Capture,
        *,
        on_written: Written | None = None,
        on_failed: Failed | None = None,
    ) -> None:
        self.store = store
        self._capture = capture
        self._on_written = on_written
        self._on_failed = on_failed
        self.versions: dict[str, int | None] = {}
        """The version each stream has in the store (None: no snapshot yet); the next write expects it."""
        self.committed_seq: dict[str, int] = {}
        """The ``seq`` (chunks accepted) of each stream's last committed snapshot."""
        self.errors: dict[str, Exception] = {}
        """The last failed write of each stream, until one succeeds."""
        self.writes = 0
        self.transactions = 0
        self._due: dict[str, None] = {}
        self._early: dict[str, Snapshot] = {}
        self._waiters: dict[str, asyncio.Future[None]] = {}
        self._held: dict[str, int] = {}
        self._writer: asyncio.Task[None] | None = None
        self._in_flight: dict[str, Snapshot] = {}
        self._flying_waiters: dict[str, asyncio.Future[None]] = {}

    @property
    def busy(self) -> bool:
        """Whether a write is in flight or due."""
        return self._writer is not None

    def due(self, stream_id: str, snapshot: Snapshot | None = None) -> None:
        """The stream has changed: capture and commit it in the next transaction.

        With ``snapshot``, the caller has captured it already (an interval snapshot, taken at the interval's end
        rather than whenever the transaction starts); a later ``due`` without one drops it for a capture then.
        """
        self._due[stream_id] = None
        if snapshot is None:
            self._early.pop(stream_id, None)
        else:
            self._early[stream_id] = snapshot
        if self._writer is None and stream_id not in self._held:
            self._writer = asyncio.get_running_loop().create_task(self._run(), name="streamrt-group-commit")

    def uncommitted(self, stream_id: str) -> bool:
        """Whether the stream is due, or captured by the transaction in flight."""
        return stream_id in self._due or stream_id in self._in_flight

    def wait(self, stream_id: str, seq: int | None = None, *, due: bool = True) -> asyncio.Future[None]:
        """Mark the stream due; the future resolves once a snapshot of it captured from now on is committed.

        With ``seq``, a snapshot already in flight will do if it holds that many chunks (``Snapshot.seq``): the
        caller only needs its chunks committed, not the stream's latest state. With ``due=False`` the future rides
        on the next capture without asking for one (the caller knows the stream is about to become due). The
        future fails with the write's exception if that write fails.
        """
        flying = self._in_flight.get(stream_id)
        if seq is not None and flying is not None and flying.seq >= seq:
            fut = self._flying_waiters.get(stream_id)
            if fut is None:
                fut = self._flying_waiters[stream_id] = asyncio.get_running_loop().create_future()
                fut.add_done_callback(_retrieve)
            return fut
        fut = self._waiters.get(stream_id)
        if fut is None:
            fut = self._waiters[stream_id] = asyncio.get_running_loop().create_future()
            fut.add_done_callback(_retrieve)
        if due:
            self.due(stream_id)
        return fut

    def forget(self, streams: Iterable[str] | None = None) -> None:
        """Drop what is due (for ``streams``, or all) without writing it, and let go of whoever waits for it."""
        ids = list(self._due) if streams is None else [sid for sid in streams if sid in self._due]
        for sid in ids:
            self._due.pop(sid, None)
            self._early.pop(sid, None)
            fut = self._waiters.pop(sid, None)
            if fut is not None and not fut.done():
                fut.set_result(None)

    def hold(self, stream_id: str) -> None:
        """Do not capture the stream until :meth:`release`: something that must be stored first is in flight."""
        self._held[stream_id] = self._held.get(stream_id, 0) + 1

    def release(self, stream_id: str) -> None:
        """End one :meth:`hold`; a stream that became due meanwhile is written now."""
        left = self._held.get(stream_id, 0) - 1
        if left > 0:
            self._held[stream_id] = left
            return
        self._held.pop(stream_id, None)
        if stream_id in self._due:
            self.due(stream_id)

    async def drain(self) -> None:
        """Until nothing is in flight or due (held streams excepted)."""
        while self._writer is not None:
            await asyncio.shield(self._writer)

    # --- the writer ------------------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                held = self._held or _NOTHING
                ready = [sid for sid in self._due if sid not in held]
                if not ready:
                    return
                batch: dict[str, Snapshot] = {}
                waiters: dict[str, asyncio.Future[None]] = {}
                for sid in ready:
                    del self._due[sid]
                    fut = self._waiters.pop(sid, None)
                    snap = self._early.pop(sid, None)
                    if snap is None:
                        snap = self._capture(sid)
                    if snap is None:
                        if fut is not None and not fut.done():
                            fut.set_result(None)
                        continue
                    batch[sid] = snap
                    if fut is not None:
                        waiters[sid] = fut
                if batch:
                    # waiters that join while the transaction is in flight go into the same dict
                    self._in_flight, self._flying_waiters = batch, waiters
                    try:
                        await self._commit(batch, waiters)
                    finally:
                        self._in_flight, self._flying_waiters = {}, {}
        finally:
            self._writer = None

    async def _commit(self, batch: dict[str, Snapshot], waiters: dict[str, asyncio.Future[None]]) -> None:
        started = time.perf_counter()
        failures: dict[str, Exception] = {}
        try:
            await self._put(batch)
        except Exception as exc:
            if len(batch) == 1:
                failures = dict.fromkeys(batch, exc)
            else:
                # isolate the culprit(s): each write alone, so one lost race fails one stream
                for sid, snap in batch.items():
                    try:
                        await self._put({sid: snap})
                    except Exception as one:
                        failures[sid] = one
        elapsed = time.perf_counter() - started
        written = [snap for sid, snap in batch.items() if sid not in failures]
        if written:
            self.transactions += 1
            self.writes += len(written)
            if self._on_written is not None:
                self._on_written(written, elapsed)
        for sid in batch:
            fut = waiters.get(sid)
            failure = failures.get(sid)
            if failure is None:
                self.errors.pop(sid, None)
                if fut is not None and not fut.done():
                    fut.set_result(None)
                continue
            self.errors[sid] = failure
            if fut is not None and not fut.done():
                fut.set_exception(failure)
            elif self._on_failed is not None:
                self._on_failed(sid, failure)

    async def _put(self, batch: dict[str, Snapshot]) -> None:
        items = [(snap, self.versions.get(sid)) for sid, snap in batch.items()]
        versions = await self.store.put_many(items)
        for (sid, snap), version in zip(batch.items(), versions, strict=True):
            self.versions[sid] = version
            self.committed_seq[sid] = snap.seq


def _retrieve(fut: asyncio.Future[None]) -> None:
    """Mark a failed write's exception as seen: the streams awaiting it report it; nobody else needs to."""
    if not fut.cancelled():
        fut.exception()
