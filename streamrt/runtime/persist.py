"""Snapshot policies: when a running stream is written to a store, and how it is read back.

Theory of operation
-------------------
A snapshot is taken *between* chunks, synchronously, by :func:`snapshot_of`: state, status, the queued chunks, the
source's continuation and the counters, all from one moment. The continuation is that of the last item the source
handed over, i.e. of the last chunk *queued*, and the queued chunks are in the snapshot too, so every snapshot is a
consistent cut: resume processes the queue and then reads the source from just after it. Nothing is lost and
nothing is applied twice, whatever the policy; the policy only decides how far back a crash rewinds.

:class:`Persister` is a provider's persistence port (``Provider(persistence=...)``, or ``Provider(store=...)``
which makes one). After each processed batch it asks the policy
(every chunk, every N chunks, every T ms) whether a snapshot is due; on every status change (pause, resume, the
terminal statuses) and on ``:checkpoint`` it always takes one. Due streams go to a group commit
(:class:`~streamrt.store.group.GroupCommit`): one transaction in flight at a time, and everything that becomes due
meanwhile (other streams, later chunks of the same stream) is committed together in the next one.

Snapshots due by policy are asynchronous, as in Flink or Kafka Streams: the stream goes on while its snapshot is
written, and waits only if, when its next one falls due, the previous one is still not committed. So a stream is
never more than two policy steps past its last committed snapshot: two batches of ``GROUP_BATCH`` chunks under the
per-chunk policy (where the group commit captures the stream at its latest, so one write covers every chunk
processed meanwhile), two intervals under the interval policies (where the snapshot is captured at the interval's
end and the stream yields once, so that its write starts at once). Status changes and checkpoints wait for their
commit. :meth:`Persister.durable` is the host's wait: done once a snapshot holding every chunk it pushed (in the
state or in the queue) is committed.

Outputs are emitted (printed) as they are produced and the snapshot that records the output counter comes after:
a crash between the two makes resume produce those outputs again, with the same ``seq``. Outputs are therefore
at-least-once, and a consumer that drops ``seq <= last seen`` sees each exactly once.

A persister also owns the streams, through its :class:`~streamrt.runtime.ports.Leases` port (by default the
store's own leases, :class:`~streamrt.runtime.leases.StoreLeases`): a host claims each stream before running it
(:meth:`Persister.claim`), the leases are renewed while it runs and released when it closes or hands the stream
over (:meth:`Persister.release`).
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import Awaitable, Iterable, Sequence
from typing import Final

import msgspec

from streamrt.errors import StoreError, UnstorableValueError, UsageError
from streamrt.runtime.capture import snapshot_of
from streamrt.runtime.leases import LEASE_TTL, StoreLeases
from streamrt.runtime.lifelog import log_snapshots
from streamrt.runtime.machine import Status
from streamrt.runtime.ports import Leases, Persistence, PersistenceHost
from streamrt.runtime.stream import BATCH, StreamRecord
from streamrt.runtime.views import StreamView
from streamrt.store import Snapshot, SnapshotStore, encode_snapshot
from streamrt.store.group import GroupCommit
from streamrt.store.snapshot import DeadLetter

__all__ = [
    "GROUP_BATCH",
    "LEASE_TTL",
    "Persister",
    "SnapshotPolicy",
    "parse_policy",
    "persistence_for",
]

GROUP_BATCH: Final = 16
"""Chunks a stream processes between two looks at its snapshots under the per-chunk policy. It goes on past a
batch only if its earlier snapshots are all committed, so it is never more than two batches (32 chunks) past its
last committed snapshot, and a crash repeats the outputs of at most that many chunks."""


class SnapshotPolicy(msgspec.Struct, frozen=True):
    """When a stream is snapshotted besides status changes: every ``chunks`` chunks and/or every ``ms`` ms."""

    chunks: int | None = 1
    ms: float | None = None

    def describe(self) -> str:
        if self.ms is not None:
            return f"every {self.ms:g} ms"
        return "every chunk" if self.chunks == 1 else f"every {self.chunks} chunks"


_POLICY: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$")


def parse_policy(text: str | int | None) -> SnapshotPolicy:
    """``None`` or ``1``: every chunk; ``"N"``: every N chunks; ``"500ms"`` / ``"2s"``: by time."""
    if text is None:
        return SnapshotPolicy()
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    match = _POLICY.match(str(text))
    if match is None:
        raise UsageError(f"--snapshot-every: expected N (chunks) or T ms / T s, got {text!r}")
    number, unit = match.groups()
    if unit is None:
        if "." in number or int(number) < 1:
            raise UsageError(f"--snapshot-every: a chunk count must be a positive integer, got {text!r}")
        return SnapshotPolicy(chunks=int(number))
    ms = float(number) * (1000.0 if unit == "s" else 1.0)
    if ms <= 0:
        raise UsageError(f"--snapshot-every: a time must be positive, got {text!r}")
    return SnapshotPolicy(chunks=None, ms=ms)


class Persister:
    """Snapshots a provider's streams into ``store`` under ``policy``; the provider's persistence port.

    ``versions`` seeds the expected version of streams that already have a snapshot (resumed ones); any other
    stream must not have one yet, so a ``run`` cannot overwrite a stream another run left in the store.
    ``leases`` decides who may run a stream (default: leases in ``store`` itself, held as ``owner``).
    """

    def __init__(
        self,
        store: SnapshotStore,
        policy: SnapshotPolicy | None = None,
        *,
        processor_hash: str = "",
        script_path: str | None = None,
        owner: str | None = None,
        leases: Leases | None = None,
    ) -> None:
        self.store = store
        self.policy = policy or SnapshotPolicy()
        self.processor_hash = processor_hash
        """The hash of the script the streams run (snapshots record it, so resume notices a changed script)."""
        self.script_path = script_path
        """The script's path, recorded in every snapshot so that ``resume`` finds the script again."""
        self.leases: Leases = leases if leases is not None else StoreLeases(store, owner=owner)
        self._group = GroupCommit(
            self.leases.fenced(store), self._snapshot, on_written=self._written, on_failed=self._failed
        )
        self.versions: dict[str, int | None] = self._group.versions
        """The version each stream has in the store (None: none yet); the next write expects it."""
        self._last: dict[str, tuple[int, float]] = {}
        self._records: dict[str, StreamRecord] = {}
        self._host: PersistenceHost | None = None
        self._closed = False

    @property
    def owner(self) -> str:
        """Whose leases these are."""
        return self.leases.owner

    @property
    def writes(self) -> int:
        """Snapshots committed so far."""
        return self._group.writes

    @property
    def transactions(self) -> int:
        """Transactions those took (fewer than ``writes``: group commit)."""
        return self._group.transactions

    def bind(self, host: PersistenceHost) -> None:
        """Serve one provider (``Provider(persistence=...)`` calls this)."""
        if self._host is not None and self._host is not host:
            raise UsageError("this persister already serves another provider")
        self._host = host

    # --- ownership ---------------------------------------------------------------------------------------------

    async def claim(self, stream_id: str, version: int | None = None) -> None:
        """Own ``stream_id`` (StoreError if another provider holds it); ``version``: what the store has of it."""
        await self.leases.claim(stream_id)
        self._owned(stream_id, version)

    async def claim_many(self, versions: dict[str, int | None]) -> None:
        """:meth:`claim` for many streams (``{stream_id: version in the store}``), all or nothing."""
        await self.leases.claim_many(versions)
        for sid, version in versions.items():
            self._owned(sid, version)

    async def commit(self, stream_id: str) -> None:
        """Snapshot a tracked stream now and wait until that snapshot is committed (raises the write's StoreError).

        A server commits a new stream's first snapshot before it answers the start: until then the stream is in
        no store, and a node that took it over (its first owner died or lost its lease) would have nothing to
        resume it from."""
        if stream_id in self._last:
            await self._group.wait(stream_id)

    def _owned(self, stream_id: str, version: int | None) -> None:
        if version is not None or stream_id not in self.versions:
            self.versions[stream_id] = version

    # --- the port the provider calls --------------------------------------------------------------------------

    def track(self, record: StreamRecord) -> int | None:
        """Start applying the policy to a stream; the batch size it wants: ``GROUP_BATCH`` chunks under the
        per-chunk policy, N under every N < 64 chunks, else the provider's."""
        self._last[record.id] = (record.processed, time.monotonic())
        self._records[record.id] = record
        chunks = self.policy.chunks
        if chunks is not None and chunks < BATCH:
            return GROUP_BATCH if chunks == 1 else chunks
        return None

    def after_batch(self, record: StreamRecord) -> Awaitable[None] | None:
        return self._hook(record, False)

    def status_changed(self, record: StreamRecord) -> Awaitable[None] | None:
        return self._hook(record, True)

    def dead_letter(self, record: StreamRecord, letter: DeadLetter) -> Awaitable[None] | None:
        """Keep a chunk the stream gave up on (``:on-error :dead-letter``) in the store.

        The stream waits for the write before its next chunk, so the snapshot that passes over the chunk comes
        after its dead letter. None for a stream this persister does not track (it keeps the letter in memory).
        """
        if record.id not in self._last:
            return None

        async def write() -> None:
            try:
                await self.store.add_dead_letter(
                    letter.stream_id, letter.seq, letter.chunk, letter.meta, letter.error
                )
            except StoreError as exc:
                raise type(exc)(f"the dead letter of chunk {letter.seq} could not be kept: {exc}") from exc
            finally:
                self._group.release(record.id)

        # no snapshot past the chunk is captured before its dead letter is stored
        self._group.hold(record.id)
        return asyncio.ensure_future(write())

    def _hook(self, record: StreamRecord, forced: bool) -> Awaitable[None] | None:
        last = self._last.get(record.id)
        if last is None:
            return None
        if not forced:
            processed = record.processed
            if processed == last[0]:
                return None
            policy = self.policy
            if policy.chunks is not None and processed - last[0] < policy.chunks:
                return None
            if policy.ms is not None and (time.monotonic() - last[1]) * 1000.0 < policy.ms:
                return None
            if not self._group.uncommitted(record.id):
                # Due, and the stream goes on while it is written; if it is still not committed when the next one
                # falls due, the stream waits (below). Per chunk, the group commit captures the stream at its
                # latest when the store is free; an interval snapshot is captured here, at the interval's end.
                if policy.chunks == 1:
                    self._last[record.id] = (processed, time.monotonic())
                    self._group.due(record.id)
                    return None
                self._group.due(record.id, self._snapshot(record.id))
                # one turn of the event loop, so the write starts now rather than at the stream's next yield
                return _one_turn()
        # the previous snapshot is not committed yet, or a status change: the stream waits for the commit
        return self._group.wait(record.id)

    def unstorable(self, record: StreamRecord) -> str | None:
        """Why the stream's snapshot cannot be stored (it is encoded now, and thrown away), or None."""
        if record.id not in self._last:
            return None
        try:
            encode_snapshot(self.snapshot_of(record))
        except UnstorableValueError as exc:
            return str(exc)
        return None

    def span(self, record: StreamRecord) -> int | None:
        """How many chunks the stream may process before the policy must be asked again (None: no limit).

        ``push_many``'s hand-off ends its batches there: a queued batch per chunk or by time, and under every N
        exactly where the next snapshot falls due (the queued path takes the end of the batch in progress).
        """
        last = self._last.get(record.id)
        if last is None:
            return None
        chunks = self.policy.chunks
        if chunks is not None and chunks > 1 and self.policy.ms is None:
            return max(chunks - (record.processed - last[0]), 1)
        return record.tasks.batch

    def checkpoint(self, record: StreamRecord) -> Awaitable[None] | None:
        """``:checkpoint``: snapshot now; the stream goes on once it is committed."""
        return self._group.wait(record.id) if record.id in self._last else None

    def durable(self, stream_id: str) -> Awaitable[None] | None:
        """Under the per-chunk policy, an awaitable done once every chunk the stream has accepted is committed.

        That is, a snapshot holding each of them (processed into the state, or still in the queue) is in the
        store; it raises the write's StoreError if that failed. None when there is nothing to wait for: already
        committed, another policy, or a stream this persister does not track. ``Provider.push`` awaits it.
        """
        record = self._records.get(stream_id)
        if record is None or self.policy.chunks != 1:
            return None
        if self._group.committed_seq.get(stream_id, -1) >= record.seq:
            return None
        # An active stream with queued chunks is about to process them and become due by itself: waiting for that
        # capture commits the chunk with its effect in one transaction instead of queued, then processed, in two.
        about_to_run = record.status is Status.ACTIVE and bool(record.queue) and not record.input_ended
        wait = self._group.wait(stream_id, record.seq, due=not about_to_run)
        wait.add_done_callback(functools.partial(self._waited, stream_id))
        return wait

    def _waited(self, stream_id: str, wait: asyncio.Future[None]) -> None:
        """A host's durability wait ended: if the write failed, the stream must not run on unpersisted."""
        if not wait.cancelled() and wait.exception() is not None:
            self._failed(stream_id, wait.exception())  # type: ignore[arg-type]

    def _snapshot(self, stream_id: str) -> Snapshot | None:
        """The group commit's capture: the stream's snapshot as of now."""
        record = self._records.get(stream_id)
        if record is None or stream_id not in self._last:
            return None
        self._last[stream_id] = (record.processed, time.monotonic())
        snap = self.snapshot_of(record)
        if record.status is Status.ERROR and self.unstorable(record) is not None:
            # it failed because its state cannot be stored: keep the failure, without the state
            snap = msgspec.structs.replace(
                snap,
                state=None,
                status_message=f"{record.message} (the snapshot keeps no state: it cannot be stored)",
            )
        return snap

    def snapshot_of(self, record: StreamRecord) -> Snapshot:
        """A stream's snapshot as this persister writes it (with the script's hash and path, the source's URI)."""
        source = record.tasks.source
        return snapshot_of(
            record,
            processor_hash=self.processor_hash,
            source_uri=source.uri if source is not None else None,
            script_path=self.script_path,
        )

    def _written(self, snapshots: Sequence[Snapshot], seconds: float) -> None:
        log_snapshots(snapshots, seconds)
        if self._host is not None:
            self._host.snapshots_written(snapshots, seconds)

    def _failed(self, stream_id: str, exc: Exception) -> None:
        """A policy snapshot nobody waited for failed: the stream must not run on unpersisted (a lost race)."""
        if self._host is not None and stream_id in self._records:
            self._host.fail_stream(stream_id, f"checkpoint failed: {exc}")

    # --- shutting down and handing over ------------------------------------------------------------------------

    async def release(self, record: StreamRecord) -> Snapshot:
        """Write the stream's last snapshot, stop keeping it and give up its lease (the provider stopped it).

        Returns the snapshot as committed (with its version), for whoever takes the stream over.
        """
        sid = record.id
        if sid in self._last:
            await self._group.wait(sid)
        snap = self.snapshot_of(record)
        snap.version = self.versions.get(sid) or 0
        self._last.pop(sid, None)
        self._records.pop(sid, None)
        await self.leases.release(sid)
        return snap

    async def flush(self, streams: Iterable[StreamRecord | StreamView] = ()) -> None:
        """Snapshot ``streams`` now (a clean shutdown) and wait until everything due is committed.

        Raises the first failed write among ``streams``.
        """
        futures = [self._group.wait(s.id) for s in streams if s.id in self._last]
        await self._group.drain()
        for fut in futures:
            if fut.done() and not fut.cancelled() and fut.exception() is not None:
                raise fut.exception()  # type: ignore[misc]

    async def close(self, *, final: bool = True) -> None:
        """Commit the last snapshot of every stream (unless not ``final``), stop renewing, release the leases.

        Safe to call more than once: only the first call does anything.
        """
        if self._closed:
            return
        self._closed = True
        try:
            if not final:
                self._last.clear()
                self._group.forget()
            await self.flush(list(self._records.values()))
        finally:
            await self.leases.close()


def persistence_for(
    store: SnapshotStore | None,
    snapshot_every: SnapshotPolicy | str | int | None,
    persistence: Persistence | None,
) -> Persistence | None:
    """A provider's persistence from its arguments: the one given, or a :class:`Persister` for ``store``."""
    if store is None:
        if snapshot_every is not None and persistence is None:
            raise UsageError("snapshot_every needs a store")
        return persistence
    if persistence is not None:
        raise UsageError("give a store or a persistence, not both")
    policy = snapshot_every if isinstance(snapshot_every, SnapshotPolicy) else parse_policy(snapshot_every)
    return Persister(store, policy)


def _one_turn() -> asyncio.Future[None]:
    """A future done after the tasks already scheduled have had one step (a group commit's writer, say)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()
    loop.call_soon(_done, fut)
    return fut


def _done(fut: asyncio.Future[None]) -> None:
    if not fut.done():  # the waiting task may have been cancelled meanwhile
        fut.set_result(None)
