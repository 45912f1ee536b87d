"""The directive machine and the per-stream record, with no event loop: every row of the lifecycle table."""

from __future__ import annotations

import msgspec.structs
import pytest

from streamrt.errors import QueueFullError, StreamClosedError
from streamrt.runtime.loops import loops_for
from streamrt.runtime.machine import (
    DIRECTIVES,
    KNOWN_ACTIONS,
    TRANSITIONS,
    Effect,
    Event,
    Status,
    Transition,
    transition,
)
from streamrt.runtime.stream import Program, StreamRecord
from streamrt.values import Keyword

A, P = Status.ACTIVE, Status.PAUSED
TERMINAL = [Status.COMPLETED, Status.STOPPED, Status.CANCELLED, Status.ERROR]

# The lifecycle (docs/architecture.md, "The stream lifecycle"), one case per row (rows naming several statuses or events are expanded).
LIFECYCLE = [
    pytest.param(A, Event.CHUNK, A, Effect.ENQUEUE | Effect.PROCESS, id="active-chunk-processed"),
    pytest.param(A, Event.PAUSE, P, Effect.NONE, id="active-pause"),
    pytest.param(P, Event.CHUNK, P, Effect.ENQUEUE, id="paused-chunk-enqueued"),
    pytest.param(P, Event.RESUME, A, Effect.DRAIN | Effect.PROCESS, id="paused-resume-drains"),
    pytest.param(A, Event.CANCEL, Status.CANCELLED, Effect.DISCARD_QUEUE | Effect.FINISH, id="active-cancel"),
    pytest.param(P, Event.CANCEL, Status.CANCELLED, Effect.DISCARD_QUEUE | Effect.FINISH, id="paused-cancel"),
    pytest.param(
        A, Event.COMPLETE, Status.COMPLETED, Effect.DISCARD_QUEUE | Effect.FINISH, id="active-complete"
    ),
    pytest.param(A, Event.STOP, Status.STOPPED, Effect.DISCARD_QUEUE | Effect.FINISH, id="active-stop"),
    pytest.param(
        A,
        Event.FAIL,
        Status.ERROR,
        Effect.RECORD_ERROR | Effect.DISCARD_QUEUE | Effect.FINISH,
        id="active-fail",
    ),
    *[
        pytest.param(t, Event.CHUNK, t, Effect.DROP | Effect.REJECT, id=f"{t.value}-chunk-dropped")
        for t in TERMINAL
    ],
    pytest.param(
        A,
        Event.END,
        Status.COMPLETED,
        Effect.RUN_ON_END | Effect.DISCARD_QUEUE | Effect.FINISH,
        id="source-ends",
    ),
]

# Choices beyond the table (documented in docs/testing.md).
EXTENSIONS = [
    pytest.param(A, Event.RESUME, A, Effect.NONE, id="resume-while-active-is-noop"),
    pytest.param(P, Event.PAUSE, P, Effect.NONE, id="pause-while-paused-is-noop"),
    pytest.param(A, Event.CONTINUE, A, Effect.NONE, id="continue-active"),
    pytest.param(P, Event.CONTINUE, P, Effect.NONE, id="continue-paused"),
    pytest.param(A, Event.CHECKPOINT, A, Effect.SNAPSHOT, id="checkpoint-active"),
    pytest.param(P, Event.CHECKPOINT, P, Effect.SNAPSHOT, id="checkpoint-paused"),
    pytest.param(
        P, Event.COMPLETE, Status.COMPLETED, Effect.DISCARD_QUEUE | Effect.FINISH, id="paused-complete"
    ),
    pytest.param(P, Event.STOP, Status.STOPPED, Effect.DISCARD_QUEUE | Effect.FINISH, id="paused-stop"),
    pytest.param(P, Event.END, P, Effect.NONE, id="end-waits-for-resume"),
    *[pytest.param(t, Event.RESUME, t, Effect.REJECT, id=f"{t.value}-resume-refused") for t in TERMINAL],
    *[pytest.param(t, Event.FAIL, t, Effect.NONE, id=f"{t.value}-fail-ignored") for t in TERMINAL],
    *[pytest.param(t, Event.END, t, Effect.NONE, id=f"{t.value}-end-ignored") for t in TERMINAL],
]


@pytest.mark.parametrize(("source", "event", "target", "effects"), LIFECYCLE + EXTENSIONS)
def test_transition_row(source: Status, event: Event, target: Status, effects: Effect) -> None:
    t = transition(source, event)
    assert (t.source, t.event, t.target, t.effects) == (source, event, target, effects)
    for flag in Effect:
        if flag.name:
            assert getattr(t, flag.name.lower()) == bool(effects & flag)


