"""Group commit, durable pushes, checkpoints, ``input_ended`` and resuming many streams."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from streamrt.errors import SnapshotNotFoundError, StoreError
from streamrt.lang.script import load_script
from streamrt.runtime.machine import Status
from streamrt.runtime.persist import GROUP_BATCH, Persister, parse_policy
from streamrt.runtime.provider import Provider
from streamrt.runtime.resume import resume_streams
from streamrt.store import MemoryStore, Snapshot, SqlStore, open_store
from streamrt.store.group import GroupCommit
from streamrt.values import Keyword

pytestmark = pytest.mark.timeout(60)

K = Keyword
STATE = K("state")
ACTION = K("action")


def add(state: Any, chunk: Any) -> dict[Keyword, Any]:
    return {STATE: state + chunk}


class GatedStore(MemoryStore):
    """A memory store that records each transaction and can hold the next one until released."""

    def __init__(self) -> None:
        super().__init__()
        self.transactions: list[list[Snapshot]] = []
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def put_many(self, items: Sequence[tuple[Snapshot, int | None]]) -> builtins.list[int]:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        versions = await super().put_many(items)
        self.transactions.append([snap for snap, _ in items])
        return versions


async def reaches(count: Callable[[], int], target: int, timeout: float = 10.0) -> None:
    """Wait until ``count()`` is at least ``target``: how soon a stream gets there is the scheduler's business."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while count() < target:
        assert loop.time() < deadline, f"stuck at {count()}, short of {target}"
        await asyncio.sleep(0.001)


async def test_snapshots_due_during_a_write_are_coalesced_into_the_next_transaction() -> None:
    async with GatedStore() as store, Provider() as p:
        persister = Persister(store)
        p.attach_persistence(persister)
        ids = [p.start(add, stream_id=f"s{i:02d}", initial_state=0) for i in range(50)]
        store.gate = asyncio.Event()
        p.push_nowait("s00", 1000)  # (push would wait for the commit: the host acknowledgement)
        await store.entered.wait()  # transaction 1 (s00 alone) is in flight and held
        # one batch each: the streams go on while the write waits
        for i, sid in enumerate(ids):
            for value in range(i % 3 + 1):
                p.push_nowait(sid, value)
        for sid in ids[1:]:
            await p.settle(sid)  # (s00 waits for the held write: its first snapshot is in flight)
        store.gate.set()
        await persister.flush()
        first, second = store.transactions
        assert [s.stream_id for s in first] == ["s00"]
        # every stream once, each at its latest state
        assert sorted(s.stream_id for s in second) == ids
        assert {s.stream_id: s.state for s in second} == {
            sid: sum(range(i % 3 + 1)) + (1000 if sid == "s00" else 0) for i, sid in enumerate(ids)
        }
        assert (persister.transactions, persister.writes) == (2, 51)


async def test_a_stream_runs_at_most_two_batches_past_its_committed_snapshot() -> None:
    async with GatedStore() as store, Provider() as p:
        persister = Persister(store)
        p.attach_persistence(persister)
        sid = p.start(add, stream_id="s", initial_state=0, queue_capacity=1000)
        store.gate = asyncio.Event()
        for i in range(200):
            p.push_nowait(sid, i)
        await store.entered.wait()
        await reaches(lambda: p.record(sid).processed, 2 * GROUP_BATCH)
        await asyncio.sleep(0.05)  # give the stream every chance to run further while the write is held
        assert p.record(sid).processed == 2 * GROUP_BATCH
        store.gate.set()
        await p.settle()
        await persister.flush()
        assert (await store.get(sid)).state == sum(range(200))
        assert persister.transactions < 200 // GROUP_BATCH + 2


