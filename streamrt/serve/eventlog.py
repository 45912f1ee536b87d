"""The durable event log a server replays from: every stream's events, numbered per stream, kept by count and age.

Theory of operation
-------------------
An :class:`EventRecorder` (an :class:`~streamrt.runtime.Observer`) appends what the provider tells it, in order, as
it happens: :meth:`EventLog.append` is synchronous, gives the event the stream's next id and puts it in the
stream's in-memory *tail*. Subscribers never get an event from anywhere but the log (log first, then delivery): a
subscriber reads ``after`` its last id, from the tail when the tail reaches back that far, else from the database,
and waits on the stream's tail for more. So every subscriber gets every event once, in order, whatever its speed,
and there is no per-subscriber buffer to overflow.

:class:`EventLog` keeps the log in memory only. :class:`SqlEventLog` also writes it to a table
(``streamrt_events``) on SQLite or PostgreSQL through SQLAlchemy's async engine: a writer task commits the
pending events in batches (one transaction per batch), and the tail keeps every event not yet committed, so a
read never finds a gap. :meth:`EventLog.flush` waits until everything appended so far is committed; the server
flushes before it closes, and at start it reads each stream's last id back, so ids go on increasing across a
restart. Output events carry the output's seq: after a crash that lost snapshots but not log rows, a restored
stream re-emits outputs the log already holds, and those are dropped here instead of being delivered twice.

Retention: a stream keeps at most ``keep_events`` events and none older than ``keep_seconds`` (the oldest go first,
in the tail and in the table). A client that reconnects after its events were dropped gets what is left.

Pushes by idempotency key: a durable log also remembers, for ``keep_seconds``, each keyed push as the stream's seq
before it and its number of chunks (``streamrt_push_keys``), written before the push is applied, so a retry after a
restart (or, in a cluster, on another node) skips what the restored stream shows it took. In memory there is nothing
to remember beyond the server's own per-stream cache.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

import msgspec

from streamrt.serve.batching import BatchWriter
from streamrt.serve.logged import LoggedEvent, StreamHead, StreamOwner

if TYPE_CHECKING:
    from streamrt.sources.retry import RetryPolicy

__all__ = [
    "DEFAULT_KEEP_EVENTS",
    "DEFAULT_KEEP_SECONDS",
    "EventLog",
    "LoggedEvent",
    "SqlEventLog",
    "StreamOwner",
]

DEFAULT_KEEP_EVENTS: Final = 10_000
DEFAULT_KEEP_SECONDS: Final = 24 * 3600.0
_TAIL: Final = 2_000
"""Committed events a SQL log keeps in memory per stream (reads further back go to the table)."""
_READ_LIMIT: Final = 500

log: Final = logging.getLogger("streamrt.serve")


class _Tail(StreamHead):
    events: deque[LoggedEvent] = msgspec.field(default_factory=deque)
    pruned: int = 0
    """Ids up to this one are gone by retention."""
    changed: asyncio.Event | None = None


class EventLog:
    """The log in memory: lost when the process ends (``memory:`` stores)."""

    durable: bool = False

    def __init__(
        self, *, keep_events: int = DEFAULT_KEEP_EVENTS, keep_seconds: float = DEFAULT_KEEP_SECONDS
    ) -> None:
        if keep_events < 1 or keep_seconds <= 0:
            raise ValueError("keep_events and keep_seconds must be positive")
        self.keep_events = keep_events
        self.keep_seconds = keep_seconds
        self._tails: dict[str, _Tail] = {}
        self._owners: dict[str, StreamOwner] = {}
        self.appended = 0
        self.last_gid = 0
        self._any: asyncio.Event | None = None

    # --- opening and closing -----------------------------------------------------------------------------------

    async def open(self) -> None:
        """Read back what a durable log holds (ids, owners); nothing to do in memory."""

    async def flush(self) -> None:
        """Wait until every event appended so far is committed (at once in memory)."""

    async def close(self) -> None:
        self.wake_all()

    # --- owners --------------------------------------------------------------------------------------------------

    def owners(self) -> dict[str, StreamOwner]:
        return dict(self._owners)

    def owner(self, stream_id: str) -> StreamOwner | None:
        return self._owners.get(stream_id)

    async def add_owner(self, owner: StreamOwner) -> None:
        self._owners[owner.stream_id] = owner

    async def forget(self, stream_id: str) -> None:
        """Drop a stream's events and owner (``DELETE /streams/{id}``); its subscribers are woken and end."""
        self._owners.pop(stream_id, None)
        tail = self._tails.pop(stream_id, None)
        if tail is not None and tail.changed is not None:
            tail.changed.set()

    # --- pushes by idempotency key ---------------------------------------------------------------------------

    async def push_record(self, stream_id: str, key: str) -> tuple[int, int] | None:
        """The push recorded under ``key`` (by an earlier process, or another node): the stream's seq before it and
        its number of chunks. None in memory: nothing outlives the process."""
        return None

    async def record_push(self, stream_id: str, key: str, base: int, total: int) -> None:
        """Remember a push under ``key`` for ``keep_seconds``, before it is applied (a durable log only)."""

    # --- writing -------------------------------------------------------------------------------------------------

    def append(self, stream_id: str, kind: str, data: str, *, seq: int | None = None) -> LoggedEvent | None:
        """Log one event with the stream's next id; None for an output the log already holds (by its seq)."""
        tail = self._tails.get(stream_id)
        if tail is None:
            tail = self._tails[stream_id] = _Tail()
        event_id = tail.next_id(seq)
        if not event_id:
            return None
        self.last_gid += 1
        event = LoggedEvent(stream_id, event_id, kind, data, time.time(), seq, self.last_gid)
        tail.events.append(event)
        self.appended += 1
        self._added(event)
        self._trim(tail, event.at)
        changed = tail.changed
        if changed is not None:
            tail.changed = None
            changed.set()
        anything = self._any
        if anything is not None:
            self._any = None
            anything.set()
        return event

    def _added(self, event: LoggedEvent) -> None:
        """A durable log queues the event for its writer."""
        self._tails[event.stream_id].committed = event.id

    def _trim(self, tail: _Tail, now: float) -> None:
        events = tail.events
        floor = min(tail.last_id - self.keep_events, tail.committed - self._tail_size())
        oldest = now - self.keep_seconds
        while events and (events[0].id <= floor or events[0].at < oldest) and events[0].id <= tail.committed:
            gone = events.popleft()
            if gone.id <= tail.last_id - self.keep_events or gone.at < oldest:
                tail.pruned = gone.id

    def _tail_size(self) -> int:
        return self.keep_events

    # --- reading -------------------------------------------------------------------------------------------------

    def last_id(self, stream_id: str) -> int:
        tail = self._tails.get(stream_id)
        return tail.last_id if tail is not None else 0

    def known(self, stream_id: str) -> bool:
        return stream_id in self._tails or stream_id in self._owners

    async def read(self, stream_id: str, after: int, limit: int = _READ_LIMIT) -> list[LoggedEvent]:
        """Up to ``limit`` events with ids above ``after``, oldest first."""
        tail = self._tails.get(stream_id)
        if tail is None or after >= tail.last_id:
            return []
        after = max(after, tail.pruned)
        events = tail.events
        if events and events[0].id <= after + 1:
            start = after + 1 - events[0].id
            return [events[i] for i in range(start, min(start + limit, len(events)))]
        return await self._read_stored(stream_id, after, limit)

    def floor(self, stream_id: str) -> int:
        """The last id retention dropped: a reader that is further back goes on from here."""
        tail = self._tails.get(stream_id)
        return tail.pruned if tail is not None else 0

    async def _read_stored(self, stream_id: str, after: int, limit: int) -> list[LoggedEvent]:
        """Events no longer in the tail; in memory they are gone, so what the tail holds."""
        return list(self._tails[stream_id].events)[:limit]

    async def wait(self, stream_id: str, after: int) -> None:
        """Until the stream has an event past ``after``, is forgotten, or the log is closing."""
        tail = self._tails.get(stream_id)
        if tail is None:
            tail = self._tails[stream_id] = _Tail()
        if tail.last_id > after:
            return
        if tail.changed is None:
            tail.changed = asyncio.Event()
        await tail.changed.wait()

    async def read_merged(
        self, stream_ids: list[str], after_gid: int, limit: int = _READ_LIMIT
    ) -> list[LoggedEvent]:
        """Events of ``stream_ids`` past ``after_gid`` in log order (up to about ``limit``), for ``GET /events``."""
        merged: list[LoggedEvent] = []
        cut: int | None = None
        for sid in stream_ids:
            tail = self._tails.get(sid)
            if tail is None:
                continue
            events = tail.events
            if tail.last_id == 0:
                continue
            if not events or events[0].gid > after_gid:
                # older events of this stream are in the table (all committed: the tail keeps what is not)
                before = events[0].id if events else tail.last_id + 1
                page = await self._read_stored_gid(sid, after_gid, limit, before)
                if len(page) < limit:
                    page += list(events)[: limit - len(page)]
                full = len(page) >= limit
            else:
                start = bisect.bisect_right(events, after_gid, key=lambda e: e.gid)
                page = [events[i] for i in range(start, min(start + limit, len(events)))]
                full = start + limit < len(events)
            if full and page:
                cut = page[-1].gid if cut is None else min(cut, page[-1].gid)
            merged += page
        merged.sort(key=lambda e: e.gid)
        if cut is not None:
            merged = [e for e in merged if e.gid <= cut]
        return merged

    async def _read_stored_gid(
        self, stream_id: str, after_gid: int, limit: int, before: int
    ) -> list[LoggedEvent]:
        """Events past ``after_gid`` with ids below ``before`` that are no longer in the tail (none, in memory)."""
        return []

    async def wait_any(self, after_gid: int) -> None:
        """Until the log has an event past ``after_gid`` (of any stream), or the log is closing."""
        if self.last_gid > after_gid:
            return
        if self._any is None:
            self._any = asyncio.Event()
        await self._any.wait()

    def wake_all(self) -> None:
        """Wake every waiting subscriber (the server is closing: they look at the stream and end)."""
        if self._any is not None:
            self._any.set()
            self._any = None
        for tail in self._tails.values():
            if tail.changed is not None:
                tail.changed.set()
                tail.changed = None

    def stats(self) -> dict[str, Any]:
        return {
            "streams": len(self._tails),
            "appended": self.appended,
            "held": sum(len(t.events) for t in self._tails.values()),
        }

    def _restored(self, stream_id: str, last_id: int, output_seq: int) -> None:
        tail = self._tails.setdefault(stream_id, _Tail())
        tail.last_id = tail.committed = last_id  # the events themselves stay in the table, read on demand
        tail.output_seq = output_seq


