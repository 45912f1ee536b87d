"""Leases kept in the snapshot store: the default :class:`~streamrt.runtime.ports.Leases` of a persister.

A lease row (owner, expiry) per stream, in the same store as its snapshots: claimed before the stream runs,
renewed in one statement per batch of streams every third of its time to live, released on a clean shutdown or a
hand-over. A lease left by a process of this host that no longer runs (it was killed) is void and taken over at
once rather than after it expires. Together with the versions every snapshot write names, this is a lease with a
fencing token: a stalled owner's late write carries an old version and is refused (so :meth:`fenced` needs to
change nothing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Final

from streamrt.aio import stop_task
from streamrt.errors import StreamOwnedError
from streamrt.store import SnapshotStore
from streamrt.store.owner import dead_local_owner, lease_time, owner_name

__all__ = ["LEASE_TTL", "StoreLeases"]

LEASE_TTL: Final = 30.0
"""Seconds a lease lasts without renewal; it is renewed at a third of it."""


class StoreLeases:
    """Leases on streams in ``store``, held as ``owner`` (default: this host, pid and a nonce)."""

    def __init__(self, store: SnapshotStore, *, owner: str | None = None, ttl: float = LEASE_TTL) -> None:
        self.store = store
        self.owner = owner or owner_name()
        self.ttl = ttl
        self._held: dict[str, None] = {}
        self._renewer: asyncio.Task[None] | None = None

    async def claim(self, stream_id: str) -> None:
        """Own ``stream_id``; StreamOwnedError if another holder has a live lease."""
        store = self.store
        if not await store.claim(stream_id, self.owner, self.ttl):
            lease = await store.lease(stream_id)
            if lease is not None and dead_local_owner(lease.owner):
                await store.release(stream_id, lease.owner)
                lease = (
                    None
                    if await store.claim(stream_id, self.owner, self.ttl)
                    else await store.lease(stream_id)
                )
            if lease is not None:
                raise StreamOwnedError(
                    f"stream {stream_id!r} is owned by {lease.owner} (lease until {lease_time(lease.expires_at)}): "
                    "two providers must not run one stream"
                )
        self._hold(stream_id)

    async def claim_many(self, stream_ids: Iterable[str]) -> None:
        """Own all of ``stream_ids`` (one statement per batch) or none: StreamOwnedError names the first holder."""
        ids = list(dict.fromkeys(stream_ids))
        won = await self.store.claim_many(ids, self.owner, self.ttl)
        try:
            for sid in ids:
                if sid not in won:
                    await self.claim(sid)
        except BaseException:
            for sid in won:
                await self.store.release(sid, self.owner)
                self._held.pop(sid, None)
            raise
        for sid in won:
            self._hold(sid)

    async def release(self, stream_id: str) -> None:
        if stream_id in self._held:
            del self._held[stream_id]
            await self.store.release(stream_id, self.owner)

    async def close(self) -> None:
        """Stop renewing; release every lease still held."""
        if self._renewer is not None:
            await stop_task(self._renewer)  # its store may be Redis, whose client can swallow one cancel()
            self._renewer = None
        held, self._held = list(self._held), {}
        for sid in held:
            await self.store.release(sid, self.owner)

    def fenced(self, store: SnapshotStore) -> SnapshotStore:
        return store

    def held(self) -> Mapping[str, int | None]:
        return dict(self._held)

    def _hold(self, stream_id: str) -> None:
        self._held[stream_id] = None
        if self._renewer is None:
            self._renewer = asyncio.get_running_loop().create_task(
                self._renew(), name="streamrt-lease-renewer"
            )

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            await self.store.claim_many(list(self._held), self.owner, self.ttl)
