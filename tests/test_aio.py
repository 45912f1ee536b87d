"""``streamrt.aio.stop_task``: a background loop is stopped even when it swallowed a cancellation, and the
leases a persister keeps in its store stop their renewer with it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest

from streamrt.aio import stop_task
from streamrt.runtime.leases import StoreLeases
from streamrt.store import MemoryStore

pytestmark = pytest.mark.timeout(60)


async def test_a_loop_that_swallowed_its_cancellation_is_stopped_all_the_same() -> None:
    """What redis-py's ``asyncio.wait_for`` does on Python 3.11 when a cancel comes as a send completes: the loop
    goes on to its next tick. A close that cancelled its renewer once then waited for it forever."""
    cancels = 0

    async def ticking() -> None:
        nonlocal cancels
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancels += 1
                if cancels > 1:
                    raise

    task = asyncio.create_task(ticking())
    await asyncio.sleep(0)
    async with asyncio.timeout(10):
        await stop_task(task)
    assert task.cancelled() and cancels == 2


class SwallowingStore(MemoryStore):
    """A store whose renewal swallows the first cancellation that reaches it, as a Redis store's client can."""

    def __init__(self) -> None:
        super().__init__()
        self.renewing = asyncio.Event()
        self.swallowed = 0

    async def claim_many(self, stream_ids: Iterable[str], owner: str, ttl: float) -> set[str]:
        if not self.swallowed:
            self.renewing.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                self.swallowed += 1  # and the renewal goes on, and the renewer to its next tick
        return await super().claim_many(stream_ids, owner, ttl)


async def test_the_store_leases_renewer_is_stopped_when_it_swallowed_a_cancellation() -> None:
    async with SwallowingStore() as store:
        leases = StoreLeases(store, owner="me", ttl=0.03)
        await leases.claim("s1")
        await asyncio.wait_for(store.renewing.wait(), 10)
        async with asyncio.timeout(10):  # a close that cancelled its renewer once waited for ever
            await leases.close()
        assert store.swallowed == 1
        assert leases.held() == {}
        assert await store.lease("s1") is None  # released
