"""Two providers, one stalled past its lease: the store itself refuses the stalled one's writes.

Node A runs a stream and then stalls (its leases are never renewed: a long GC pause, a frozen VM). Its lease
expires; node B claims the stream (a larger fencing token, raised in the store before B reads the snapshot) and
resumes it. A wakes up unaware and pushes a chunk: both A and B expect the same snapshot version, so versions alone
would let A's write win and B's first write fail. The fence refuses A's write in the store's own statement, A's
stream goes to ``:error`` there, and B's stream ends with exactly the state of an uninterrupted run.
Run on the memory store, PostgreSQL and Redis as the snapshot store.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from streamrt.cluster import FencedStore, RedisLeases
from streamrt.errors import StoreError, StoreUnavailableError, StreamOwnedError
from streamrt.runtime import Persister, Provider
from streamrt.store import MemoryStore, Snapshot, SnapshotStore, SqlStore
from streamrt.store.redis import RedisStore
from streamrt.values import Keyword

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]

K = Keyword
N, SUM = K("n"), K("sum")


def tally(state: Any, chunk: Any) -> Any:
    return {N: state[N] + 1, SUM: state[SUM] + chunk}


@pytest.fixture(params=["memory", pytest.param("postgresql", marks=pytest.mark.postgres), "redis"])
async def store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[SnapshotStore]:
    made: SnapshotStore
    if request.param == "memory":
        made = MemoryStore()
    elif request.param == "redis":
        made = RedisStore(redis_url + "?prefix=store:")
    else:
        made = SqlStore(request.getfixturevalue("postgres_url"))
    async with made:
        yield made


async def test_a_stalled_owner_cannot_overwrite_the_new_owners_state(
    store: SnapshotStore, redis_url: str
) -> None:
    sid = f"s-{uuid.uuid4().hex[:8]}"
    stalled = RedisLeases(redis_url, owner="node-a", ttl=0.3, renew_every=3600)
    healthy = RedisLeases(redis_url, owner="node-b", ttl=5)
    await stalled.open()
    await healthy.open()
    a = Provider(persistence=Persister(store, leases=stalled))
    b_persister = Persister(store, leases=healthy)
    b = Provider(persistence=b_persister)
    try:
        a.start(tally, stream_id=sid, initial_state={N: 0, SUM: 0})
        await stalled.claim(sid)
        for chunk in range(1, 6):
            await a.push(sid, chunk)  # each push returns once its snapshot is committed (fence 1)
        assert (await store.get(sid)).fence == 1

        await asyncio.sleep(0.45)  # A's lease runs out while it stalls
        await healthy.claim(sid)  # token 2, and the store's fence raised to it before B reads the snapshot
        snap = await store.get(sid)
        assert (snap.state, snap.fence) == ({N: 5, SUM: 15}, 2)
        await b_persister.claim(sid, snap.version)
        b.restore(snap, tally)

        # A wakes up and pushes: the same expected version as B's, but an older token
        with pytest.raises(StreamOwnedError, match="fencing token 1 is older than the store's 2"):
            await a.push(sid, 100)
        assert a.streams[sid].status.value == "error"
        assert "fencing token 1" in (a.streams[sid].message or "")

        for chunk in range(6, 11):
            await b.push(sid, chunk)
        b.end_input(sid)
        await b.wait(sid)
    finally:
        await b.close()
        with contextlib.suppress(StoreError):
            await a.close()  # its final write is refused as well
        await stalled.close()
        await healthy.close()
    final = await store.get(sid)
    assert (final.state, final.status, final.seq, final.fence) == ({N: 10, SUM: 55}, "completed", 10, 2)


class Unreachable(MemoryStore):
    """A store whose next ``failures`` writes fail as unreachable; ``committed``: each commits first (the
    connection broke after the commit)."""

    def __init__(self, failures: int, *, committed: bool = False) -> None:
        super().__init__()
        self.failures = failures
        self.committed = committed
        self.attempts = 0

    async def put_many(self, items: Any) -> list[int]:
        self.attempts += 1
        if self.failures:
            self.failures -= 1
            if self.committed:
                await super().put_many(items)
            raise StoreUnavailableError("snapshot store memory: writing failed: connection lost")
        return await super().put_many(items)


async def test_a_store_that_is_unreachable_for_a_while_is_waited_for() -> None:
    async with Unreachable(3) as inner:
        store = FencedStore(inner, lambda sid: 1)
        assert await store.put(Snapshot("s1", "p", seq=4), expected_version=None) == 1
        assert inner.attempts == 4
        assert ((await inner.get("s1")).version, (await inner.get("s1")).fence) == (1, 1)


async def test_a_write_that_committed_before_its_connection_broke_is_not_sent_again() -> None:
    async with Unreachable(1, committed=True) as inner:
        store = FencedStore(inner, lambda sid: 1)
        snap = Snapshot("s1", "p", seq=4)
        assert await store.put(snap, expected_version=None) == 1  # not a conflict with itself
        assert (snap.version, inner.attempts) == (1, 1)
        assert await store.put(Snapshot("s1", "p", seq=5), expected_version=1) == 2


async def test_a_store_unreachable_for_too_long_fails_the_write() -> None:
    async with Unreachable(1000) as inner:
        store = FencedStore(inner, lambda sid: 1, unavailable_for=0.3)
        with pytest.raises(StoreUnavailableError, match="connection lost"):
            await store.put(Snapshot("s1", "p"), expected_version=None)


async def test_an_event_log_that_is_unreachable_for_a_while_is_waited_for() -> None:
    """The log's flush before the write (Redis restarting) is retried like the store: the write goes through."""
    failures = [3]

    async def flush_log() -> None:
        if failures[0]:
            failures[0] -= 1
            raise StoreUnavailableError(
                "Redis redis://127.0.0.1:1/0: appending the events of 1 streams failed"
            )

    async with MemoryStore() as inner:
        store = FencedStore(inner, lambda sid: 1, before_write=flush_log)
        assert await store.put(Snapshot("s1", "p", seq=4), expected_version=None) == 1
        assert failures == [0] and (await inner.get("s1")).fence == 1


async def test_an_event_log_unreachable_for_too_long_fails_the_write() -> None:
    async def flush_log() -> None:
        raise StoreUnavailableError("Redis redis://127.0.0.1:1/0: appending the events of 1 streams failed")

    async with MemoryStore() as inner:
        store = FencedStore(inner, lambda sid: 1, before_write=flush_log, unavailable_for=0.3)
        with pytest.raises(StoreUnavailableError, match="appending the events"):
            await store.put(Snapshot("s1", "p"), expected_version=None)
        assert await inner.get_many(["s1"]) == {}