@pytest.mark.parametrize("feed", ["queued", "push_many"])
async def test_interval_snapshots_are_taken_at_each_interval_and_written_while_the_stream_goes_on(
    feed: str,
) -> None:
    async with GatedStore() as store, Provider() as p:
        persister = Persister(store, parse_policy("10"))
        p.attach_persistence(persister)
        sid = p.start(add, stream_id="s", initial_state=0, queue_capacity=1000 if feed == "queued" else 32)
        store.gate = asyncio.Event()
        if feed == "queued":
            for i in range(100):
                p.push_nowait(sid, i)
        else:
            pushing = asyncio.ensure_future(p.push_many(sid, range(100)))
        await store.entered.wait()
        await reaches(lambda: p.record(sid).processed, 20)
        await asyncio.sleep(0.05)  # give the stream every chance to run further while the write is held
        # the snapshot after 10 chunks is being written; the stream went on for one more interval and waits there,
        # so a crash now would rewind it by two intervals at most
        assert p.record(sid).processed == 20
        store.gate.set()
        if feed == "push_many":
            await pushing
        await p.settle()
        await persister.flush()
        written = [snap for tx in store.transactions for snap in tx]
        # each captured at its interval's end, not when the store got round to it
        assert [(snap.stats["processed"], snap.state) for snap in written] == [
            (n, sum(range(n))) for n in range(10, 101, 10)
        ]


async def test_push_returns_once_the_chunk_is_committed() -> None:
    async with GatedStore() as store, Provider() as p:
        persister = Persister(store)
        p.attach_persistence(persister)
        sid = p.start(add, stream_id="s", initial_state=0)
        store.gate = asyncio.Event()
        pushing = asyncio.ensure_future(p.push(sid, 5))
        await store.entered.wait()
        await asyncio.sleep(0.01)
        assert not pushing.done()  # the write holding the chunk is not committed yet
        durable = persister.durable(sid)
        assert durable is not None
        store.gate.set()
        await pushing
        await durable
        snap = await store.get(sid)
        assert snap.seq >= 1 and (snap.state == 5 or [c for c, _ in snap.queue] == [5])
        assert persister.durable(sid) is None  # nothing new to wait for
        # other policies make no promise at push time
        other = Persister(store, parse_policy("10"))
        assert other.durable(sid) is None


async def test_a_lost_race_fails_only_its_stream() -> None:
    async with MemoryStore() as store, Provider() as p:
        persister = Persister(store)
        p.attach_persistence(persister)
        ids = [p.start(add, stream_id=f"s{i}", initial_state=0) for i in range(4)]
        await store.put(Snapshot("s2", "add"), expected_version=None)  # another writer got there first
        for sid in ids:
            p.push_nowait(sid, 1)
        await p.settle()
        await persister.flush()
        await p.settle()
        assert p.record("s2").status is Status.ERROR
        assert "checkpoint failed" in (p.record("s2").message or "")
        for sid in ("s0", "s1", "s3"):
            assert p.record(sid).status is Status.ACTIVE
            assert (await store.get(sid)).state == 1
        with pytest.raises(StoreError, match="'s2'"):
            await persister.flush([p.record("s2")])
        await persister.close(final=False)  # s2 can never be written: leave the store as it is


async def test_checkpoint_action_is_written_at_once_under_an_interval_policy() -> None:
    def proc(state: int, chunk: int) -> dict[Keyword, Any]:
        return {STATE: state + 1, ACTION: K("checkpoint")} if chunk == 5 else {STATE: state + 1}

    async with GatedStore() as store, Provider() as p:
        persister = Persister(store, parse_policy("1000"))
        p.attach_persistence(persister)
        sid = p.start(proc, stream_id="s", initial_state=0)
        await p.push_many(sid, range(10))
        await p.settle()
        assert [s.stats["processed"] for tx in store.transactions for s in tx] == [6]
        assert p.record(sid).processed == 10


async def test_a_held_stream_is_not_captured_until_released() -> None:
    captured: list[str] = []

    def capture(sid: str) -> Snapshot:
        captured.append(sid)
        return Snapshot(sid, "p")

    async with MemoryStore() as store:
        group = GroupCommit(store, capture)
        group.hold("a")
        group.due("a")
        group.due("b")
        await group.drain()
        assert captured == ["b"] and group.uncommitted("a")
        group.release("a")
        await group.drain()
        assert captured == ["b", "a"] and not group.uncommitted("a")
        assert (await store.get("a")).version == 1


