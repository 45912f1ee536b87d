"""RedisLeases on a real redis-server: ownership, fencing tokens, renewal in batches, lost leases, a Redis that
lost its keys, and the port as a persister uses it (``Persister(store, leases=RedisLeases(url))``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

import pytest

from streamrt.cluster import FencedStore, RedisLeases
from streamrt.errors import StreamOwnedError, UsageError
from streamrt.store import MemoryStore, Snapshot, SnapshotStore
from tests.conftest import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]


@pytest.fixture
async def node(redis_url: str) -> AsyncIterator[Callable[..., RedisLeases]]:
    """Makes open leases for a named node; closes them all at the end of the test."""
    made: list[RedisLeases] = []

    def make(owner: str, **kwargs: object) -> RedisLeases:
        leases = RedisLeases(redis_url, owner=owner, **kwargs)  # type: ignore[arg-type]
        made.append(leases)
        return leases

    yield make
    for leases in made:
        await leases.close()


async def test_one_owner_at_a_time_and_every_claim_a_larger_token(node: Callable[..., RedisLeases]) -> None:
    a, b = node("node-a"), node("node-b")
    await a.open()
    await b.open()
    await a.claim("s1")
    with pytest.raises(StreamOwnedError, match="stream 's1' is owned by node-a"):
        await b.claim("s1")
    await a.claim("s1")  # a renewal by the holder keeps its token
    assert a.held() == {"s1": 1}
    await a.release("s1")
    await b.claim("s1")
    assert b.held() == {"s1": 2}
    await b.release("s1")
    await a.claim("s1")
    assert a.held() == {"s1": 3}


async def test_claim_many_is_all_or_nothing_in_one_call(node: Callable[..., RedisLeases]) -> None:
    a, b = node("node-a"), node("node-b")
    await a.open()
    await b.open()
    await a.claim("b")
    calls = b.round_trips
    with pytest.raises(StreamOwnedError, match="'b' is owned by node-a"):
        await b.claim_many(["a", "b", "c"])
    assert b.held() == {}
    await a.claim_many(["a", "c"])  # b gave back what it had taken
    assert set(a.held()) == {"a", "b", "c"}
    assert b.round_trips - calls == 2  # the claim, and giving back a and c


async def test_renewal_is_one_call_per_thousand_streams_per_tick(node: Callable[..., RedisLeases]) -> None:
    a, b = node("node-a", ttl=0.6), node("node-b")
    await a.open()
    await b.open()
    await a.claim_many([f"s{i}" for i in range(1500)])
    await asyncio.sleep(1.5)  # more than two TTLs: only renewal keeps the leases
    assert a.renewals >= 3
    with pytest.raises(StreamOwnedError):
        await b.claim("s1499")
    # what one tick costs, measured on leases that renew only when told
    c = node("node-c", renew_every=3600)
    await c.open()
    await c.claim_many([f"t{i}" for i in range(1500)])
    calls = c.round_trips
    assert await c.renew() == []
    assert c.round_trips - calls == 2  # 1,500 streams: two calls, not 1,500


async def test_a_stalled_node_learns_at_its_next_renewal_that_it_lost_the_lease(
    node: Callable[..., RedisLeases],
) -> None:
    lost: list[Sequence[str]] = []
    a = node("node-a", ttl=0.2, renew_every=3600, on_lost=lost.append)  # it never renews: stalled
    b = node("node-b")
    await a.open()
    await b.open()
    await a.claim_many(["s1", "s2"])
    await asyncio.sleep(0.35)
    await b.claim("s1")
    assert b.held() == {"s1": 2}
    assert await a.renew() == ["s1"]
    assert lost == [["s1"]]
    assert a.held() == {"s2": 1}  # s2 had expired too, but nobody took it: renewed


async def test_a_redis_that_lost_its_keys_gives_leases_back_to_their_holders(
    node: Callable[..., RedisLeases], redis_server: RedisServer
) -> None:
    a, b = node("node-a"), node("node-b")
    await a.open()
    await b.open()
    await a.claim("s1")
    redis_server.restart()  # no persistence: every lease and counter is gone
    assert await a.renew() == []  # nobody took it meanwhile: its holder takes it back, token and all
    assert a.held() == {"s1": 1}
    with pytest.raises(StreamOwnedError, match="owned by node-a"):
        await b.claim("s1")


async def test_tokens_stay_above_the_stores_fence_when_redis_forgot_them(
    node: Callable[..., RedisLeases], redis_server: RedisServer
) -> None:
    async with MemoryStore() as store:
        a, b = node("node-a"), node("node-b")
        await a.open()
        await b.open()
        fenced = a.fenced(store)
        for _ in range(3):
            await a.claim("s1")
            await a.release("s1")
        await a.claim("s1")
        assert a.held() == {"s1": 4}
        await fenced.put(Snapshot("s1", "p"), expected_version=None)
        await a.release("s1")
        redis_server.restart()  # the counter is gone: INCR would hand out 1 again
        b.fenced(store)
        await b.claim("s1")
        assert b.held() == {"s1": 5}  # above the store's fence of 4
        assert (await store.get("s1")).fence == 5  # raised by b's claim, before b reads the snapshot


async def test_a_fenced_store_writes_only_streams_this_node_holds(node: Callable[..., RedisLeases]) -> None:
    async with MemoryStore() as store:
        a = node("node-a")
        await a.open()
        fenced = a.fenced(store)
        with pytest.raises(StreamOwnedError, match="holds no lease on it"):
            await fenced.put(Snapshot("s1", "p"), expected_version=None)
        await a.claim("s1")
        await fenced.put(Snapshot("s1", "p"), expected_version=None)
        assert (await store.get("s1")).fence == 1


async def test_a_store_that_cannot_check_fences_is_refused(redis_url: str) -> None:
    class Unfenced(MemoryStore):
        fencing = False

    store: SnapshotStore = Unfenced()
    with pytest.raises(UsageError, match="cannot check fencing tokens"):
        RedisLeases(redis_url).fenced(store)
    assert isinstance(RedisLeases(redis_url).fenced(MemoryStore()), FencedStore)


async def test_closing_releases_every_lease_at_once(node: Callable[..., RedisLeases]) -> None:
    a, b = node("node-a"), node("node-b")
    await a.open()
    await b.open()
    await a.claim_many([f"s{i}" for i in range(50)])
    calls = a.round_trips
    await a.close()
    assert a.round_trips - calls == 1
    await b.claim_many([f"s{i}" for i in range(50)])  # no waiting for a TTL
    assert len(b.held()) == 50
