"""The store contract, run against every store: memory, SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from streamrt.errors import (
    SnapshotConflictError,
    SnapshotNotFoundError,
    StoreError,
    StreamOwnedError,
    UsageError,
)
from streamrt.store import MemoryStore, Snapshot, SnapshotStore
from streamrt.values import Keyword, LList
from tests.store.conftest import FakeClock

K = Keyword


def snap(stream_id: str = "s1", **fields: object) -> Snapshot:
    base = Snapshot(
        stream_id,
        "count-chunks",
        processor_hash="h1",
        state={K("count"): 3, K("seen"): ("a", "b")},
        initial_state={K("count"): 0},
        status="paused",
        queue=[({K("v"): i}, {K("seq"): i, K("line"): i + 1}) for i in range(20)],
        continuation={"line": 3},
        source_uri="jsonl:data.jsonl",
        queue_capacity=32,
        options={K("queue-capacity"): 32},
        stats={"processed": 3, "last_latency": 0.25},
        seq=23,
        output_seq=2,
        pending_outputs=[(2, {K("total"): 3})],
    )
    for name, value in fields.items():
        setattr(base, name, value)
    return base


# --- get / put ---------------------------------------------------------------------------------------------------


async def test_put_then_get_returns_an_equal_independent_snapshot(
    store: SnapshotStore, clock: FakeClock
) -> None:
    s = snap()
    clock.now = 1234.5
    assert await store.put(s, expected_version=None) == 1
    assert (s.version, s.updated_at) == (1, 1234.5)
    got = await store.get("s1")
    assert got == s
    assert got is not s and got.state is not s.state
    assert (
        got.status == "paused"
        and len(got.queue) == 20
        and got.queue[7] == ({K("v"): 7}, {K("seq"): 7, K("line"): 8})
    )


async def test_versions_count_up_and_every_write_is_kept(store: SnapshotStore) -> None:
    s = snap()
    versions = []
    expected = None
    for n in range(5):
        s.state = {K("count"): n}
        expected = await store.put(s, expected_version=expected)
        versions.append(expected)
    assert versions == [1, 2, 3, 4, 5]
    got = await store.get("s1")
    assert got.state == {K("count"): 4} and got.version == 5


async def test_get_of_a_missing_stream_names_it(store: SnapshotStore) -> None:
    with pytest.raises(SnapshotNotFoundError, match="'nope'"):
        await store.get("nope")


async def test_language_values_survive_the_store(store: SnapshotStore) -> None:
    state = {
        K("big"): 2**100,
        K("neg"): -(2**70),
        K("list"): LList((1, K("a"), ())),
        (1, 2): {None: 1.5, True: "x"},
        K("ns/kw"): "\u00e9\u6f22\U0001f600",
    }
    await store.put(snap(state=state), expected_version=None)
    got = (await store.get("s1")).state
    assert got == state
    assert type(got[K("list")]) is LList and got[K("list")][1] is K("a")


async def test_unstorable_state_is_refused_by_name_and_nothing_is_written(store: SnapshotStore) -> None:
    s = snap(state={K("f"): print})
    with pytest.raises(StoreError, match=r"stream 's1'.*function"):
        await store.put(s, expected_version=None)
    assert s.version == 0
    assert await store.list() == []


# --- optimistic concurrency ---------------------------------------------------------------------------------------


async def test_two_creators_one_loses(store: SnapshotStore) -> None:
    await store.put(snap(state={K("by"): "first"}), expected_version=None)
    loser = snap(state={K("by"): "second"})
    with pytest.raises(SnapshotConflictError, match=r"'s1' already exists at version 1"):
        await store.put(loser, expected_version=None)
    assert loser.version == 0
    assert (await store.get("s1")).state == {K("by"): "first"}


async def test_two_writers_from_the_same_version_one_loses(store: SnapshotStore) -> None:
    await store.put(snap(), expected_version=None)
    a, b = await store.get("s1"), await store.get("s1")
    a.state, b.state = {K("by"): "a"}, {K("by"): "b"}
    assert await store.put(a, expected_version=a.version) == 2
    with pytest.raises(SnapshotConflictError, match=r"'s1'.*expected version 1, the store has version 2"):
        await store.put(b, expected_version=b.version)
    assert b.version == 1, "the loser's snapshot keeps the version it had"
    assert (await store.get("s1")).state == {K("by"): "a"}


async def test_concurrent_writers_exactly_one_wins_each_round(store: SnapshotStore) -> None:
    await store.put(snap(), expected_version=None)
    for round_ in range(3):
        current = await store.get("s1")
        writers = [await store.get("s1") for _ in range(4)]
        for i, w in enumerate(writers):
            w.state = {K("writer"): i, K("round"): round_}
        results = await asyncio.gather(
            *(store.put(w, expected_version=current.version) for w in writers), return_exceptions=True
        )
        wins = [r for r in results if isinstance(r, int)]
        assert wins == [current.version + 1]
        assert all(isinstance(r, SnapshotConflictError) for r in results if not isinstance(r, int))
        winner = results.index(wins[0])
        assert (await store.get("s1")).state == {K("writer"): winner, K("round"): round_}


async def test_writing_a_deleted_stream_is_a_conflict(store: SnapshotStore) -> None:
    s = snap()
    await store.put(s, expected_version=None)
    await store.delete("s1")
    with pytest.raises(SnapshotConflictError, match="expected version 1, the store has no snapshot"):
        await store.put(s, expected_version=1)


@pytest.mark.parametrize("bad", [0, -1, "1", 1.0])
async def test_nonsense_expected_version_is_a_usage_error(store: SnapshotStore, bad: object) -> None:
    with pytest.raises(UsageError, match="expected_version"):
        await store.put(snap(), expected_version=bad)  # type: ignore[arg-type]


# --- put_many -------------------------------------------------------------------------------------------------------


async def test_put_many_writes_a_batch(store: SnapshotStore) -> None:
    await store.put(snap("b"), expected_version=None)
    batch = [(snap("a"), None), (snap("b", seq=99), 1), (snap("c"), None)]
    assert await store.put_many(batch) == [1, 2, 1]
    assert [(s.stream_id, s.version, s.seq) for s in await store.list()] == [
        ("a", 1, 23),
        ("b", 2, 99),
        ("c", 1, 23),
    ]


async def test_put_many_is_all_or_nothing(store: SnapshotStore) -> None:
    await store.put(snap("b", state={K("v"): "old"}), expected_version=None)
    before = await store.list()
    a, b, c = snap("a"), snap("b", state={K("v"): "new"}), snap("c")
    with pytest.raises(SnapshotConflictError, match=r"'b'.*expected version 7, the store has version 1"):
        await store.put_many([(a, None), (b, 7), (c, None)])
    assert await store.list() == before
    assert (await store.get("b")).state == {K("v"): "old"}
    assert [s.version for s in (a, b, c)] == [0, 0, 0], (
        "versions are rolled back on the caller's snapshots too"
    )
    with pytest.raises(SnapshotNotFoundError):
        await store.get("a")


async def test_put_many_applies_one_stream_twice_in_order(store: SnapshotStore) -> None:
    first, second = snap("a", seq=1), snap("a", seq=2)
    assert await store.put_many([(first, None), (second, 1)]) == [1, 2]
    assert (await store.get("a")).seq == 2


async def test_put_many_of_nothing_is_nothing(store: SnapshotStore) -> None:
    assert await store.put_many([]) == []
    assert await store.list() == []


# --- list / delete --------------------------------------------------------------------------------------------------


async def test_list_summarises_without_decoding(store: SnapshotStore, clock: FakeClock) -> None:
    clock.now = 100.0
    await store.put(snap("zeta", status="completed", seq=5), expected_version=None)
    clock.now = 200.0
    await store.put(snap("alpha", processor="other", seq=7), expected_version=None)
    rows = await store.list()
    assert [(r.stream_id, r.processor, r.status, r.version, r.updated_at, r.seq) for r in rows] == [
        ("alpha", "other", "paused", 1, 200.0, 7),
        ("zeta", "count-chunks", "completed", 1, 100.0, 5),
    ]


# --- fences ------------------------------------------------------------------------------------------------------


async def test_a_raised_fence_refuses_the_old_owners_write_at_the_same_version(store: SnapshotStore) -> None:
    # The gap versions alone leave: both owners expect version 1; the new owner raised the fence first.
    await store.put(snap(fence=1), expected_version=None)
    assert await store.raise_fence("s1", 2) == 1
    with pytest.raises(StreamOwnedError, match=r"fencing token 1 is older than the store's 2"):
        await store.put(snap(fence=1, state="stale"), expected_version=1)
    assert await store.put(snap(fence=2, state="new owner"), expected_version=1) == 2
    got = await store.get("s1")
    assert (got.state, got.fence, got.version) == ("new owner", 2, 2)
    assert [(r.stream_id, r.fence) for r in await store.list()] == [("s1", 2)]


async def test_a_fence_never_goes_down_and_says_whether_a_token_is_fresh(store: SnapshotStore) -> None:
    # no snapshot yet: nothing to raise (the first write is fenced by its expected version of None)
    assert await store.raise_fence("nothing-yet", 5) == 0
    await store.put(snap(fence=4), expected_version=None)
    assert await store.raise_fence("s1", 3) == 4  # not fresh: left as it was
    assert await store.raise_fence("s1", 4) == 4  # the same token again is not fresh either
    assert (await store.get_many(["s1"]))["s1"].fence == 4
    assert await store.raise_fence("s1", 6) == 4
    assert (await store.get("s1")).fence == 6


async def test_a_fenced_out_write_in_a_batch_writes_nothing(store: SnapshotStore) -> None:
    await store.put_many([(snap("a", fence=1), None), (snap("b", fence=1), None)])
    await store.raise_fence("b", 2)
    with pytest.raises(StreamOwnedError):
        await store.put_many([(snap("a", fence=1, seq=99), 1), (snap("b", fence=1), 1)])
    assert (await store.get("a")).seq == 23


async def test_delete_forgets_snapshot_lease_and_dead_letters(store: SnapshotStore) -> None:
    await store.put(snap("a"), expected_version=None)
    await store.put(snap("b"), expected_version=None)
    assert await store.claim("a", "host-1", 30)
    await store.add_dead_letter("a", 4, {K("x"): 1}, {K("line"): 4}, "bad chunk")
    await store.delete("a")
    assert [s.stream_id for s in await store.list()] == ["b"]
    assert await store.lease("a") is None
    assert await store.dead_letters("a") == []
    with pytest.raises(SnapshotNotFoundError, match="'a'"):
        await store.delete("a")


async def test_delete_with_a_stale_version_is_refused(store: SnapshotStore) -> None:
    s = snap()
    await store.put(s, expected_version=None)
    await store.put(s, expected_version=1)
    with pytest.raises(SnapshotConflictError, match="expected version 1, the store has version 2"):
        await store.delete("s1", expected_version=1)
    await store.delete("s1", expected_version=2)
    assert await store.list() == []


# --- leases ---------------------------------------------------------------------------------------------------------


async def test_a_live_lease_keeps_other_owners_out(store: SnapshotStore, clock: FakeClock) -> None:
    assert await store.claim("s1", "host-1", ttl=30)
    assert not await store.claim("s1", "host-2", ttl=30)
    lease = await store.lease("s1")
    assert lease is not None and (lease.owner, lease.expires_at) == ("host-1", clock.now + 30)


async def test_owner_renews_and_expiry_moves(store: SnapshotStore, clock: FakeClock) -> None:
    assert await store.claim("s1", "host-1", ttl=30)
    clock.advance(25)
    assert await store.claim("s1", "host-1", ttl=30)
    clock.advance(25)  # 50 s after the first claim, 25 after the renewal: still held
    assert not await store.claim("s1", "host-2", ttl=30)
    lease = await store.lease("s1")
    assert lease is not None and lease.expires_at == clock.now + 5


async def test_an_expired_lease_can_be_taken_over(store: SnapshotStore, clock: FakeClock) -> None:
    assert await store.claim("s1", "host-1", ttl=10)
    clock.advance(10)
    assert await store.claim("s1", "host-2", ttl=10)
    lease = await store.lease("s1")
    assert lease is not None and lease.owner == "host-2"
    assert not await store.claim("s1", "host-1", ttl=10)


async def test_release_only_by_the_owner(store: SnapshotStore) -> None:
    assert await store.claim("s1", "host-1", ttl=30)
    assert not await store.release("s1", "host-2")
    assert (await store.lease("s1")) is not None
    assert await store.release("s1", "host-1")
    assert await store.lease("s1") is None
    assert not await store.release("s1", "host-1")
    assert await store.claim("s1", "host-2", ttl=30)


async def test_concurrent_claims_one_winner(store: SnapshotStore) -> None:
    results = await asyncio.gather(*(store.claim("s1", f"host-{i}", ttl=30) for i in range(6)))
    assert results.count(True) == 1
    lease = await store.lease("s1")
    assert lease is not None and lease.owner == f"host-{results.index(True)}"


async def test_leases_are_per_stream(store: SnapshotStore) -> None:
    assert await store.claim("a", "host-1", ttl=30)
    assert await store.claim("b", "host-2", ttl=30)
    assert not await store.claim("a", "host-2", ttl=30)


@pytest.mark.parametrize(("owner", "ttl"), [("", 10.0), ("host", 0.0), ("host", -1.0)])
async def test_meaningless_leases_are_refused(store: SnapshotStore, owner: str, ttl: float) -> None:
    with pytest.raises(UsageError, match="lease on stream 's1'"):
        await store.claim("s1", owner, ttl)


# --- dead letters ---------------------------------------------------------------------------------------------------


async def test_dead_letters_keep_chunk_meta_and_error_in_order(
    store: SnapshotStore, clock: FakeClock
) -> None:
    await store.add_dead_letter("s1", 7, {K("temp"): "hot"}, {K("line"): 7}, "ScriptRuntimeError: boom")
    clock.advance(1)
    await store.add_dead_letter("s1", 9, (1, LList((2,))), {K("line"): 9}, "second")
    await store.add_dead_letter("other", 1, None, {}, "elsewhere")
    letters = await store.dead_letters("s1")
    assert [(d.seq, d.chunk, d.meta, d.error) for d in letters] == [
        (7, {K("temp"): "hot"}, {K("line"): 7}, "ScriptRuntimeError: boom"),
        (9, (1, LList((2,))), {K("line"): 9}, "second"),
    ]
    assert letters[1].created_at - letters[0].created_at == 1
    assert await store.dead_letters("nobody") == []


# --- lifecycle ------------------------------------------------------------------------------------------------------


async def test_a_closed_store_says_so() -> None:
    store = MemoryStore()
    with pytest.raises(UsageError, match="not open"):
        await store.get("s1")
    async with store:
        assert store.is_open
    assert not store.is_open
    with pytest.raises(UsageError, match="not open"):
        await store.list()


async def test_a_cancelled_batch_writes_all_or_nothing_and_the_store_stays_usable(
    store: SnapshotStore,
) -> None:
    for yields in range(8):  # cancel at successively later points of the write
        ids = [f"r{yields}-{i}" for i in range(3)]
        task = asyncio.create_task(store.put_many([(snap(sid), None) for sid in ids]))
        for _ in range(yields):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        present = {s.stream_id for s in await store.list()} & set(ids)
        assert present in (set(), set(ids)), f"a cancelled batch left a partial write: {sorted(present)}"
    follow_up = snap("after")
    assert await store.put_many([(follow_up, None), (snap("after-2"), None)]) == [1, 1]
    assert (await store.get("after")).version == 1
