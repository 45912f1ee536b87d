"""``push_many``'s direct hand-off with a persister attached keeps every guarantee of docs/persistence.md.

What is checked, on the memory store and on a SQLite file, under the per-chunk, every-N and by-time policies:

- the hand-off really runs (a spy counts the chunks it processes), and every snapshot the store ever commits is a
  consistent cut: its state is the fold of exactly the chunks before its queue, its queue the chunks after;
- the stream never runs further past its last committed snapshot than the policy allows (32 chunks, two intervals);
- a crash image of the store, taken at an arbitrary instant inside a hand-off batch, resumes (``resume_stream``,
  then the host feeds on from the stored ``seq``) to exactly the state, counters and outputs of an uninterrupted
  run, outputs at least once with their ``seq``;
- a snapshot write the stream must wait for (held by a gate, or by another connection's SQLite write lock) stops
  the producer until it commits, and a producer cancelled while it waits leaves the write and other waiters alone;
- a stream fed by ``push_many`` ends exactly like the same stream fed by one ``await push`` per chunk (hypothesis).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrt.errors import SnapshotNotFoundError, StreamClosedError
from streamrt.lang.script import Script, load_script
from streamrt.runtime.contract import result
from streamrt.runtime.persist import GROUP_BATCH, Persister, SnapshotPolicy
from streamrt.runtime.provider import Provider
from streamrt.runtime.resume import resume_stream
from streamrt.runtime.stream import BATCH
from streamrt.store import MemoryStore, Snapshot, SnapshotStore, SqlStore
from streamrt.values import Keyword

from .helpers import hand_off_size, spy_hand_off

pytestmark = pytest.mark.timeout(60)

K = Keyword
V, SUM, N = K("v"), K("sum"), K("n")
SEEN, SEQS = K("seen"), K("seqs")
INITIAL = {SUM: 0, N: 0}
SCRIPT = """
(defn tally [state chunk] {:sum (+ (:sum state) (:v chunk)) :n (inc (:n state))})
(defn tally-out [state chunk]
  (let [s (+ (:sum state) (:v chunk))] {:state {:sum s :n (inc (:n state))} :output s}))
