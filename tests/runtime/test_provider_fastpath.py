"""The producer's direct hand-off in ``push_many`` behaves exactly like the queue it skips.

The reference is the queued path with the hand-off switched off, both with a queue of one (the hand-off holds one
chunk at a time, so that is the queue it stands for; with a deeper queue the first fill differs by design): both
must agree on state, status, message, counters, sequence numbers, outputs and what
``push_many`` returns or raises, whatever the processor answers chunk by chunk; for a guarded stream (schemas, an
``:on-error`` policy) also on its dead letters, whatever chunks fit the input schema.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrt.errors import StreamClosedError, UsageError
from streamrt.runtime import Provider, feeding
from streamrt.runtime.callables import takes_meta
from streamrt.runtime.contract import result
from streamrt.runtime.persist import Persister, SnapshotPolicy
from streamrt.store.memory import MemoryStore
from streamrt.values import Keyword

from .helpers import SEEN, collect, queued_only, spy_hand_off

K = Keyword
SEQS = K("seqs")
HAND_OFF = 4


@pytest.fixture(autouse=True)
def small_hand_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of a few chunks, so every test crosses several batch boundaries."""
    monkeypatch.setattr(feeding, "HAND_OFF", HAND_OFF)


ANSWERS = (
    "map",
    "state",
    "output",
    "outputs",
    "complete",
    "cancel",
    "stop",
    "checkpoint",
    "raise",
    "bad",
    "host-cancel",
)
"""What the processor does for a chunk; ``host-cancel`` cancels its own stream through the host API (as a script
does with ``:mcp.stream.cancel``) and returns a bare map, so only the status tells the runtime to stop."""


def _answer(kind: str, state: dict[Keyword, Any], chunk: int, p: Provider) -> Any:
    if kind == "host-cancel":
        p.cancel("s")
        return state
    if kind == "map":
        return state
    if kind == "state":
        return result(state)
    if kind == "output":
        return result(state, output=chunk)
    if kind == "outputs":
        return result(state, outputs=(chunk, -chunk))
    if kind == "raise":
        raise ValueError(f"bad chunk {chunk}")
    if kind == "bad":
        return 42
    return result(state, action=kind)


def scripted(answers: list[str], p: Provider) -> Any:
    def proc(state: Any, chunk: int, meta: dict[Keyword, Any]) -> Any:
        new = {SEEN: (*state.get(SEEN, ()), chunk), SEQS: (*state.get(SEQS, ()), meta[K("seq")])}
        return _answer(answers[chunk % len(answers)], new, chunk, p)

    return proc


def outcome(r: Any, returned: Any, outs: Any) -> dict[str, Any]:
    """What two ways of feeding a stream must agree on. The queue's depth differs by construction (the hand-off
    starts once the queue was full) and times are the clock's, so those stats are left out."""
    stats = r.statistics()._replace(
        last_latency=None, last_event_time=None, backpressure_wait=0.0, queue_high_watermark=0
    )
    return {
        "returned": returned,
        "state": r.state,
        "status": r.status,
        "message": r.message,
        "seq": r.seq,
        "stats": stats,
        "outputs": outs,
    }


async def _observe(p: Provider, answers: list[str], n: int) -> dict[str, Any]:
    outs: list[tuple[int, Any]] = []
    p.add_sink(lambda o: outs.append((o.seq, o.value)))
    sid = p.start(scripted(answers, p), stream_id="s")
    try:
        returned: Any = await p.push_many(sid, range(n))
    except StreamClosedError as exc:
        returned = f"closed: {exc}"
    await p.settle(sid)
    r = p.record(sid)
    assert r.queue_high_watermark <= p.default_queue_capacity
    return outcome(r, returned, outs)


