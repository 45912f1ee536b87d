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

from streamrt.cluster import RedisLeases
from streamrt.errors import StoreError, StreamOwnedError
from streamrt.runtime import Persister, Provider
from streamrt.store import MemoryStore, SnapshotStore, SqlStore
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
