"""The ``seq`` of a lifecycle record is the chunk the stream had reached, not the last one it accepted.

For a directive in a processor's result that is the chunk that gave it, whichever loop processed it (queued or
handed off by the producer, plain or guarded), however many chunks are queued behind it; ``accepted`` says how
many had come in.
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest

from streamrt.observe.logs import log_transition
from streamrt.runtime.contract import result
from streamrt.runtime.loops import loops_for
from streamrt.runtime.machine import Event, Status
from streamrt.runtime.provider import Provider
from streamrt.runtime.stream import Program, StreamRecord
from streamrt.values import Keyword

pytestmark = pytest.mark.timeout(20)

SEQ = Keyword("seq")


def directives(buf: io.StringIO) -> list[dict[str, Any]]:
    lines = (json.loads(line) for line in buf.getvalue().splitlines())
    return [r for r in lines if r["event"] == "directive"]


def pauser(at: int, seen: list[int]) -> Any:
    """Pauses at chunk value ``at`` and notes the ``:seq`` the runtime gave that chunk."""

    def proc(state: Any, chunk: int, meta: dict[Keyword, Any]) -> Any:
        if chunk == at:
            seen.append(meta[SEQ])
            return result(state, action="pause")
        return state

    return proc


@pytest.mark.parametrize("guarded", [False, True], ids=["plain", "guarded"])
async def test_a_pause_logs_the_pausing_chunk_with_chunks_queued_behind_it(
    json_log: io.StringIO, guarded: bool
) -> None:
    seen: list[int] = []
    async with Provider() as p:
        sid = p.start(pauser(13, seen), input_schema=":int" if guarded else None)
        await p.push_many(sid, range(10))
        await p.settle(sid)
        p.pause(sid)
        await p.push_many(sid, range(10, 20))  # queued while paused
        p.resume(sid)  # the worker drains the queue and stops at 13, with 14-19 behind it
        await p.settle(sid)
        r = p.record(sid)
        assert (r.status, r.processed, len(r.queue), r.seq) == (Status.PAUSED, 14, 6, 20)
    host_pause, host_resume, own_pause = directives(json_log)
    assert [d["action"] for d in (host_pause, host_resume, own_pause)] == ["pause", "resume", "pause"]
    assert (own_pause["seq"], own_pause["processed"], own_pause["accepted"]) == (seen[0], 14, 20)
    assert seen == [14]  # the fourteenth chunk: 0-9 before the host's pause, then 10, 11, 12, 13
    # the host's directives: where the stream was (10 processed), and how far intake had got
    assert (host_pause["seq"], host_pause["accepted"]) == (10, 10)
    assert (host_resume["seq"], host_resume["accepted"]) == (10, 20)


@pytest.mark.parametrize("guarded", [False, True], ids=["plain", "guarded"])
async def test_a_pause_in_the_producers_hand_off_logs_its_chunk(json_log: io.StringIO, guarded: bool) -> None:
    """Past a full queue of two, ``push_many`` processes chunks itself, numbering each as it takes it."""
    seen: list[int] = []
    async with Provider(default_queue_capacity=2) as p:
        sid = p.start(pauser(5, seen), input_schema=":int" if guarded else None)
        await p.push_many(sid, list(range(8)))
        await p.settle(sid)
        r = p.record(sid)
        assert (r.status, r.processed, len(r.queue), r.seq) == (Status.PAUSED, 6, 2, 8)
    [pause] = directives(json_log)
    assert seen == [6]
    # nothing had been accepted past the pausing chunk: the producer was processing it itself
    assert (pause["seq"], pause["processed"], pause["accepted"]) == (seen[0], 6, 6)


class Keep(logging.Handler):
    """Keeps the records it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_caller_that_knows_the_chunk_passes_it() -> None:
    """A transition that discards the queue leaves nothing to count: the caller gives the chunk's number."""
    s = StreamRecord(
        "s",
        Program(lambda st, c: st, name="p", takes_meta=False, loops=loops_for(False, None, None)),
        initial_state={},
    )
    for i in range(5):
        s.offer(i, None, 0.0)
    handler = Keep()
    got = handler.records
    log = logging.getLogger("streamrt.stream")
    log.addHandler(handler)
    try:
        s.queue.popleft()
        s.queue.popleft()
        s.processed = 2
        cancel = s.apply(Event.CANCEL)  # at chunk 2, with 3-5 queued: they are discarded
        log_transition(s, cancel, logging.WARNING, seq=2)
        log_transition(s, cancel, logging.WARNING)
    finally:
        log.removeHandler(handler)
    told, guessed = (vars(r) for r in got)
    assert (told["seq"], told["accepted"], told["processed"], told["status"]) == (2, 5, 2, "cancelled")
    # without it: the queue was discarded, so the last chunk accepted
    assert (guessed["seq"], guessed["accepted"]) == (5, 5)


async def test_a_cancel_with_chunks_queued_logs_the_cancelling_chunk(json_log: io.StringIO) -> None:
    seen: list[int] = []

    def canceller(state: Any, chunk: int, meta: dict[Keyword, Any]) -> Any:
        if chunk == 3:
            seen.append(meta[SEQ])
            return result(state, action="cancel")
        return state

    async with Provider() as p:
        sid = p.start(canceller)
        await p.push_many(sid, range(8))
        await p.settle(sid)
        assert (p.record(sid).processed, p.record(sid).dropped) == (4, 4)
    [cancel] = directives(json_log)
    assert (cancel["seq"], cancel["accepted"]) == (seen[0], 8)


@pytest.mark.parametrize("guarded", [False, True], ids=["plain", "guarded"])
async def test_a_failure_with_chunks_queued_logs_the_failing_chunk(
    json_log: io.StringIO, guarded: bool
) -> None:
    def breaks_at_5(state: Any, chunk: int, meta: dict[Keyword, Any]) -> Any:
        if chunk == 5:
            raise ValueError(f"bad chunk at seq {meta[SEQ]}")
        return state

    async with Provider() as p:
        sid = p.start(breaks_at_5, input_schema=":int" if guarded else None)
        await p.push_many(sid, range(12))
        await p.settle(sid)
        assert (p.record(sid).status, p.record(sid).dropped) == (Status.ERROR, 6)
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    [error] = [r for r in lines if r["event"] == "error"]
    assert "bad chunk at seq 6" in error["error"]
    assert (error["seq"], error["processed"], error["accepted"]) == (6, 6, 12)