@settings(max_examples=60, deadline=None)
@given(answers=st.lists(st.sampled_from(ANSWERS), min_size=1, max_size=12), n=st.integers(0, 40))
def test_hand_off_matches_the_queued_path(answers: list[str], n: int) -> None:
    async def both() -> tuple[dict[str, Any], dict[str, Any]]:
        async with Provider(default_queue_capacity=1) as fast, Provider(default_queue_capacity=1) as ref:
            return await _observe(fast, answers, n), await queued_only(_observe(ref, answers, n))

    fast, ref = asyncio.run(both())
    assert fast == ref
    s = fast["stats"]
    if not isinstance(fast["returned"], str):
        assert s.processed + s.queued + s.dropped == n


async def test_large_push_many_is_processed_in_order_with_its_own_seq_numbers() -> None:
    seen: list[tuple[int, Any, Any]] = []

    def proc(state: Any, chunk: int, meta: dict[Keyword, Any]) -> Any:
        seen.append((meta[K("seq")], meta.get(K("tag")), chunk))
        return {K("n"): state.get(K("n"), 0) + 1}

    async with Provider(default_queue_capacity=2) as p:
        sid = p.start(proc)
        assert await p.push_many(sid, range(50), {K("tag"): "t"}) == 50
        assert await p.push_many(sid, range(50, 60)) == 10
        await p.settle(sid)
        r = p.record(sid)
        assert [c for _, _, c in seen] == list(range(60))
        assert [q for q, _, _ in seen] == list(range(1, 61))
        assert {t for _, t, _ in seen[:50]} == {"t"} and {t for _, t, _ in seen[50:]} == {None}
        assert (r.state[K("n")], r.processed, r.seq, len(r.queue)) == (60, 60, 60, 0)
        assert r.queue_high_watermark == 2


async def test_pause_mid_batch_stops_consumption_and_queues_the_rest() -> None:
    pulled: list[int] = []

    def chunks() -> Iterator[int]:
        for i in range(20):
            pulled.append(i)
            yield i

    def pauser(state: Any, chunk: int) -> Any:
        return result({SEEN: (*state.get(SEEN, ()), chunk)}, action="pause" if chunk == 6 else None)

    async with Provider(default_queue_capacity=3) as p:
        sid = p.start(pauser)
        r = p.record(sid)
        task = asyncio.create_task(p.push_many(sid, chunks()))
        for _ in range(100):
            if len(r.queue) == 3 or task.done():
                break
            await asyncio.sleep(0)
        assert r.status.value == "paused"
        assert r.state[SEEN] == tuple(range(7))
        assert [e[1] for e in r.queue] == [7, 8, 9]
        assert not task.done()
        assert pulled == list(range(11))  # chunk 10 waits in push_many for room, as on the queued path
        p.resume(sid)
        assert await task == 20
        await p.settle(sid)
        assert r.state[SEEN] == tuple(range(20))
        assert (r.processed, r.seq, r.dropped) == (20, 20, 0)


async def test_host_pause_from_inside_the_processor_stops_the_batch_at_once() -> None:
    async with Provider(default_queue_capacity=2) as p:

        def pauses_itself(state: Any, chunk: int) -> Any:
            if chunk == 6:
                p.pause("me")
            return {SEEN: (*state.get(SEEN, ()), chunk)}

        sid = p.start(pauses_itself, stream_id="me")
        r = p.record(sid)
        task = asyncio.create_task(p.push_many(sid, range(20)))
        for _ in range(100):
            if len(r.queue) == 2 or task.done():
                break
            await asyncio.sleep(0)
        assert r.status.value == "paused"
        assert r.state[SEEN] == tuple(range(7))
        assert [e[1] for e in r.queue] == [7, 8]
        p.resume(sid)
        assert await task == 20
        await p.settle(sid)
        assert r.state[SEEN] == tuple(range(20))


