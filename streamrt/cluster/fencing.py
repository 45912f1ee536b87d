"""A snapshot store seen through a node's leases: every write carries its stream's fencing token.

:class:`FencedStore` is what :meth:`RedisLeases.fenced <streamrt.cluster.leases.RedisLeases.fenced>` hands the
persister. It stamps each snapshot with the token of the lease this node holds on the stream and lets the store
compare it with the fence it keeps (the check is the store's, inside the write's own statement). A snapshot of a
stream this node holds no lease on is refused before it is sent: its lease was lost, and whatever it would write
belongs to someone else now. ``before_write`` is awaited before each write (a cluster node flushes its event log
there: an event is in the log before any snapshot that has gone past it).

A write that fails because the store cannot be reached (PostgreSQL restarting, a network blip) is retried with
backoff for ``unavailable_for`` seconds instead of failing its streams: they wait, as they would for a slow commit,
and go on. Before each retry the store is read: a transaction whose connection broke after it committed is not
sent again (it would conflict with itself). A ``before_write`` that cannot reach its Redis (the event log while
Redis restarts) is waited for the same way: it failed the write at once, so a restart longer than the Redis
client's own few retries put every stream with a chunk waiting to be committed in ``:error``. Everything else
passes through unchanged.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from streamrt.errors import StoreUnavailableError, StreamOwnedError, UsageError
from streamrt.store import DeadLetter, Lease, Snapshot, SnapshotStore, StreamSummary

__all__ = ["FencedStore"]


class FencedStore(SnapshotStore):
    """``store`` with each write fenced by ``token(stream_id)`` (None: this node holds no lease on the stream);
    a write the store cannot take because it is unreachable is retried for ``unavailable_for`` seconds."""

    def __init__(
        self,
        store: SnapshotStore,
        token: Callable[[str], int | None],
        *,
        before_write: Callable[[], Awaitable[None]] | None = None,
        unavailable_for: float = 60.0,
    ) -> None:
        if not store.fencing:
            raise UsageError(
                f"the snapshot store {store.url} cannot check fencing tokens, so a cluster cannot keep a node that "
                "lost its lease from overwriting the new owner's state; use PostgreSQL, SQLite or Redis"
            )
        super().__init__(store.url)
        self.inner = store
        self._token = token
        self._before_write = before_write
        self.unavailable_for = unavailable_for

    fencing = True

    @property
    def is_open(self) -> bool:
        return self.inner.is_open

    async def open(self) -> None:
        await self.inner.open()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def put_many(self, items: Sequence[tuple[Snapshot, int | None]]) -> builtins.list[int]:
        for snapshot, _ in items:
            token = self._token(snapshot.stream_id)
            if token is None:
                raise StreamOwnedError(
                    f"snapshot of stream {snapshot.stream_id!r} not written: this node holds no lease on it "
                    "(lost, or never claimed)"
                )
            snapshot.fence = token
        give_up = time.monotonic() + self.unavailable_for
        delay = 0.05
        flushed = self._before_write is None
        while True:
            try:
                if not flushed:
                    assert self._before_write is not None
                    await self._before_write()  # the event log, in a Redis that may be restarting too
                    flushed = True
                return await self.inner.put_many(items)
            except StoreUnavailableError:
                if time.monotonic() > give_up:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
            if flushed:
                with contextlib.suppress(StoreUnavailableError):
                    if await self._landed(items):
                        return [snapshot.version for snapshot, _ in items]

    async def _landed(self, items: Sequence[tuple[Snapshot, int | None]]) -> bool:
        """Whether a write whose connection failed was committed all the same (then it must not be sent again).

        One transaction lands whole or not at all, so it landed if every stream holds the version it would have
        written, with this write's fence and seq.
        """
        ids = [snapshot.stream_id for snapshot, _ in items]
        if len(set(ids)) != len(ids):
            return False  # a stream twice in one batch: the retry decides (a conflict if it had landed)
        held = await self.inner.get_many(ids)
        for snapshot, expected in items:
            got = held.get(snapshot.stream_id)
            if got is None or (got.version, got.fence, got.seq) != (
                (expected or 0) + 1,
                snapshot.fence,
                snapshot.seq,
            ):
                return False
        for snapshot, expected in items:
            snapshot.version = (expected or 0) + 1
            snapshot.updated_at = held[snapshot.stream_id].updated_at
        return True

    async def get(self, stream_id: str) -> Snapshot:
        return await self.inner.get(stream_id)

    async def get_many(self, stream_ids: Iterable[str]) -> dict[str, Snapshot]:
        return await self.inner.get_many(stream_ids)

    async def list(self) -> builtins.list[StreamSummary]:
        return await self.inner.list()

    async def delete(self, stream_id: str, *, expected_version: int | None = None) -> None:
        await self.inner.delete(stream_id, expected_version=expected_version)

    async def raise_fence(self, stream_id: str, token: int) -> int:
        return await self.inner.raise_fence(stream_id, token)

    async def claim(self, stream_id: str, owner: str, ttl: float) -> bool:
        return await self.inner.claim(stream_id, owner, ttl)

    async def claim_many(self, stream_ids: Iterable[str], owner: str, ttl: float) -> builtins.set[str]:
        return await self.inner.claim_many(stream_ids, owner, ttl)

    async def release(self, stream_id: str, owner: str) -> bool:
        return await self.inner.release(stream_id, owner)

    async def lease(self, stream_id: str) -> Lease | None:
        return await self.inner.lease(stream_id)

    async def add_dead_letter(
        self, stream_id: str, seq: int, chunk: Any, meta: Any, error: str, *, created_at: float | None = None
    ) -> None:
        await self.inner.add_dead_letter(stream_id, seq, chunk, meta, error, created_at=created_at)

    async def dead_letters(self, stream_id: str) -> builtins.list[DeadLetter]:
        return await self.inner.dead_letters(stream_id)
