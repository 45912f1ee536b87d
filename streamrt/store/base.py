"""The snapshot store interface.

Theory of operation
-------------------
A store maps a stream id to its latest :class:`~streamrt.store.snapshot.Snapshot` and to a small listing row.

*Optimistic concurrency.* Every stored snapshot has a ``version``, 1 for the first write and one more per write.
A writer says which version it last saw (``expected_version``; ``None`` means "it must not exist yet") and the
write is refused with :class:`~streamrt.errors.SnapshotConflictError` when the store holds anything else, so a
writer that lost a race never silently overwrites the winner. ``put_many`` applies a batch in order in one
transaction: one conflict and nothing of the batch is written.

*Leases.* Versions stop a stale owner from overwriting; leases stop two providers from running a stream at all.
``claim(stream_id, owner, ttl)`` takes a lease row (owner, expiry) if nobody holds one, if it has expired, or if
``owner`` already holds it (renewal); ``claim_many`` does the same for many streams at once. A provider renews well
before ``ttl`` runs out and ``release``-s on a clean shutdown; a crashed provider's lease simply expires. Expiry
uses the claiming host's wall clock, so hosts sharing a PostgreSQL store need synchronised clocks and a ``ttl``
much larger than their skew. The two mechanisms together
are a lease plus a fencing token: if an owner stalls past its lease and another takes over, the stalled owner's
next write carries an old version and is refused.

*Fences.* Versions alone leave one gap: a new owner that took the stream over but has not written yet expects the
same version as the stalled one, so the stalled owner's late write would win and the new owner's first write would
fail. A store whose :attr:`SnapshotStore.fencing` is true closes it with a fencing token per stream (handed out by a
lease service, :class:`~streamrt.cluster.RedisLeases`): :meth:`SnapshotStore.raise_fence` records the new owner's
token before it reads the snapshot, and every write carries its writer's token (``Snapshot.fence``) and is refused
with :class:`~streamrt.errors.StreamOwnedError` when the store holds a higher one. The check is part of the write's
own statement, so it is atomic with it.
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, ClassVar, Self

from streamrt.errors import SnapshotConflictError, SnapshotNotFoundError, StreamOwnedError, UsageError
from streamrt.store.snapshot import DeadLetter, Lease, Snapshot, StreamSummary

__all__ = ["SnapshotStore"]


class SnapshotStore(abc.ABC):
    """A place to keep stream snapshots; use as ``async with store: ...`` (or call :meth:`open`/:meth:`aclose`)."""

    url: str
    """Where the store lives, safe to print (any password is masked)."""

    fencing: ClassVar[bool] = False
    """Whether writes check ``Snapshot.fence`` against the store's fence (see "Fences" above)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._open = False

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"

    @property
    def is_open(self) -> bool:
        return self._open

    def _check_open(self) -> None:
        if not self._open:
            raise UsageError(f"the snapshot store {self.url} is not open (use `async with store:`)")

    # --- lifecycle -------------------------------------------------------------------------------------------

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect, and create or check the schema; raises StoreUnavailableError when that cannot be done."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release connections; safe to call twice."""

    # --- snapshots -------------------------------------------------------------------------------------------

    @abc.abstractmethod
    async def get(self, stream_id: str) -> Snapshot:
        """The latest snapshot of a stream; SnapshotNotFoundError if none, SnapshotCorruptError if damaged."""

    async def get_many(self, stream_ids: Iterable[str]) -> dict[str, Snapshot]:
        """The latest snapshots of several streams at once, by id; ids the store does not hold are left out.

        One query per few thousand ids on SQL stores, which is what makes resuming thousands of streams fast.
        A damaged snapshot raises SnapshotCorruptError naming its stream, as :meth:`get` does.
        """
        found: dict[str, Snapshot] = {}
        for sid in dict.fromkeys(stream_ids):
            try:
                found[sid] = await self.get(sid)
            except SnapshotNotFoundError:
                continue
        return found

    async def put(self, snapshot: Snapshot, *, expected_version: int | None) -> int:
        """Write one snapshot if the store holds ``expected_version`` (None: no snapshot yet); returns the new one.

        On success ``snapshot.version`` and ``snapshot.updated_at`` are set to what was stored.
        """
        return (await self.put_many([(snapshot, expected_version)]))[0]

    @abc.abstractmethod
    async def put_many(self, items: Sequence[tuple[Snapshot, int | None]]) -> builtins.list[int]:
        """Write several snapshots in one transaction, in order; all or nothing. Returns the new versions."""

    @abc.abstractmethod
    async def list(self) -> builtins.list[StreamSummary]:
        """Every stored stream, ordered by stream id, without decoding the snapshots."""

    @abc.abstractmethod
    async def delete(self, stream_id: str, *, expected_version: int | None = None) -> None:
        """Forget a stream: its snapshot, lease and dead letters.

        SnapshotNotFoundError if there is no snapshot; with ``expected_version``, SnapshotConflictError if the
        store holds another version.
        """

    # --- leases ----------------------------------------------------------------------------------------------

    @abc.abstractmethod
    async def claim(self, stream_id: str, owner: str, ttl: float) -> bool:
        """Take or renew the lease on a stream for ``ttl`` seconds; False if another owner holds a live lease."""

    async def claim_many(self, stream_ids: Iterable[str], owner: str, ttl: float) -> builtins.set[str]:
        """:meth:`claim` for many streams (one statement per batch on SQL stores); returns the ids now held.

        Each stream is claimed or not on its own terms, as if claimed one by one; the call is not all or nothing.
        """
        return {sid for sid in dict.fromkeys(stream_ids) if await self.claim(sid, owner, ttl)}

    @abc.abstractmethod
    async def release(self, stream_id: str, owner: str) -> bool:
        """Give up the lease if ``owner`` holds it (live or expired); returns whether it did."""

    @abc.abstractmethod
    async def lease(self, stream_id: str) -> Lease | None:
        """The current lease row, expired or not; None if nobody has claimed the stream."""

    # --- fences ----------------------------------------------------------------------------------------------

    async def raise_fence(self, stream_id: str, token: int) -> int:
        """Refuse writes with a fence below ``token`` from now on; returns the fence the store held before.

        A result at or above ``token`` means the token is not fresh: a writer holding it or a newer one has been
        here (the fence is then left as it was). A stream without a snapshot has no fence to raise (its first
        write is fenced by ``expected_version=None``): the result is 0. Only stores whose :attr:`fencing` is true
        implement it.
        """
        raise UsageError(f"the snapshot store {self.url} cannot check fencing tokens")

    # --- dead letters ----------------------------------------------------------------------------------------

    @abc.abstractmethod
    async def add_dead_letter(
        self, stream_id: str, seq: int, chunk: Any, meta: Any, error: str, *, created_at: float | None = None
    ) -> None:
        """Keep a chunk the stream gave up on, with the error that made it give up."""

    @abc.abstractmethod
    async def dead_letters(self, stream_id: str) -> builtins.list[DeadLetter]:
        """A stream's dead letters, oldest first."""