@pytest.mark.parametrize(("action", "status"), [("cancel", "cancelled"), ("complete", "completed")])
async def test_end_mid_batch_refuses_the_next_chunk_and_pulls_no_more(action: str, status: str) -> None:
    pulled: list[int] = []

    def chunks() -> Iterator[int]:
        for i in range(30):
            pulled.append(i)
            yield i

    def ender(state: Any, chunk: int) -> Any:
        return result({SEEN: (*state.get(SEEN, ()), chunk)}, action=action if chunk == 9 else None)

    async with Provider(default_queue_capacity=2) as p:
        sid = p.start(ender)
        with pytest.raises(StreamClosedError, match=f"{status}; the chunk was dropped"):
            await p.push_many(sid, chunks())
        r = p.record(sid)
        assert r.status.value == status
        assert r.state[SEEN] == tuple(range(10))
        assert pulled == list(range(11))
        assert (r.processed, r.dropped, len(r.queue)) == (10, 1, 0)


async def test_processor_error_mid_batch_fails_the_stream_at_that_chunk() -> None:
    def breaks(state: Any, chunk: int) -> Any:
        if chunk == 7:
            raise KeyError("boom")
        return {SEEN: (*state.get(SEEN, ()), chunk)}

    async with Provider(default_queue_capacity=2) as p:
        sid = p.start(breaks)
        with pytest.raises(StreamClosedError, match="error; the chunk was dropped"):
            await p.push_many(sid, range(30))
        r = p.record(sid)
        assert r.status.value == "error"
        assert r.message == "chunk 8: KeyError: 'boom'"
        assert r.state[SEEN] == tuple(range(7))
        assert (r.processed, r.errors, r.dropped, r.seq) == (8, 1, 1, 8)


async def test_an_error_from_the_hosts_iterable_propagates_and_the_stream_goes_on() -> None:
    def chunks() -> Iterator[int]:
        yield from range(9)
        raise RuntimeError("host iterable broke")

    async with Provider(default_queue_capacity=2) as p:
        sid = p.start(collect)
        with pytest.raises(RuntimeError, match="host iterable broke"):
            await p.push_many(sid, chunks())
        r = p.record(sid)
        assert r.status.value == "active"
        assert await p.push_many(sid, [9]) == 1
        await p.settle(sid)
        assert r.state[SEEN] == tuple(range(10))
        assert (r.processed, r.seq) == (10, 10)


async def test_checkpoint_mid_batch_waits_for_the_write_before_the_next_chunk() -> None:
    order: list[str] = []

    def proc(state: Any, chunk: int) -> Any:
        order.append(f"chunk {chunk}")
        return result(state, action="checkpoint" if chunk == 5 else None)

    def hook(record: Any) -> Any:
        order.append(f"snapshot at {record.processed}")

        async def write() -> None:
            await asyncio.sleep(0)
            order.append("written")

        return write()

    async with Provider(on_checkpoint=hook, default_queue_capacity=2) as p:
        sid = p.start(proc)
        assert await p.push_many(sid, range(12)) == 12
        await p.settle(sid)
    at = order.index("snapshot at 6")
    assert order[at - 1 : at + 3] == ["chunk 5", "snapshot at 6", "written", "chunk 6"]
    assert [x for x in order if x.startswith("chunk")] == [f"chunk {i}" for i in range(12)]


# --- guarded streams ----------------------------------------------------------------------------------------

VALUE = K("value")
INPUT = "[:map [:value :int]]"
OUTPUT = ":int"
STATE = "[:map [:seen {:optional true} [:vector :int]] [:seqs {:optional true} [:vector :int]]]"
GUARDED_ANSWERS = (*ANSWERS, "bad-output", "bad-state")
"""``bad-output`` emits a string (against ``:output-schema :int``); ``bad-state`` returns a state that breaks
``:state-schema``."""


def _chunk(i: int, fits: bool) -> dict[Keyword, Any]:
    return {VALUE: i if fits else str(i)}