"""
"""``tally`` returns a bare map (the loops' unchecked fast path); ``tally-out`` also emits (the slow path)."""

POLICIES = {
    "per-chunk": SnapshotPolicy(),
    "every-100": SnapshotPolicy(chunks=100),
    "every-5": SnapshotPolicy(chunks=5),
    "by-time": SnapshotPolicy(chunks=None, ms=0.001),
}
CAPACITY = GROUP_BATCH
"""A queue no deeper than a per-chunk batch, so that draining it once empties it and the hand-off starts."""


def fold(chunks: Sequence[dict[Keyword, int]]) -> dict[Keyword, int]:
    return {SUM: sum(c[V] for c in chunks), N: len(chunks)}


def ahead_bound(policy: SnapshotPolicy) -> int | None:
    """How many chunks the stream may be past its last committed snapshot (docs/persistence.md); None: by time."""
    if policy.chunks == 1:
        return 2 * GROUP_BATCH
    return None if policy.chunks is None else 2 * policy.chunks


class Committed:
    """Wraps a store's ``put_many``: checks that each committed snapshot is a consistent cut and keeps the last."""

    def __init__(self, store: SnapshotStore, chunks: Sequence[dict[Keyword, int]]) -> None:
        self.chunks = chunks
        self.last: dict[str, Snapshot] = {}
        self.writes = 0
        real = store.put_many

        async def put_many(items: Sequence[tuple[Snapshot, int | None]]) -> list[int]:
            versions = await real(items)
            for snap, _ in items:
                self.check(snap)
                self.last[snap.stream_id] = snap
                self.writes += 1
            return versions

        store.put_many = put_many  # type: ignore[method-assign]

    def check(self, snap: Snapshot) -> None:
        done = snap.seq - len(snap.queue)
        assert snap.state == fold(self.chunks[:done]), f"state of snapshot at seq {snap.seq}"
        assert [chunk for chunk, _ in snap.queue] == list(self.chunks[done : snap.seq])
        assert snap.stats["processed"] == done

    def seq(self, stream_id: str) -> int:
        snap = self.last.get(stream_id)
        return 0 if snap is None else snap.seq


@pytest.fixture
def script(tmp_path: Path) -> Script:
    path = tmp_path / "tally.rtfs"
    path.write_text(SCRIPT)
    return load_script(path=path)


def make_store(kind: str, path: Path) -> SnapshotStore:
    return MemoryStore() if kind == "memory" else SqlStore(f"sqlite:///{path}")


async def start(
    p: Provider, persister: Persister, script: Script, name: str, watch: Callable[[int], None] | None = None
) -> str:
    """Start stream ``s`` of ``script``'s processor ``name``; ``watch(seq)`` is told of every chunk it processes."""
    proc = script.processor(name)
    if watch is not None:
        inner = proc

        def proc(state: Any, chunk: Any, meta: dict[Keyword, Any]) -> Any:
            watch(meta[K("seq")])
            return inner(state, chunk)

    sid = p.start(proc, stream_id="s", initial_state=INITIAL, processor_name=name, queue_capacity=CAPACITY)
    await persister.claim(sid)
    return sid


# --- every committed snapshot is a consistent cut, and the stream stays within its bound ----------------------


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@pytest.mark.parametrize("policy_name", list(POLICIES))
@pytest.mark.parametrize("name", ["tally", "tally-out"])
async def test_push_many_hands_off_and_every_committed_snapshot_is_a_consistent_cut(
    kind: str, policy_name: str, name: str, script: Script, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = POLICIES[policy_name]
    bound = ahead_bound(policy)
    sizes = spy_hand_off(monkeypatch)
    chunks = [{V: i} for i in range(1, 3001)]
    outs: list[tuple[int, Any]] = []
    async with make_store(kind, tmp_path / "s.db") as store, Provider() as p:
        committed = Committed(store, chunks)
        persister = Persister(store, policy, processor_hash=script.source_hash)
        p.attach_persistence(persister)
        p.add_sink(lambda o: outs.append((o.seq, o.value)))
        ahead: list[int] = []
        sid = await start(p, persister, script, name, lambda seq: ahead.append(seq - committed.seq("s")))
        try:
            assert await p.push_many(sid, chunks[:1000]) == 1000
            if policy.chunks == 1:
                # acknowledged: push_many returned, so every chunk it accepted is in a committed snapshot
                assert committed.seq(sid) == 1000
            assert await p.push_many(sid, iter(chunks[1000:])) == 2000
            p.end_input(sid)
            await p.wait(sid)
        finally:
            await persister.close()
        final = await store.get(sid)
    assert sum(sizes) >= 2900  # all but the first queueful went straight to the processor
    assert (final.status, final.state, final.seq) == ("completed", fold(chunks), 3000)
    assert final.stats["processed"] == 3000
    if bound is not None:
        assert max(ahead) <= bound
        assert max(ahead) >= bound // 2  # the stream did go on while its snapshots were written
    if policy.chunks is not None and policy.chunks > 1:
        # one snapshot per interval (plus the first, at the first queueful, and the last, at the end)
        assert committed.writes <= 3000 // policy.chunks + 3
    if name == "tally-out":
        assert [v for _, v in outs] == [fold(chunks[:i])[SUM] for i in range(1, 3001)]
        assert [s for s, _ in outs] == list(range(1, 3001))


async def test_hand_off_batches_end_where_the_policy_looks_again(
    script: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every N: a hand-off batch ends exactly where the next snapshot falls due; per chunk: every GROUP_BATCH."""
    for policy, expected in ((SnapshotPolicy(chunks=250), 250), (SnapshotPolicy(), GROUP_BATCH)):
        sizes = spy_hand_off(monkeypatch)
        async with MemoryStore() as store, Provider() as p:
            persister = Persister(store, policy)
            p.attach_persistence(persister)
            sid = await start(p, persister, script, "tally")
            try:
                await p.push_many(sid, [{V: 1}] * 2000)
            finally:
                await persister.close()
        # the first batch finishes the interval the drained queue began
        assert set(sizes[1:-1]) == {expected}, sizes
        assert sizes[0] == expected - CAPACITY % expected


# --- a crash inside a hand-off batch ------------------------------------------------------------------------


class Crash(BaseException):
    """The process dies here (a BaseException, so nothing on the way up handles it)."""


def crash_image(kind: str, store: SnapshotStore, db: Path, image: Path) -> SnapshotStore:
    """What the store holds right now, as a crash here would leave it: its committed snapshots only."""
    if kind == "memory":
        copy = MemoryStore()
        copy._rows = dict(store._rows)  # type: ignore[attr-defined]
        return copy
    src, dst = sqlite3.connect(db), sqlite3.connect(image)
    try:
        src.backup(dst)  # a read transaction: exactly the committed state
    finally:
        src.close()
        dst.close()
    return SqlStore(f"sqlite:///{image}")


async def uninterrupted(
    script: Script, name: str, chunks: list[dict[Keyword, int]]
) -> tuple[Snapshot, list[Any]]:
    outs: list[tuple[int, Any]] = []
    async with MemoryStore() as store, Provider() as p:
        persister = Persister(store, processor_hash=script.source_hash)
        p.attach_persistence(persister)
        p.add_sink(lambda o: outs.append((o.seq, o.value)))
        sid = await start(p, persister, script, name)
        await p.push_many(sid, chunks)
        p.end_input(sid)
        await p.wait(sid)
        await persister.close()
        return await store.get(sid), outs


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@pytest.mark.parametrize("policy_name", ["per-chunk", "every-100", "by-time"])
@pytest.mark.parametrize("at", [1, 517, 1299])
async def test_a_crash_mid_hand_off_resumes_to_the_uninterrupted_outcome(
    kind: str, policy_name: str, at: int, script: Script, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = POLICIES[policy_name]
    bound = ahead_bound(policy)
    name = "tally-out"
    sizes = spy_hand_off(monkeypatch)
    chunks = [{V: i} for i in range(1, 2001)]
    first, rest = chunks[:500], chunks[500:]
    db, image_path = tmp_path / "s.db", tmp_path / "image.db"
    image: SnapshotStore | None = None
    before: list[tuple[int, Any]] = []

    def crashing() -> Iterator[dict[Keyword, int]]:
        nonlocal image
        for i, chunk in enumerate(rest):
            if i == at:
                image = crash_image(kind, store, db, image_path)
                raise Crash
            yield chunk

    async with make_store(kind, db) as store, Provider() as p:
        persister = Persister(store, policy, processor_hash=script.source_hash)
        p.attach_persistence(persister)
        p.add_sink(lambda o: before.append((o.seq, o.value)))
        sid = await start(p, persister, script, name)
        await p.push_many(sid, first)
        with pytest.raises(Crash):
            await p.push_many(sid, crashing())
        assert sizes, "the chunks went through the hand-off"
        owner = persister.owner
        await persister.close(final=False)
    assert image is not None

    after: list[tuple[int, Any]] = []
    async with image, Provider() as p2:
        snap = await image.get(sid)
        taken = len(first) + at  # chunks the host had handed over when it crashed
        if policy.chunks == 1:
            assert snap.seq >= len(first)  # the first push_many had returned: its chunks were acknowledged
        if bound is not None:
            assert taken - snap.seq <= bound
        assert snap.seq <= taken
        Committed(image, chunks).check(snap)
        await image.release(sid, owner)  # the crashed process's lease, expired
        persister2 = Persister(image, policy, processor_hash=script.source_hash)
        p2.attach_persistence(persister2)
        p2.add_sink(lambda o: after.append((o.seq, o.value)))
        await resume_stream(p2, persister2, sid, script)
        await p2.push_many(sid, chunks[snap.seq :])  # the host feeds on from the stored seq
        p2.end_input(sid)
        await p2.wait(sid)
        await persister2.close()
        final = await image.get(sid)

    reference, ref_outs = await uninterrupted(script, name, chunks)
    assert (final.state, final.status, final.seq, final.output_seq) == (
        reference.state,
        reference.status,
        reference.seq,
        reference.output_seq,
    )
    for stat in ("processed", "dropped", "errors", "outputs"):
        assert final.stats[stat] == reference.stats[stat], stat
    # outputs: at least once, each seq with one value, and nothing missing once repeats are dropped by seq
    seen: dict[int, Any] = {}
    for seq, value in before + after:
        assert seen.setdefault(seq, value) == value
    assert sorted(seen.items()) == ref_outs
    repeated = [seq for seq, _ in after if seq <= max((s for s, _ in before), default=0)]
    if bound is not None:
        assert len(repeated) <= bound


# --- a write the stream must wait for ------------------------------------------------------------------------


class GatedStore(MemoryStore):
    """A memory store whose writes wait at a gate until the test opens it."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.writing = asyncio.Event()

    async def put_many(self, items: Sequence[tuple[Snapshot, int | None]]) -> list[int]:
        self.writing.set()
        await self.gate.wait()
        return await super().put_many(items)


async def turns(n: int = 50) -> None:
    """Let every runnable task run, ``n`` times over (no wall time involved)."""
    for _ in range(n):
        await asyncio.sleep(0)


@pytest.mark.parametrize(
    ("policy_name", "stuck_at"),
    [("per-chunk", 2 * GROUP_BATCH), ("every-100", 200), ("by-time", CAPACITY + BATCH)],
)
async def test_a_held_write_stops_the_producer_until_it_commits(
    policy_name: str, stuck_at: int, script: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = spy_hand_off(monkeypatch)
    async with GatedStore() as store, Provider() as p:
        persister = Persister(store, POLICIES[policy_name])
        p.attach_persistence(persister)
        sid = await start(p, persister, script, "tally")
        r = p.record(sid)
        feeding = asyncio.ensure_future(p.push_many(sid, [{V: 1}] * 1000))
        try:
            await store.writing.wait()
            await turns()
            # two policy steps past the last committed snapshot (none yet), and no further
            assert (r.processed, feeding.done()) == (stuck_at, False)
            assert r.activity()["snapshot_in_flight"]
            await turns()
            assert r.processed == stuck_at
            assert sizes  # the producer was handing off when it stopped
            store.gate.set()
            assert await feeding == 1000
            assert r.processed == 1000
        finally:
            store.gate.set()
            await persister.close()


async def test_a_sqlite_write_lock_held_by_another_process_stops_the_producer(
    script: Script, tmp_path: Path
) -> None:
    db = tmp_path / "s.db"
    async with SqlStore(f"sqlite:///{db}") as store, Provider() as p:
        persister = Persister(store)
        p.attach_persistence(persister)
        sid = await start(p, persister, script, "tally")
        r = p.record(sid)
        other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            feeding = asyncio.ensure_future(p.push_many(sid, [{V: 1}] * 1000))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5.0
            while not r.activity()["snapshot_in_flight"] and loop.time() < deadline:
                # the write waits on the store's thread; the loop goes on meanwhile
                await asyncio.sleep(0.005)
            stuck = r.processed
            assert stuck <= 2 * GROUP_BATCH
            await asyncio.sleep(0.1)  # nothing committed, so nothing more may be processed
            assert (r.processed, feeding.done()) == (stuck, False)
            other.execute("COMMIT")
            assert await feeding == 1000
        finally:
            if other.in_transaction:
                other.execute("COMMIT")
            other.close()
            await persister.close()
        assert (await store.get(sid)).seq == 1000


async def test_a_producer_cancelled_while_it_waits_leaves_the_write_and_its_other_waiters_alone(
    script: Script,
) -> None:
    async with GatedStore() as store, Provider() as p:
        persister = Persister(store)
        p.attach_persistence(persister)
        sid = await start(p, persister, script, "tally")
        r = p.record(sid)
        feeding = asyncio.ensure_future(p.push_many(sid, [{V: 1}] * 1000))
        try:
            await store.writing.wait()
            await turns()
            assert r.processed == 2 * GROUP_BATCH
            # queued behind the write; this push waits until its chunk is durable
            other = asyncio.ensure_future(p.push(sid, {V: 100}))
            await turns()
            feeding.cancel()
            with pytest.raises(asyncio.CancelledError):
                await feeding
            assert r.activity()["snapshot_in_flight"]  # the write is still in flight: nothing runs past it
            store.gate.set()
            await asyncio.wait_for(other, 10)
            assert r.state == {SUM: 2 * GROUP_BATCH + 100, N: 2 * GROUP_BATCH + 1}
            assert (await store.get(sid)).seq == r.seq == 2 * GROUP_BATCH + 1
        finally:
            store.gate.set()
            await persister.close()


async def test_an_error_from_the_hosts_iterable_still_gets_its_snapshot(script: Script) -> None:
    class Broken(Exception):
        pass

    def chunks() -> Iterator[dict[Keyword, int]]:
        yield from [{V: 1}] * 100
        raise Broken

    async with MemoryStore() as store, Provider() as p:
        persister = Persister(store)
        p.attach_persistence(persister)
        sid = await start(p, persister, script, "tally")
        with pytest.raises(Broken):
            await p.push_many(sid, chunks())
        # nothing else happens: the chunks processed before the error fell due by themselves
        for _ in range(20):
            await asyncio.sleep(0)
            if await committed_seq(store, sid) == 100:
                break
        assert (await store.get(sid)).state == {SUM: 100, N: 100}
        await persister.close()


async def committed_seq(store: SnapshotStore, stream_id: str) -> int | None:
    try:
        return (await store.get(stream_id)).seq
    except SnapshotNotFoundError:
        return None


# --- push_many ends exactly like one await push per chunk ------------------------------------------------------

ANSWERS = ("map", "state", "output", "outputs", "complete", "cancel", "stop", "checkpoint", "raise", "bad")


def scripted(answers: list[str]) -> Callable[..., Any]:
    def proc(state: Any, chunk: int, meta: dict[Keyword, Any]) -> Any:
        new = {SEEN: (*state.get(SEEN, ()), chunk), SEQS: (*state.get(SEQS, ()), meta[K("seq")])}
        kind = answers[chunk % len(answers)]
        if kind == "map":
            return new
        if kind == "state":
            return result(new)
        if kind == "output":
            return result(new, output=chunk)
        if kind == "outputs":
            return result(new, outputs=(chunk, -chunk))
        if kind == "raise":
            raise ValueError(f"bad chunk {chunk}")
        if kind == "bad":
            return 42
        return result(new, action=kind)

    return proc


_TIMES = ("last_latency", "last_event_time", "backpressure_wait", "queue_high_watermark")
"""Stats that depend on timing and queue depth, which differ between the two ways of feeding by construction."""


async def _run(
    answers: list[str], n: int, policy: SnapshotPolicy, feed: Callable[[Provider, str, int], Awaitable[Any]]
) -> dict[str, Any]:
    outs: list[tuple[int, Any]] = []
    async with MemoryStore() as store, Provider(default_queue_capacity=1) as p:
        persister = Persister(store, policy)
        p.attach_persistence(persister)
        p.add_sink(lambda o: outs.append((o.seq, o.value)))
        sid = p.start(scripted(answers), stream_id="s")
        await persister.claim(sid)
        try:
            returned = await feed(p, sid, n)
        except StreamClosedError as exc:
            returned = f"closed: {exc}"
        await p.settle(sid)
        r = p.record(sid)
        if not r.status.terminal:
            p.end_input(sid)
            await p.wait(sid)
        await persister.close()
        snap = await store.get(sid)
    stats = {k: v for k, v in snap.stats.items() if k not in _TIMES}
    return {
        "returned": returned,
        "outputs": outs,
        "live": (r.state, r.status, r.message, r.seq, r.output_seq),
        "live_stats": r.statistics()._replace(
            last_latency=None, last_event_time=None, backpressure_wait=0.0, queue_high_watermark=0
        ),
        "stored": (snap.state, snap.status, snap.status_message, snap.seq, snap.output_seq, snap.queue),
        "stored_stats": stats,
        "input_ended": snap.input_ended,
    }


async def _push_many(p: Provider, sid: str, n: int) -> Any:
    return await p.push_many(sid, range(n))


async def _push_each(p: Provider, sid: str, n: int) -> Any:
    accepted = 0
    for chunk in range(n):
        await p.push(sid, chunk)
        accepted += 1
    return accepted


@settings(max_examples=60, deadline=None)
@given(
    answers=st.lists(st.sampled_from(ANSWERS), min_size=1, max_size=12),
    n=st.integers(0, 60),
    policy=st.sampled_from(
        [SnapshotPolicy(), SnapshotPolicy(chunks=3), SnapshotPolicy(chunks=None, ms=0.01)]
    ),
    hand_off=st.sampled_from([2, 5, 1024]),
)
def test_push_many_with_a_persister_ends_like_one_push_per_chunk(
    answers: list[str], n: int, policy: SnapshotPolicy, hand_off: int
) -> None:
    async def both() -> tuple[dict[str, Any], dict[str, Any]]:
        return await _run(answers, n, policy, _push_many), await _run(answers, n, policy, _push_each)

    with hand_off_size(hand_off):  # small batches cross many batch boundaries
        many, each = asyncio.run(both())
    assert many == each
    if not isinstance(many["returned"], str):
        assert many["returned"] == n
