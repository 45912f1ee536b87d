"""The directive state machine of one stream: everything that decides a stream's status lives in this file.

Theory of operation
-------------------
A stream has a :class:`Status`; things that happen to it are :class:`Event` s: a chunk arrives, a directive comes
(from the processor's result, the host, or a source's control channel), the processor fails, or the input ends
and the queue is drained. :func:`transition` looks the pair up in :data:`TRANSITIONS` and returns the new status
plus the :class:`Effect` s the engine must carry out (run the processor, discard the queue, run ``:on-end``, ...).

Nothing here does I/O or knows about asyncio; the per-stream record (:mod:`streamrt.runtime.stream`) applies the
bookkeeping effects and the engine (:mod:`streamrt.runtime.engine`) is a thin loop that carries out the rest.

The lifecycle table of docs/architecture.md is rendered from :data:`TRANSITIONS` by :func:`lifecycle_table` (a test
keeps the two equal). Rules beyond the plain lifecycle, chosen here and documented in docs/testing.md:

- A directive that does not apply in a live state is an idempotent no-op: ``:pause`` while paused, ``:resume``
  while active, ``:continue`` anywhere live.
- ``:complete`` and ``:stop`` also apply to a paused stream (a host must be able to end a paused stream).
- Every move to a terminal status discards the queue and counts what it discarded as dropped, so a terminal
  stream holds no chunks: ``processed + queued + dropped == accepted`` always holds.
- In a terminal status every event is refused (:attr:`Effect.REJECT`: the caller is told) except the two the
  runtime raises itself (``FAIL`` and ``END``), which are ignored; a chunk is also counted as dropped.
- ``END`` is only fed when the input has ended *and* the queue is empty; while paused it waits for ``:resume``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import msgspec

from streamrt.values import Keyword

__all__ = [
    "DIRECTIVES",
    "EFFECT_TEXT",
    "KNOWN_ACTIONS",
    "TRANSITIONS",
    "Effect",
    "Event",
    "Status",
    "Transition",
    "lifecycle_table",
    "restore_event",
    "transition",
]


class Status(enum.Enum):
    """A stream's lifecycle status; the last four are terminal."""

    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    STOPPED = "stopped"
    CANCELLED = "cancelled"
    ERROR = "error"

    # Identity hashing (enum's default hashes the name in Python): the table lookup is on the per-chunk path.
    __hash__ = object.__hash__

    @property
    def terminal(self) -> bool:
        """Whether the stream is over: it accepts no chunks and runs no processor."""
        return self in _TERMINAL

    @property
    def keyword(self) -> Keyword:
        """The status as the language sees it (``:active``)."""
        return Keyword(self.value)


_TERMINAL: Final = frozenset({Status.COMPLETED, Status.STOPPED, Status.CANCELLED, Status.ERROR})


class Event(enum.Enum):
    """Something that happens to a stream."""

    __hash__ = object.__hash__

    CHUNK = "chunk"
    CONTINUE = "continue"
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    COMPLETE = "complete"
    STOP = "stop"
    CHECKPOINT = "checkpoint"
    FAIL = "fail"
    """The processor raised, returned a bad shape or an unknown action, or the source sent a bad chunk."""
    END = "end"
    """The input has ended and every queued chunk has been handled."""


class Effect(enum.Flag):
    """What the engine must do besides changing the status."""

    NONE = 0
    ENQUEUE = enum.auto()
    """Queue the chunk (it is processed in arrival order whenever the stream is active)."""
    PROCESS = enum.auto()
    """The stream may process its queue now."""
    DRAIN = enum.auto()
    """The stream was paused: process what accumulated, at once, in order."""
    DISCARD_QUEUE = enum.auto()
    """Throw the queued chunks away and count them as dropped."""
    DROP = enum.auto()
    """The chunk is not queued; count it as dropped."""
    REJECT = enum.auto()
    """Tell the caller the stream is closed (the host API raises ``StreamClosedError``)."""
    SNAPSHOT = enum.auto()
    """Snapshot the stream now."""
    RECORD_ERROR = enum.auto()
    """Keep the failure message and count an error."""
    RUN_ON_END = enum.auto()
    """Run the ``:on-end`` function before the stream completes."""
    FINISH = enum.auto()
    """The stream just became terminal: release waiters, stop its source."""