def guarded(answers: list[str], p: Provider) -> Any:
    def proc(state: Any, chunk: dict[Keyword, Any], meta: dict[Keyword, Any]) -> Any:
        i = int(chunk[VALUE])
        new = {SEEN: (*state.get(SEEN, ()), i), SEQS: (*state.get(SEQS, ()), meta[K("seq")])}
        kind = answers[i % len(answers)]
        if kind == "bad-output":
            return result(new, output=f"not an int: {i}")
        if kind == "bad-state":
            return {SEEN: "not a vector"}
        return _answer(kind, new, i, p)

    return proc


def _waited_checkpoint(snapshots: list[int]) -> Callable[[Any], Any]:
    """An ``on_checkpoint`` hook whose write the stream waits for: the hand-off stops mid-batch and hands what
    it took back to the queue."""

    def snapshot(record: Any) -> Any:
        snapshots.append(record.processed)
        return asyncio.ensure_future(asyncio.sleep(0))

    return snapshot


async def _observe_guarded(
    p: Provider,
    snapshots: list[int],
    answers: list[str],
    fits: list[bool],
    schemas: tuple[bool, bool, bool],
    on_error: str,
    as_list: bool,
) -> dict[str, Any]:
    """``snapshots``: what ``p``'s ``on_checkpoint`` hook (:func:`_waited_checkpoint`) collects."""
    outs: list[tuple[int, Any]] = []
    p.add_sink(lambda o: outs.append((o.seq, o.value)))
    use_input, use_output, use_state = schemas
    sid = p.start(
        guarded(answers, p),
        stream_id="s",
        input_schema=INPUT if use_input else None,
        output_schema=OUTPUT if use_output else None,
        state_schema=STATE if use_state else None,
        on_error=on_error,
    )
    try:
        chunks = [_chunk(i, f) for i, f in enumerate(fits)]
        # a list is taken a batch at a time by the hand-off (its input schema checked at once), a generator lazily
        returned: Any = await p.push_many(sid, chunks if as_list else (c for c in chunks))
    except StreamClosedError as exc:
        returned = f"closed: {exc}"
    await p.settle(sid)
    r = p.record(sid)
    letters = [
        (d.seq, d.chunk, d.error, {k: v for k, v in d.meta.items() if k != K("received-at")})
        for d in p.dead_letters(sid)
    ]
    return {**outcome(r, returned, outs), "dead_letters": letters, "checkpoints": snapshots}


@settings(max_examples=150, deadline=None)
@given(
    answers=st.lists(st.sampled_from(GUARDED_ANSWERS), min_size=1, max_size=12),
    fits=st.lists(st.sampled_from([True, True, True, False]), max_size=40),
    schemas=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    on_error=st.sampled_from(["fail", "skip", "dead-letter"]),
    as_list=st.booleans(),
)
def test_guarded_hand_off_matches_the_queued_path(
    answers: list[str], fits: list[bool], schemas: tuple[bool, bool, bool], on_error: str, as_list: bool
) -> None:
    """``fits``: whether each chunk fits the input schema (most do, so runs get past the first misfit)."""

    async def both() -> tuple[dict[str, Any], dict[str, Any]]:
        fast_cps: list[int] = []
        ref_cps: list[int] = []
        async with (
            Provider(default_queue_capacity=1, on_checkpoint=_waited_checkpoint(fast_cps)) as fast,
            Provider(default_queue_capacity=1, on_checkpoint=_waited_checkpoint(ref_cps)) as ref,
        ):
            return (
                await _observe_guarded(fast, fast_cps, answers, fits, schemas, on_error, as_list),
                await queued_only(_observe_guarded(ref, ref_cps, answers, fits, schemas, on_error, as_list)),
            )

    fast, ref = asyncio.run(both())
    assert fast == ref
    s = fast["stats"]
    if not isinstance(fast["returned"], str):
        assert s.processed + s.queued + s.dropped == len(fits)
        if on_error == "dead-letter":
            assert len(fast["dead_letters"]) == s.skipped