class SqlEventLog(EventLog):
    """The log in a SQL table (SQLite or PostgreSQL, the URL of the snapshot store), written in batches; ``retry``:
    the waits between failed writes (:class:`~streamrt.serve.batching.BatchWriter`'s default, 0.05 s doubling up to
    2 s)."""

    durable = True

    def __init__(
        self,
        url: str,
        *,
        keep_events: int = DEFAULT_KEEP_EVENTS,
        keep_seconds: float = DEFAULT_KEEP_SECONDS,
        flush_interval: float = 0.02,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(keep_events=keep_events, keep_seconds=keep_seconds)
        from streamrt.serve.sqllog import SqlTables  # SQLAlchemy: only when a SQL log is used

        self._db = SqlTables(url)
        self.url = self._db.display_url
        self._pending: list[LoggedEvent] = []
        self._forgotten: list[str] = []
        self._writer = BatchWriter(
            self._write_pending, lambda: bool(self._pending), interval=flush_interval, retry=retry
        )
        self._last_prune = 0.0

    async def open(self) -> None:
        await self._db.open()
        for stream_id, last_id, output_seq in await self._db.last_ids():
            self._restored(stream_id, last_id, output_seq)
        self.last_gid = await self._db.last_gid()
        for owner in await self._db.owners():
            self._owners[owner.stream_id] = owner
        self._writer.start("streamrt-event-log")

    def _added(self, event: LoggedEvent) -> None:
        self._pending.append(event)
        if len(self._pending) == 1:
            self._writer.kick()

    def _tail_size(self) -> int:
        return min(self.keep_events, _TAIL)

    async def add_owner(self, owner: StreamOwner) -> None:
        await self._db.add_owner(owner)
        await super().add_owner(owner)

    async def forget(self, stream_id: str) -> None:
        await self.flush()
        await super().forget(stream_id)
        await self._db.forget(stream_id)

    async def push_record(self, stream_id: str, key: str) -> tuple[int, int] | None:
        return await self._db.push_record(stream_id, key)

    async def record_push(self, stream_id: str, key: str, base: int, total: int) -> None:
        await self._db.record_push(stream_id, key, base, total, time.time())

    async def _read_stored(self, stream_id: str, after: int, limit: int) -> list[LoggedEvent]:
        return await self._db.read(stream_id, after, limit)

    async def _read_stored_gid(
        self, stream_id: str, after_gid: int, limit: int, before: int
    ) -> list[LoggedEvent]:
        return await self._db.read(stream_id, after_gid, limit, by_gid=True, before=before)

    async def flush(self) -> None:
        await self._writer.flush()

    async def _write_pending(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            try:
                await self._db.write(batch)
            except Exception:  # written again with the next batch
                self._pending[:0] = batch
                raise
            self._committed(batch)
        try:
            await self._prune(time.time())
        except (
            Exception
        ) as exc:  # the batch is written (again it would be refused as duplicates): prune next time
            log.warning("event log %s: %s; tried again after the next write", self.url, exc)

    def _committed(self, batch: Iterable[LoggedEvent]) -> None:
        for event in batch:
            tail = self._tails.get(event.stream_id)
            if tail is not None and event.id > tail.committed:
                tail.committed = event.id

    async def _prune(self, now: float) -> None:
        cuts = {
            sid: tail.last_id - self.keep_events
            for sid, tail in self._tails.items()
            if tail.last_id - self.keep_events > tail.pruned
        }
        if cuts:
            await self._db.prune_counts(cuts)
            for sid, cut in cuts.items():
                tail = self._tails.get(sid)
                if tail is not None:
                    tail.pruned = max(tail.pruned, cut)
        if now - self._last_prune > min(60.0, self.keep_seconds / 2):
            self._last_prune = now
            await self._db.prune_age(now - self.keep_seconds)

    async def close(self) -> None:
        try:
            await self.flush()
        finally:
            self.wake_all()
            await self._writer.stop()
            await self._db.close()