class Transition(msgspec.Struct, frozen=True):
    """One row of the table: from ``source`` on ``event`` to ``target``, doing ``effects``.

    The effects are also spelled out as booleans, precomputed, because ``enum.Flag`` arithmetic is slow and some
    of these are tested for every chunk; they are set from ``effects`` when a transition is made (what is passed
    for them is ignored).
    """

    source: Status
    event: Event
    target: Status
    effects: Effect
    enqueue: bool = False
    process: bool = False
    drain: bool = False
    discard_queue: bool = False
    drop: bool = False
    reject: bool = False
    snapshot: bool = False
    record_error: bool = False
    run_on_end: bool = False
    finish: bool = False

    def __post_init__(self) -> None:
        # on the flags' integer values: 80 transitions made at import took 600 Flag ``&`` (0.8 us each, issue #17)
        effects = self.effects.value
        for name, bit in _FLAG_BITS:
            msgspec.structs.force_setattr(self, name, bool(effects & bit))

    @property
    def changed(self) -> bool:
        return self.source is not self.target


_FLAG_FIELDS: Final = (
    "enqueue",
    "process",
    "drain",
    "discard_queue",
    "drop",
    "reject",
    "snapshot",
    "record_error",
    "run_on_end",
    "finish",
)
_FLAG_BITS: Final = tuple((name, Effect[name.upper()].value) for name in _FLAG_FIELDS)


A, P = Status.ACTIVE, Status.PAUSED
_END_NOW: Final = Effect.DISCARD_QUEUE | Effect.FINISH

# The lifecycle, row by row (plus the documented extensions above). Pairs not listed are no-ops,
# refused when the stream is terminal (see _fill below).
_ROWS: Final[dict[tuple[Status, Event], tuple[Status, Effect]]] = {
    (A, Event.CHUNK): (A, Effect.ENQUEUE | Effect.PROCESS),
    (P, Event.CHUNK): (P, Effect.ENQUEUE),
    (A, Event.PAUSE): (P, Effect.NONE),
    (P, Event.RESUME): (A, Effect.DRAIN | Effect.PROCESS),
    (A, Event.CANCEL): (Status.CANCELLED, _END_NOW),
    (P, Event.CANCEL): (Status.CANCELLED, _END_NOW),
    (A, Event.COMPLETE): (Status.COMPLETED, _END_NOW),
    (P, Event.COMPLETE): (Status.COMPLETED, _END_NOW),
    (A, Event.STOP): (Status.STOPPED, _END_NOW),
    (P, Event.STOP): (Status.STOPPED, _END_NOW),
    (A, Event.CHECKPOINT): (A, Effect.SNAPSHOT),
    (P, Event.CHECKPOINT): (P, Effect.SNAPSHOT),
    (A, Event.FAIL): (Status.ERROR, Effect.RECORD_ERROR | _END_NOW),
    (P, Event.FAIL): (Status.ERROR, Effect.RECORD_ERROR | _END_NOW),
    (A, Event.END): (Status.COMPLETED, Effect.RUN_ON_END | _END_NOW),
}

_IGNORED_WHEN_TERMINAL: Final = frozenset({Event.FAIL, Event.END})


def _fill() -> dict[tuple[Status, Event], Transition]:
    table: dict[tuple[Status, Event], Transition] = {}
    for status in Status:
        for event in Event:
            row = _ROWS.get((status, event))
            if row is not None:
                target, effects = row
            elif not status.terminal or event in _IGNORED_WHEN_TERMINAL:
                target, effects = status, Effect.NONE
            elif event is Event.CHUNK:
                target, effects = status, Effect.DROP | Effect.REJECT
            else:
                target, effects = status, Effect.REJECT
            table[status, event] = Transition(status, event, target, effects)
    return table


TRANSITIONS: Final[Mapping[tuple[Status, Event], Transition]] = MappingProxyType(_fill())
"""Every (status, event) pair and its transition; prebuilt so a lookup allocates nothing."""