def test_table_is_total_and_terminal_statuses_are_absorbing() -> None:
    assert len(TRANSITIONS) == len(Status) * len(Event)
    for (status, _event), t in TRANSITIONS.items():
        if status.terminal:
            assert t.target is status
            assert not t.effects & (Effect.PROCESS | Effect.ENQUEUE | Effect.RUN_ON_END | Effect.FINISH)


def test_terminal_statuses() -> None:
    assert {s for s in Status if s.terminal} == set(TERMINAL)
    assert Status.PAUSED.keyword is Keyword("paused")


def test_directive_keywords() -> None:
    assert [k.name for k in KNOWN_ACTIONS] == [
        "continue", "pause", "resume", "cancel", "complete", "stop", "checkpoint",
    ]  # fmt: skip
    assert DIRECTIVES[Keyword("pause")] is Event.PAUSE


def record(capacity: int = 3) -> StreamRecord:
    return StreamRecord(
        "s",
        Program(lambda state, chunk: state, name="p", takes_meta=False, loops=loops_for(False, None, None)),
        initial_state={},
        capacity=capacity,
    )


def test_offer_counts_seq_and_watermark_and_refuses_when_full() -> None:
    r = record(2)
    assert r.offer("a", None, 1.0).process
    assert r.offer("b", {Keyword("line"): 2}, 2.0).process
    with pytest.raises(QueueFullError, match="queue full"):
        r.offer("c", None, 3.0)
    assert list(r.queue) == [(1, "a", None, 1.0), (2, "b", {Keyword("line"): 2}, 2.0)]
    assert (r.seq, r.dropped, r.queue_high_watermark) == (2, 0, 2)


def test_offer_while_paused_only_enqueues() -> None:
    r = record()
    r.apply(Event.PAUSE)
    t = r.offer("a", None, 0.0)
    assert t.enqueue and not t.process
    assert len(r.queue) == 1


@pytest.mark.parametrize("event", [Event.CANCEL, Event.STOP, Event.COMPLETE])
def test_terminal_directives_discard_queue_and_count(event: Event) -> None:
    r = record(5)
    for i in range(4):
        r.offer(i, None, 0.0)
    r.apply(event)
    s = r.statistics()
    assert (s.queued, s.dropped, s.processed) == (0, 4, 0)
    with pytest.raises(StreamClosedError, match="dropped"):
        r.offer("late", None, 0.0)
    assert r.statistics().dropped == 5


def test_fail_keeps_message_and_counts_error() -> None:
    r = record()
    r.offer(1, None, 0.0)
    r.apply(Event.FAIL, "boom")
    assert (r.status, r.message, r.errors, r.dropped) == (Status.ERROR, "boom", 1, 1)
    r.apply(Event.FAIL, "again")
    assert (r.message, r.errors) == ("boom", 1)


def test_offer_many_fills_to_capacity_in_order() -> None:
    r = record(3)
    it = iter("abcde")
    assert r.offer_many(it, None, 7.0) == 3
    assert [e[:2] for e in r.queue] == [(1, "a"), (2, "b"), (3, "c")]
    assert r.offer_many(it, None, 7.0) == 0
    r.queue.popleft()
    assert r.offer_many(it, None, 8.0) == 1
    assert r.queue[-1] == (4, "d", None, 8.0)
    assert r.queue_high_watermark == 3


def test_statistics_fields() -> None:
    r = record()
    assert r.statistics()._asdict() == {
        "processed": 0,
        "queued": 0,
        "dropped": 0,
        "errors": 0,
        "outputs": 0,
        "last_latency": None,
        "last_event_time": None,
        "queue_high_watermark": 0,
        "backpressure_wait": 0.0,
        "skipped": 0,
        "dead_lettered": 0,
        "timers_run": 0,
    }


def test_capacity_must_be_positive() -> None:
    from streamrt.errors import UsageError

    with pytest.raises(UsageError, match="positive integer"):
        record(0)


def test_a_transitions_flags_are_its_effects_whatever_is_passed_for_them() -> None:
    flags = ("enqueue", "process", "drain", "discard_queue", "drop", "reject", "snapshot", "record_error")
    flags += ("run_on_end", "finish")
    for t in TRANSITIONS.values():
        assert {f for f in flags if getattr(t, f)} == {f for f in flags if t.effects & Effect[f.upper()]}
    made = Transition(Status.ACTIVE, Event.CHUNK, Status.ACTIVE, Effect.ENQUEUE, drop=True)
    assert made.enqueue and not made.drop and not made.process
    changed = msgspec.structs.replace(made, effects=Effect.DROP | Effect.REJECT)
    assert changed.drop and changed.reject and not changed.enqueue
    same = Transition(Status.ACTIVE, Event.CHUNK, Status.ACTIVE, Effect.ENQUEUE)
    assert made == same and hash(made) == hash(same) and made != changed