# --- input_ended and resuming many ---------------------------------------------------------------------------

SCRIPT = "(defn add [state chunk] {:state (+ state chunk)})\n"


@pytest.fixture
def script(tmp_path: Path) -> Any:
    path = tmp_path / "add.rtfs"
    path.write_text(SCRIPT)
    return load_script(path=path)


async def test_a_stream_whose_input_ended_comes_back_completing(script: Any, tmp_path: Path) -> None:
    url = str(tmp_path / "s.db")
    async with open_store(url) as store, Provider() as p:
        persister = Persister(store, processor_hash=script.source_hash)
        p.attach_persistence(persister)
        sid = p.start(script.processor("add"), stream_id="s", initial_state=0, processor_name="add")
        await persister.claim(sid)
        p.pause(sid)
        await p.push_many(sid, [1, 2, 3])
        p.end_input(sid)
        p.checkpoint(sid)
        await persister.flush()
        await persister.close(final=False)  # the process dies here: paused, input over, three chunks queued
    async with open_store(url) as store:
        snap = await store.get("s")
        assert (snap.status, snap.input_ended, len(snap.queue), snap.source_kind) == (
            "paused",
            True,
            3,
            "host",
        )
    async with open_store(url) as store, Provider() as p:
        persister = Persister(store)
        p.attach_persistence(persister)
        await resume_streams(p, persister, ["s"], script)
        record = p.record("s")
        assert record.input_ended and record.status is Status.PAUSED
        p.resume("s")
        await asyncio.wait_for(p.wait("s"), 5)
        assert (record.status, record.state) == (Status.COMPLETED, 6)
        await persister.close()


async def test_resume_streams_brings_back_many_in_one_read_and_one_claim(script: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'many.db'}"
    n = 500
    async with SqlStore(url) as store:
        await store.put_many(
            [
                (
                    Snapshot(
                        f"s{i:04d}",
                        "add",
                        processor_hash=script.source_hash,
                        state=i,
                        initial_state=0,
                        status="paused" if i % 2 else "active",
                        queue=[(1, {})],
                        seq=1,
                        queue_capacity=8,
                    ),
                    None,
                )
                for i in range(n)
            ]
            + [(Snapshot("done", "add", status="completed"), None)]
        )
    async with SqlStore(url) as store, Provider() as p:
        calls: list[str] = []
        for name in ("get", "get_many", "claim", "claim_many"):
            method = getattr(store, name)

            def spy(*args: Any, _m: Any = method, _n: str = name, **kwargs: Any) -> Any:
                calls.append(_n)
                return _m(*args, **kwargs)

            setattr(store, name, spy)
        persister = Persister(store)
        p.attach_persistence(persister)
        snaps = await resume_streams(p, persister, None, script)
        assert len(snaps) == n and "done" not in p.stream_ids()
        assert calls == ["get_many", "claim_many"]
        await p.settle()
        assert p.record("s0000").state == 1 and p.record("s0001").state == 1  # active: its queued chunk ran
        assert p.record("s0001").status is Status.PAUSED and len(p.record("s0001").queue) == 1
        lease = await store.lease("s0499")
        assert lease is not None and lease.owner == persister.owner
        await persister.close(final=False)


async def test_resume_streams_is_all_or_nothing(script: Any) -> None:
    async with MemoryStore() as store, Provider() as p:
        await store.put(Snapshot("a", "add", processor_hash=script.source_hash), expected_version=None)
        await store.put(Snapshot("b", "add", processor_hash=script.source_hash), expected_version=None)
        with pytest.raises(SnapshotNotFoundError, match="'ghost'"):
            await resume_streams(p, Persister(store), ["a", "ghost"], script)
        assert await store.claim("b", "someone-else", 60)
        persister = Persister(store)
        with pytest.raises(StoreError, match="'b' is owned by someone-else"):
            await resume_streams(p, persister, ["a", "b"], script)
        assert p.stream_ids() == [] and await store.lease("a") is None
