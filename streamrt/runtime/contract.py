"""The result contract: what a processor's return value means.

A processor returns a map with any of ``:state`` (the new state; unchanged when absent), ``:action`` (a directive
keyword, ``:continue`` by default), ``:output`` (one value to emit), ``:outputs`` (a vector of values to emit; after
``:output`` when both are given) and ``:timers`` (callbacks to set or cancel: ``{:flush 1000}`` calls the processor
with a timer chunk 1000 ms from now, ``{:close {:at ms}}`` at a processing time, ``{:flush nil}`` cancels; see
:mod:`streamrt.runtime.timers`). A map with none of these keys is the whole new state, so older scripts that return
bare state keep working; that guess can go wrong (``(merge state chunk)`` on a chunk that holds ``:state``), so a
stream may ask for ``:result :strict`` (:data:`STRICT`), which refuses a bare map, and ``streamrt check`` warns
where a processor returns a map built at run time. A Python processor may spell the keys as strings
(``{"state": ..., "action": "pause", "output": ...}``, :data:`STRINGS`): it has no keywords at hand. Anything else is a :class:`~streamrt.errors.ProcessorResultError` whose message names the processor
and shows what it returned; the provider turns it into the stream's ``:error`` message.

Python processors can build results with :func:`result` instead of spelling the keyword keys.
"""

from __future__ import annotations

from typing import Any, Final

from streamrt.errors import ProcessorResultError
from streamrt.printer import pr_str
from streamrt.runtime.machine import DIRECTIVES, KNOWN_ACTIONS, Event
from streamrt.values import Keyword, type_name

__all__ = [
    "ACTION",
    "OUTPUT",
    "OUTPUTS",
    "RESULT_KEYS",
    "STATE",
    "STRICT",
    "STRINGS",
    "STRING_RESULT_KEYS",
    "TIMERS",
    "Outcome",
    "TimerRequest",
    "interpret",
    "result",
    "show",
]

STATE: Final = Keyword("state")
ACTION: Final = Keyword("action")
OUTPUT: Final = Keyword("output")
OUTPUTS: Final = Keyword("outputs")
TIMERS: Final = Keyword("timers")
RESULT_KEYS: Final = frozenset((STATE, ACTION, OUTPUT, OUTPUTS, TIMERS))
"""A map with none of these is taken whole as the new state."""
_BY_STRING: Final = {k.name: k for k in (STATE, ACTION, OUTPUT, OUTPUTS, TIMERS)}
STRING_RESULT_KEYS: Final = frozenset(_BY_STRING)
"""The result keys as a Python processor may spell them."""
STRINGS: Final = 1
"""``interpret`` mode: string result keys are read as the keywords (a Python processor)."""
STRICT: Final = 2
"""``interpret`` mode: a map with none of the result keys is refused (``:result :strict``)."""

_ABSENT: Final[Any] = object()
_SHOW_LIMIT: Final = 120
_NO_OUTPUTS: Final[tuple[Any, ...]] = ()


TimerRequest = tuple[tuple[Any, float | None, bool], ...]
"""What ``:timers`` asks for: ``(name, ms, absolute)`` per timer; ``ms`` None cancels it, else it is a delay from now
(``absolute`` false) or a processing time in ms since the epoch (true)."""

Outcome = tuple[Any, "Event | None", tuple[Any, ...], "TimerRequest | None"]
"""A processor result, understood: ``(new state, directive event or None for continue, outputs, timers or None)``;
a plain tuple because it is built for every chunk."""

_AT: Final = Keyword("at")


def show(value: Any, limit: int = _SHOW_LIMIT) -> str:
    """A value as language text with its type, cut to ``limit`` characters, for error messages."""
    text = pr_str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"{text} ({type_name(value)})"


def _known() -> str:
    return " ".join(pr_str(k) for k in KNOWN_ACTIONS)