class SlowLetters(MemoryStore):
    """A store whose dead-letter write takes a turn of the event loop, and says when it starts and ends."""

    def __init__(self, order: list[str]) -> None:
        super().__init__()
        self.order = order

    async def add_dead_letter(
        self, stream_id: str, seq: int, chunk: Any, meta: Any, error: str, *, created_at: float | None = None
    ) -> None:
        self.order.append(f"dead letter {seq}")
        await asyncio.sleep(0)
        await super().add_dead_letter(stream_id, seq, chunk, meta, error, created_at=created_at)
        self.order.append("written")


LETTERED = (5, 19)
"""The chunks (of 20) that miss the input schema and are dead-lettered: seqs 6 and 20."""


def _noting(order: list[str]) -> Callable[[Any, dict[Keyword, Any]], Any]:
    def proc(state: Any, chunk: dict[Keyword, Any]) -> Any:
        order.append(f"chunk {chunk[VALUE]}")
        return state

    return proc


def _spy_hand_offs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many chunks each hand-off batch processed, in order."""
    # the producer yields after every batch, so the worker the first chunks started is gone by the end
    monkeypatch.setattr(feeding, "YIELD_EVERY", HAND_OFF)
    return spy_hand_off(monkeypatch)


@pytest.mark.parametrize("hand_off", [HAND_OFF, 0], ids=["hand-off", "queued"])
async def test_a_dead_letter_write_makes_the_stream_wait_then_the_rest_is_queued(
    hand_off: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []
    handed_off = _spy_hand_offs(monkeypatch)
    monkeypatch.setattr(feeding, "HAND_OFF", hand_off)
    # a persister whose snapshot policy never falls due: only its dead-letter writes make the stream wait
    async with SlowLetters(order) as store:
        persister = Persister(store, SnapshotPolicy(chunks=1_000_000))
        async with Provider(default_queue_capacity=2, persistence=persister) as p:
            sid = p.start(_noting(order), input_schema=INPUT, on_error="dead-letter")
            await persister.claim(sid)
            assert await p.push_many(sid, [_chunk(i, i not in LETTERED) for i in range(20)]) == 20
            await p.settle(sid)
            r = p.record(sid)
            counts = (r.processed, r.skipped, r.dead_lettered, r.seq, r.status.value)
            assert counts == (20, 2, 2, 20, "active")
            assert not r.activity()["snapshot_in_flight"]  # the write was settled
            letters = await store.dead_letters(sid)
            assert [(d.seq, d.chunk) for d in letters] == [(i + 1, _chunk(i, False)) for i in LETTERED]
    at = order.index("dead letter 6")
    assert order[at - 1 : at + 3] == ["chunk 4", "dead letter 6", "written", "chunk 6"]
    assert [x for x in order if x.startswith("chunk")] == [
        f"chunk {i}" for i in range(20) if i not in LETTERED
    ]
    assert order[-2:] == ["dead letter 20", "written"]  # the last chunk's write too, though no chunk follows
    if hand_off:
        # the hand-off took chunks 2-5 (the queue of two held 0 and 1) and stopped at the dead letter; 6 and 7
        # were queued and processed once the write was done, and the producer handed off 8-19 again (19 is
        # dead-lettered at the very end, with no worker left: one must be started to settle that write)
        assert handed_off == [HAND_OFF] * 4
    else:
        assert handed_off == []


def test_takes_meta_inspects_each_function_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    real = inspect.signature

    def counting(fn: Any) -> Any:
        calls.append(fn)
        return real(fn)

    monkeypatch.setattr(inspect, "signature", counting)

    def two(state: Any, chunk: Any) -> Any:
        return state

    def one(state: Any) -> Any:
        return state

    assert [takes_meta(two) for _ in range(3)] == [False, False, False]
    assert takes_meta(one, (1, 2)) is False
    assert calls == [two, one]
    for _ in range(2):
        with pytest.raises(UsageError, match="must take 2 or 3 positional arguments"):
            takes_meta(one)