def check_expected_version(stream_id: str, expected: int | None) -> None:
    """Refuse a nonsense ``expected_version`` early, as the caller's mistake."""
    if expected is not None and (type(expected) is not int or expected < 1):
        raise UsageError(
            f"expected_version for stream {stream_id!r} must be None or a version >= 1, not {expected!r}"
        )


def check_lease_args(stream_id: str, owner: str, ttl: float) -> None:
    """Refuse an empty owner or a non-positive ttl: both would make a lease meaningless."""
    if not owner:
        raise UsageError(f"a lease on stream {stream_id!r} needs a non-empty owner")
    if not ttl > 0:
        raise UsageError(f"a lease on stream {stream_id!r} needs a positive ttl, not {ttl!r}")


def fenced_out_error(stream_id: str, fence: int, held: int) -> StreamOwnedError:
    """The error for a write by an owner whose lease a newer owner has taken (a lower fencing token)."""
    return StreamOwnedError(
        f"snapshot of stream {stream_id!r} not written: its writer's fencing token {fence} is older than the "
        f"store's {held} (another node took the stream over; this one lost its lease)"
    )


def conflict_error(stream_id: str, expected: int | None, actual: int | None) -> SnapshotConflictError:
    """The error for a lost race, naming the stream and both versions."""
    if expected is None:
        return SnapshotConflictError(
            f"snapshot of stream {stream_id!r} already exists at version {actual} (the write expected none): "
            "another writer got there first"
        )
    held = "no snapshot" if actual is None else f"version {actual}"
    return SnapshotConflictError(
        f"snapshot of stream {stream_id!r} changed under this writer: expected version {expected}, "
        f"the store has {held}"
    )