def interpret(value: Any, state: Any, processor: str, mode: int = 0) -> Outcome:
    """Understand ``value``, returned by ``processor`` when the state was ``state``; ``mode`` adds
    :data:`STRINGS` and :data:`STRICT`.

    Raises :class:`~streamrt.errors.ProcessorResultError` when ``value`` breaks the contract.
    """
    if type(value) is not dict:
        raise ProcessorResultError(
            f"processor {processor} returned {show(value)}; "
            "expected a map such as {:state new-state :action :continue :output value}"
        )
    if mode & STRINGS and not STRING_RESULT_KEYS.isdisjoint(value):
        value = _keyworded(value, processor)
    if mode & STRICT and RESULT_KEYS.isdisjoint(value):
        raise ProcessorResultError(
            f"processor {processor} returned {show(value)}, a map with none of :state :action :output :outputs :timers; "
            "the stream has :result :strict, so return the new state as {:state new-state}"
        )
    get = value.get
    new_state = get(STATE, _ABSENT)
    output = get(OUTPUT, _ABSENT)
    if new_state is not _ABSENT and len(value) == (1 if output is _ABSENT else 2):
        # the usual result, {:state s} or {:state s :output o}: nothing else to look up
        return (new_state, None, _NO_OUTPUTS if output is _ABSENT else (output,), None)
    action = get(ACTION, _ABSENT)
    outputs = get(OUTPUTS, _ABSENT)
    timers = get(TIMERS, _ABSENT)
    if new_state is _ABSENT:
        if action is _ABSENT and output is _ABSENT and outputs is _ABSENT and timers is _ABSENT:
            return (value, None, _NO_OUTPUTS, None)
        new_state = state
    event: Event | None = None
    if action is not _ABSENT and action is not None:
        event = DIRECTIVES.get(action) if type(action) is Keyword else None
        if event is None:
            raise ProcessorResultError(
                f"processor {processor} returned unknown action {show(action)}; known actions: {_known()}"
            )
        if event is Event.CONTINUE:
            event = None
    if outputs is _ABSENT or outputs is None:
        emitted = _NO_OUTPUTS if output is _ABSENT else (output,)
    elif isinstance(outputs, tuple | list):
        emitted = tuple(outputs) if output is _ABSENT else (output, *outputs)
    else:
        raise ProcessorResultError(
            f"processor {processor} returned :outputs {show(outputs)}; :outputs must be a vector"
        )
    return (
        new_state,
        event,
        emitted,
        None if timers is _ABSENT or timers is None else _timers(timers, processor),
    )


def _timers(value: Any, processor: str) -> TimerRequest:
    """``:timers`` checked: a map from names (keywords or strings) to ms, ``{:at ms}`` or nil."""
    if type(value) is not dict:
        raise ProcessorResultError(
            f"processor {processor} returned :timers {show(value)}; :timers must be a map such as "
            "{:flush 1000} (ms from now), {:close {:at ms}} (a processing time) or {:flush nil} (cancel)"
        )
    out: list[tuple[Any, float | None, bool]] = []
    for name, when in value.items():
        if type(name) is not Keyword and type(name) is not str:
            raise ProcessorResultError(
                f"processor {processor} returned the timer name {show(name)}; a timer is named by a keyword "
                "or a string"
            )
        absolute = False
        if type(when) is dict and len(when) == 1 and _AT in when:
            when, absolute = when[_AT], True
        if when is None and not absolute:
            out.append((name, None, False))
            continue
        if type(when) not in (int, float) or when != when or (not absolute and when < 0) or abs(when) == _INF:
            raise ProcessorResultError(
                f"processor {processor} returned the timer {pr_str(name)} {show(when)}; expected a delay in ms "
                "(a number >= 0), {:at ms} (a processing time in ms since the epoch) or nil (cancel it)"
            )
        out.append((name, float(when), absolute))
    return tuple(out)


_INF: Final = float("inf")


def _keyworded(value: dict[Any, Any], processor: str) -> dict[Any, Any]:
    """A Python processor's result with its string keys (and a string action) as the keywords."""
    out = dict(value)
    for text, key in _BY_STRING.items():
        if text in out:
            if key in out:
                raise ProcessorResultError(
                    f"processor {processor} returned both {text!r} and {pr_str(key)}; keep one"
                )
            out[key] = out.pop(text)
    action = out.get(ACTION)
    if type(action) is str:
        out[ACTION] = Keyword(action.lstrip(":"))
    return out


def result(
    state: Any = _ABSENT,
    *,
    action: str | Keyword | None = None,
    output: Any = _ABSENT,
    outputs: Any = _ABSENT,
    timers: Any = _ABSENT,
) -> dict[Keyword, Any]:
    """Build a result map from Python: ``result({"n": 1}, action="pause", output=42, timers={"flush": 1000})``."""
    out: dict[Keyword, Any] = {}
    if state is not _ABSENT:
        out[STATE] = state
    if action is not None:
        out[ACTION] = action if isinstance(action, Keyword) else Keyword(action.lstrip(":"))
    if output is not _ABSENT:
        out[OUTPUT] = output
    if outputs is not _ABSENT:
        out[OUTPUTS] = tuple(outputs)
    if timers is not _ABSENT:
        out[TIMERS] = timers
    return out
