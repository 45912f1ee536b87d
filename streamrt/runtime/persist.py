"""Snapshot policies: when a running stream is written to a store, and how it is read back.

Theory of operation
-------------------
A snapshot is taken *between* chunks, synchronously, by :func:`snapshot_of`: state, status, the queued chunks, the
source's continuation and the counters, all from one moment. The continuation is that of the last item the source
handed over, i.e. of the last chunk *queued*, and the queued chunks are in the snapshot too, so every snapshot is a
consistent cut: resume processes the queue and then reads the source from just after it. Nothing is lost and
nothing is applied twice, whatever the policy; the policy only decides how far back a crash rewinds.

:class:`Persister` plugs into the provider's persistence hook. After each processed batch it asks the policy
(every chunk, every N chunks, every T ms) whether a snapshot is due; on every status change (pause, resume, the
terminal statuses) and on ``:checkpoint`` it always takes one. Captured snapshots go to one writer task that
commits everything pending in one ``put_many`` (so many streams share a transaction), each write naming the
version it expects. The stream waits for its write before it goes on, so with the per-chunk policy the snapshot
after chunk *n* is committed before chunk *n + 1* is processed.

Outputs are emitted (printed) as they are produced and the snapshot that records the output counter comes after:
a crash between the two makes resume produce those outputs again, with the same ``seq``. Outputs are therefore
at-least-once, and a consumer that drops ``seq <= last seen`` sees each exactly once.

A persister also owns the streams' leases: it claims each stream before writing it, renews the leases while it
runs and releases them when it closes.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from streamrt.errors import StoreError, UsageError
from streamrt.runtime.driver import _BATCH, _Fault
from streamrt.runtime.machine import Status
from streamrt.runtime.stream import StreamRecord
from streamrt.store import Snapshot, SnapshotStore
from streamrt.values import Keyword

if TYPE_CHECKING:
    from streamrt.runtime.provider import Provider

__all__ = [
    "LEASE_TTL",
    "SCRIPT_KEY",
    "Persister",
    "SnapshotPolicy",
    "parse_policy",
    "restore",
    "snapshot_of",
]

SCRIPT_KEY: Final = Keyword("script")
"""The option under which a snapshot records the script's path, so ``resume`` can find the script again."""
_FAULT_KEY: Final = Keyword("streamrt-fault")
LEASE_TTL: Final = 30.0
"""Seconds a lease lasts without renewal; a persister renews at a third of it."""
_STATS: Final = ("processed", "dropped", "errors", "outputs", "queue_high_watermark", "backpressure_wait")
_OPTIONAL_STATS: Final = ("last_latency", "last_event_time")


@dataclass(frozen=True, slots=True)
class SnapshotPolicy:
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


def snapshot_of(
    record: StreamRecord,
    *,
    processor_hash: str = "",
    source_uri: str | None = None,
    script_path: str | None = None,
) -> Snapshot:
    """Everything needed to bring ``record`` back, taken now (cheap: values are immutable, the queue is copied)."""
    queue = [
        (chunk, {_FAULT_KEY: meta.message} if type(meta) is _Fault else (meta or {}))
        for _, chunk, meta, _ in record.queue
    ]
    options = {k: v for k, v in (record.options or {}).items() if not callable(v)}
    if script_path is not None:
        options[SCRIPT_KEY] = script_path
    stats: dict[str, int | float] = {name: getattr(record, name) for name in _STATS}
    for name in _OPTIONAL_STATS:
        value = getattr(record, name)
        if value is not None:
            stats[name] = value
    return Snapshot(
        stream_id=record.id,
        processor=record.processor_name,
        processor_hash=processor_hash,
        state=record.state,
        initial_state=record.initial_state,
        status=record.status.value,
        status_message=record.message,
        queue=queue,
        continuation=dict(record.continuation) if record.continuation is not None else None,
        source_uri=source_uri,
        queue_capacity=record.capacity,
        options=options,
        stats=stats,
        seq=record.seq,
        output_seq=record.output_seq,
    )


def restore(record: StreamRecord, snapshot: Snapshot, *, now: float | None = None) -> None:
    """Put a snapshot's state, status, queue, counters and continuation into a freshly started record."""
    received = time.time() if now is None else now
    record.state = snapshot.state
    record.initial_state = snapshot.initial_state
    record.status = Status(snapshot.status)
    record.message = snapshot.status_message
    record.seq = snapshot.seq
    record.output_seq = snapshot.output_seq
    record.continuation = dict(snapshot.continuation) if snapshot.continuation is not None else None
    for name in (*_STATS, *_OPTIONAL_STATS):
        if name in snapshot.stats:
            setattr(record, name, snapshot.stats[name])
    first = snapshot.seq - len(snapshot.queue) + 1
    record.queue.clear()
    for i, (chunk, meta) in enumerate(snapshot.queue):
        fault = meta.get(_FAULT_KEY) if isinstance(meta, dict) else None
        slot: Any = _Fault(str(fault)) if fault is not None else (meta or None)
        record.queue.append((first + i, chunk, slot, received))