def transition(status: Status, event: Event) -> Transition:
    """The transition for ``event`` in ``status`` (total: every pair has one)."""
    return TRANSITIONS[status, event]


DIRECTIVES: Final[Mapping[Keyword, Event]] = MappingProxyType(
    {
        Keyword("continue"): Event.CONTINUE,
        Keyword("pause"): Event.PAUSE,
        Keyword("resume"): Event.RESUME,
        Keyword("cancel"): Event.CANCEL,
        Keyword("complete"): Event.COMPLETE,
        Keyword("stop"): Event.STOP,
        Keyword("checkpoint"): Event.CHECKPOINT,
    }
)
"""The directive keywords a processor, a host or a source may give, and their events."""

KNOWN_ACTIONS: Final[tuple[Keyword, ...]] = tuple(DIRECTIVES)


def _restore_events() -> dict[Status, Event | None]:
    """For each status, the first event (in :class:`Event` order) that takes an active stream there."""
    out: dict[Status, Event | None] = {Status.ACTIVE: None}
    for event in Event:
        target = TRANSITIONS[Status.ACTIVE, event].target
        out.setdefault(target, event)
    return out


_RESTORE: Final = _restore_events()


def restore_event(status: Status) -> Event | None:
    """The event that takes a fresh (active) stream to ``status``: what restoring a snapshot feeds the machine,
    so that a restored stream, too, changes status only through the table (None for ``:active``)."""
    return _RESTORE[status]


EFFECT_TEXT: Final[Mapping[Effect, str]] = MappingProxyType(
    {
        Effect.ENQUEUE: "queued",
        Effect.PROCESS: "processed in arrival order",
        Effect.DRAIN: "the queue drains at once, in order",
        Effect.RUN_ON_END: "`:on-end` runs first",
        Effect.RECORD_ERROR: "the message is kept and an error counted",
        Effect.DISCARD_QUEUE: "queued chunks discarded and counted as dropped",
        Effect.FINISH: "waiters released, source stopped",
        Effect.DROP: "not queued, counted as dropped",
        Effect.REJECT: "the caller is told",
        Effect.SNAPSHOT: "snapshot now",
    }
)
"""What each effect means, in the words of the lifecycle table."""

_LIVE: Final = frozenset({Status.ACTIVE, Status.PAUSED})


def _effects_text(effects: Effect, source: Status) -> str:
    if Effect.DRAIN in effects:
        effects &= ~Effect.PROCESS  # draining is processing, at once
    text = "; ".join(words for flag, words in EFFECT_TEXT.items() if flag in effects)
    if source is Status.PAUSED and Effect.ENQUEUE in effects:
        text += " (when the queue is full the producer waits)"
    return text


def lifecycle_table() -> str:
    """The lifecycle as a Markdown table, rendered from :data:`TRANSITIONS` (docs/architecture.md shows it).

    Pairs that change nothing are left out; rows that differ only in their source status are merged (``active,
    paused``, ``terminal``), then rows that differ only in their event; ``same`` means the status stays.
    """
    by_pair: dict[tuple[str, str, str], list[Status]] = {}
    for event in Event:
        for source in Status:
            t = TRANSITIONS[source, event]
            if t.effects == Effect.NONE and not t.changed:
                continue
            same = not t.changed and (source.terminal or event is Event.CHECKPOINT)
            target = "same" if same else t.target.value
            by_pair.setdefault((event.value, target, _effects_text(t.effects, source)), []).append(source)
    rows: dict[tuple[str, str, str], list[str]] = {}
    for (event_name, target, text), sources in by_pair.items():
        who = frozenset(sources)
        name = "terminal" if who == _TERMINAL else "active, paused" if who == _LIVE else sources[0].value
        rows.setdefault((name, target, text), []).append(event_name)
    ordered = sorted(rows.items(), key=lambda row: row[0][0] == "terminal")  # stable: terminal rows last
    lines = ["| from | event | to | what else happens |", "|---|---|---|---|"]
    for (name, target, text), events in ordered:
        lines.append(f"| {name} | {', '.join(events)} | {target} | {text} |".replace("|  |", "| |"))
    return "\n".join(lines)


del A, P
