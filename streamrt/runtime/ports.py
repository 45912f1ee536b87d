"""The provider's ports for persistence and ownership: what it calls, and what it offers back.

Theory of operation
-------------------
A provider does not know how streams are kept or who may run them; it is handed a :class:`Persistence` (the
snapshot policy over a store: :class:`~streamrt.runtime.persist.Persister`) and calls it at fixed points: when a
stream joins or leaves, after each processed batch, on each status change and ``:checkpoint``, for a dead letter,
and when a host asks whether its pushes are durable. Whatever the port returns as an awaitable, the stream waits
for before its next chunk. In return the port gets a :class:`PersistenceHost` (:meth:`Persistence.bind`): the
one thing it may do to a stream is fail it, when a write nobody waited for failed.

A persister in turn owns streams through a :class:`Leases` port: :class:`~streamrt.runtime.leases.StoreLeases`
keeps the leases in the snapshot store itself; another implementation (a Redis lease with a fencing token, say)
plugs in through ``Persister(leases=...)`` and may hand the persister a store that fences every write
(:meth:`Leases.fenced`). Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from streamrt.runtime.stream import StreamRecord
    from streamrt.store import SnapshotStore
    from streamrt.store.snapshot import DeadLetter, Snapshot

__all__ = ["Leases", "Persistence", "PersistenceHost"]


class PersistenceHost(Protocol):
    """What a provider offers the persistence it was given."""

    def fail_stream(self, stream_id: str, message: str) -> None:
        """Put a live stream in ``:error`` (a snapshot write it did not wait for failed)."""

    def snapshots_written(self, snapshots: Sequence[Snapshot], seconds: float) -> None:
        """Tell the provider's observers of a committed write."""


class Persistence(Protocol):
    """What a provider calls to keep its streams (see :class:`~streamrt.runtime.persist.Persister`)."""

    def bind(self, host: PersistenceHost) -> None:
        """Called once, by the provider that was given this persistence."""

    def track(self, record: StreamRecord) -> int | None:
        """A stream joined the provider (started or restored); returns the batch size its policy wants."""

    def after_batch(self, record: StreamRecord) -> Awaitable[None] | None:
        """A batch was processed; an awaitable returned is waited for before the next chunk."""

    def status_changed(self, record: StreamRecord) -> Awaitable[None] | None:
        """The stream's status changed; an awaitable returned is waited for before the next chunk."""

    def unstorable(self, record: StreamRecord) -> str | None:
        """Why the stream's snapshot could not be stored now (a value its codec refuses), or None; asked before the
        stream completes, so a state that cannot be kept ends it in ``:error`` rather than ``:completed``."""

    def checkpoint(self, record: StreamRecord) -> Awaitable[None] | None:
        """``:checkpoint``: snapshot now; an awaitable returned is waited for before the next chunk."""

    def span(self, record: StreamRecord) -> int | None:
        """How many chunks a producer's hand-off may process before :meth:`after_batch` must be asked again."""

    def durable(self, stream_id: str) -> Awaitable[None] | None:
        """An awaitable done once every chunk the stream accepted is in a committed snapshot (or None)."""

    def dead_letter(self, record: StreamRecord, letter: DeadLetter) -> Awaitable[None] | None:
        """Keep a dead letter; None if this persistence does not keep the stream's (it stays in memory)."""

    async def release(self, record: StreamRecord) -> Snapshot:
        """Write the stream's last snapshot, stop keeping it and give up its lease (a hand-over)."""

    async def close(self, *, final: bool = True) -> None:
        """Commit the last snapshot of every stream (unless not ``final``) and release the leases."""


class Leases(Protocol):
    """Who may run a stream: claim before running it, renew while running, release when done."""

    owner: str
    """This holder's name, as other holders see it in their refusals."""

    async def claim(self, stream_id: str) -> None:
        """Own ``stream_id``; raises :class:`~streamrt.errors.StreamOwnedError` naming the holder if another owns it."""

    async def claim_many(self, stream_ids: Iterable[str]) -> None:
        """Own every one of ``stream_ids`` or none (then StreamOwnedError names the first holder)."""

    async def release(self, stream_id: str) -> None:
        """Give up ``stream_id`` (a no-op if not held)."""

    async def close(self) -> None:
        """Stop renewing and release every lease still held."""

    def fenced(self, store: SnapshotStore) -> SnapshotStore:
        """The store to write snapshots through: ``store`` itself, or one that refuses a write once the lease is
        lost (a fencing token checked by the store)."""

    def held(self) -> Mapping[str, int | None]:
        """The streams held now, each with its fencing token (None where the lease has none)."""