class Persister:
    """Snapshots a provider's streams into ``store`` under ``policy``; ``await close()`` for the final writes.

    ``versions`` seeds the expected version of streams that already have a snapshot (resumed ones); any other
    stream must not have one yet, so a ``run`` cannot overwrite a stream another run left in the store.
    """

    def __init__(
        self,
        store: SnapshotStore,
        policy: SnapshotPolicy | None = None,
        *,
        processor_hash: str = "",
        script_path: str | None = None,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.policy = policy or SnapshotPolicy()
        self.processor_hash = processor_hash
        self.script_path = script_path
        self.owner = owner or _owner_name()
        self.versions: dict[str, int | None] = {}
        self.writes = 0
        self.transactions = 0
        self._last: dict[str, tuple[int, float]] = {}
        self._pending: dict[str, Snapshot] = {}
        self._next: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._provider: Provider | None = None
        self._claimed: list[str] = []

    def attach(self, provider: Provider) -> None:
        """Become ``provider``'s snapshot hook (one persister per provider)."""
        self._provider = provider
        provider._persist = self._hook

    async def claim(self, stream_id: str, version: int | None = None) -> None:
        """Own ``stream_id`` (StoreError if another provider holds a live lease); ``version``: what the store has.

        A lease left by a process of this host that no longer runs (it was killed) is void and taken over at once
        rather than after it expires.
        """
        store = self.store
        if not await store.claim(stream_id, self.owner, LEASE_TTL):
            lease = await store.lease(stream_id)
            if lease is not None and _dead_local_owner(lease.owner):
                await store.release(stream_id, lease.owner)
                lease = (
                    None
                    if await store.claim(stream_id, self.owner, LEASE_TTL)
                    else await store.lease(stream_id)
                )
            if lease is not None:
                raise StoreError(
                    f"stream {stream_id!r} is owned by {lease.owner} (lease until {_when(lease.expires_at)}): "
                    "two providers must not run one stream"
                )
        self._claimed.append(stream_id)
        if version is not None or stream_id not in self.versions:
            self.versions[stream_id] = version
        if self._renewer is None:
            self._renewer = asyncio.get_running_loop().create_task(
                self._renew(), name="streamrt-lease-renewer"
            )

    def track(self, record: StreamRecord) -> None:
        """Start applying the policy to a stream (claimed first); per-chunk policies process one chunk per batch."""
        self._last[record.id] = (record.processed, time.monotonic())
        chunks = self.policy.chunks
        if chunks is not None and chunks < _BATCH and hasattr(record, "batch"):
            record.batch = chunks

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
        return self._capture(record)

    def _capture(self, record: StreamRecord) -> asyncio.Future[None]:
        self._last[record.id] = (record.processed, time.monotonic())
        source = getattr(record, "source", None)
        self._pending[record.id] = snapshot_of(
            record,
            processor_hash=self.processor_hash,
            source_uri=source.uri if source is not None else None,
            script_path=self.script_path,
        )
        fut = self._next
        if fut is None:
            fut = self._next = asyncio.get_running_loop().create_future()
            fut.add_done_callback(_retrieve)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(
                self._write(), name="streamrt-snapshot-writer"
            )
        return fut

    async def _write(self) -> None:
        """Commit what is pending, one transaction per round, until nothing is left."""
        try:
            while self._pending:
                batch, self._pending = self._pending, {}
                fut, self._next = self._next, None
                items = [(snap, self.versions.get(sid)) for sid, snap in batch.items()]
                try:
                    versions = await self.store.put_many(items)
                except Exception as exc:
                    if fut is not None and not fut.done():
                        fut.set_exception(exc)
                    continue
                for sid, version in zip(batch, versions, strict=True):
                    self.versions[sid] = version
                self.writes += len(items)
                self.transactions += 1
                if fut is not None and not fut.done():
                    fut.set_result(None)
        finally:
            self._writer = None

    async def flush(self, records: Iterable[StreamRecord] = ()) -> None:
        """Snapshot ``records`` now (a clean shutdown) and wait until everything pending is committed."""
        futures = [self._capture(r) for r in records if r.id in self._last]
        while self._writer is not None:
            await asyncio.shield(self._writer)
        for fut in futures:
            if fut.done() and not fut.cancelled() and fut.exception() is not None:
                raise fut.exception()  # type: ignore[misc]

    async def close(self, *, final: bool = True) -> None:
        """Commit the last snapshot of every stream (unless not ``final``), stop renewing, release the leases."""
        try:
            provider = self._provider
            if not final:
                self._last.clear()
                self._pending.clear()
            records = [provider.record(sid) for sid in provider.stream_ids()] if provider is not None else []
            await self.flush(records)
        finally:
            if self._renewer is not None:
                self._renewer.cancel()
                await asyncio.gather(self._renewer, return_exceptions=True)
                self._renewer = None
            for sid in self._claimed:
                await self.store.release(sid, self.owner)
            self._claimed.clear()

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(LEASE_TTL / 3)
            for sid in list(self._claimed):
                await self.store.claim(sid, self.owner, LEASE_TTL)


def _retrieve(fut: asyncio.Future[None]) -> None:
    """Mark a failed write's exception as seen: the streams awaiting it report it; nobody else needs to."""
    if not fut.cancelled():
        fut.exception()


def _owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _dead_local_owner(owner: str) -> bool:
    """Whether ``owner`` names a process of this host (``host:pid:nonce``) that does not exist any more."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
