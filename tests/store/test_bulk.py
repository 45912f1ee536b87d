"""Bulk reads and lease claims (``get_many``, ``claim_many``), run against every store: memory, SQLite, PostgreSQL."""

from __future__ import annotations

import msgspec.structs
import pytest
from sqlalchemy import event

from streamrt.errors import SnapshotCorruptError, UsageError
from streamrt.store import Snapshot, SnapshotStore, SqlStore
from streamrt.store.redis import RedisStore
from streamrt.values import Keyword
from tests.store.conftest import FakeClock

K = Keyword


def snap(stream_id: str, n: int) -> Snapshot:
    return Snapshot(stream_id, "tally", state={K("n"): n}, queue=[({K("v"): n}, {})], seq=n + 1)


async def test_get_many_returns_the_stored_ones_in_the_order_asked(store: SnapshotStore) -> None:
    await store.put_many([(snap(f"s{i}", i), None) for i in range(5)])
    await store.put(snap("s3", 33), expected_version=1)
    got = await store.get_many(["s4", "nope", "s3", "s0", "s4"])
    assert list(got) == ["s4", "s3", "s0"]
    assert got["s3"].state == {K("n"): 33} and got["s3"].version == 2
    assert got["s4"] == await store.get("s4")
    assert await store.get_many([]) == {}


async def test_get_many_of_thousands_is_one_query_on_sql(store: SnapshotStore) -> None:
    n = 3000
    await store.put_many([(snap(f"s{i:05d}", i), None) for i in range(n)])
    statements: list[str] = []
    if isinstance(store, SqlStore):
        engine = store._db().sync_engine
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
    got = await store.get_many(f"s{i:05d}" for i in range(n))
    if isinstance(store, SqlStore):
        event.remove(engine, "before_cursor_execute", listener)
        assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    assert len(got) == n
    assert [s.state[K("n")] for s in got.values()] == list(range(n))


async def test_get_many_names_a_damaged_snapshot(store: SnapshotStore) -> None:
    await store.put_many([(snap("good", 1), None), (snap("bad", 2), None)])
    if isinstance(store, SqlStore):
        from sqlalchemy import update

        from streamrt.store.schema import snapshots

        async with store._db().begin() as conn:
            await conn.execute(
                update(snapshots).where(snapshots.c.stream_id == "bad").values(blob=b"SRTS\x00")
            )
    elif isinstance(store, RedisStore):
        await store._db().hset("streamrt:snap:bad", "blob", b"SRTS\x00")
    else:
        rows = store._rows  # type: ignore[attr-defined]
        rows["bad"] = msgspec.structs.replace(rows["bad"], blob=b"SRTS\x00")
    with pytest.raises(SnapshotCorruptError, match="'bad' is corrupt: truncated"):
        await store.get_many(["good", "bad"])
    assert (await store.get_many(["good"]))["good"].state == {K("n"): 1}


async def test_claim_many_takes_free_own_and_expired_leases_only(
    store: SnapshotStore, clock: FakeClock
) -> None:
    assert await store.claim("theirs", "b", 10)
    assert await store.claim("stale", "b", 1)
    assert await store.claim("mine", "a", 1)
    clock.advance(5)
    ids = ["free-1", "theirs", "stale", "mine", "free-2", "free-1"]
    assert await store.claim_many(ids, "a", 30) == {"free-1", "free-2", "stale", "mine"}
    for sid in ("free-1", "free-2", "stale", "mine"):
        lease = await store.lease(sid)
        assert lease is not None and (lease.owner, lease.expires_at) == ("a", clock.now + 30)
    theirs = await store.lease("theirs")
    assert theirs is not None and theirs.owner == "b"
    # a renewal by the owner, and the other owner still kept out
    clock.advance(1)
    assert await store.claim_many(["mine", "theirs"], "a", 30) == {"mine"}
    assert await store.claim_many(["mine"], "b", 30) == set()
    assert await store.claim_many([], "a", 30) == set()


async def test_claim_many_of_thousands(store: SnapshotStore, clock: FakeClock) -> None:
    ids = [f"s{i:05d}" for i in range(2500)]
    assert await store.claim("s01234", "other", 60)
    won = await store.claim_many(ids, "me", 30)
    assert won == set(ids) - {"s01234"}
    clock.advance(61)
    assert await store.claim_many(ids, "me", 30) == set(ids)


@pytest.mark.parametrize(("owner", "ttl"), [("", 10), ("a", 0), ("a", -1)])
async def test_claim_many_refuses_meaningless_leases(store: SnapshotStore, owner: str, ttl: float) -> None:
    with pytest.raises(UsageError):
        await store.claim_many(["x", "y"], owner, ttl)
    assert await store.lease("x") is None
