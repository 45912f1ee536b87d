"""The result contract: what a processor's return value means.

A processor returns a map with any of ``:state`` (the new state; unchanged when absent), ``:action`` (a directive
keyword, ``:continue`` by default), ``:output`` (one value to emit) and ``:outputs`` (a vector of values to emit; after
``:output`` when both are given). A map with none of these keys is the whole new state, so older scripts that return
bare state keep working. Anything else is a :class:`~streamrt.errors.ProcessorResultError` whose message names the processor
and shows what it returned; the provider turns it into the stream's ``:error`` message.

Python processors can build results with :func:`result` instead of spelling the keyword keys.
"""

from __future__ import annotations

from typing import Any, Final

from streamrt.errors import ProcessorResultError
from streamrt.runtime.machine import DIRECTIVES, KNOWN_ACTIONS, Event
from streamrt.values import Keyword, pr_str, type_name

__all__ = [
    "ACTION",
    "OUTPUT",
    "OUTPUTS",
    "RESULT_KEYS",
    "STATE",
    "Outcome",
    "interpret",
    "result",
    "show",
]

STATE: Final = Keyword("state")
ACTION: Final = Keyword("action")
OUTPUT: Final = Keyword("output")
OUTPUTS: Final = Keyword("outputs")
RESULT_KEYS: Final = frozenset((STATE, ACTION, OUTPUT, OUTPUTS))
"""A map with none of these is taken whole as the new state."""

_ABSENT: Final[Any] = object()
_SHOW_LIMIT: Final = 120
_NO_OUTPUTS: Final[tuple[Any, ...]] = ()


Outcome = tuple[Any, "Event | None", tuple[Any, ...]]
"""A processor result, understood: ``(new state, directive event or None for continue, outputs)``; a plain tuple
because it is built for every chunk."""


def show(value: Any, limit: int = _SHOW_LIMIT) -> str:
    """A value as language text with its type, cut to ``limit`` characters, for error messages."""
    text = pr_str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"{text} ({type_name(value)})"


def _known() -> str:
    return " ".join(pr_str(k) for k in KNOWN_ACTIONS)


def interpret(value: Any, state: Any, processor: str) -> Outcome:
    """Understand ``value``, returned by ``processor`` when the state was ``state``.

    Raises :class:`~streamrt.errors.ProcessorResultError` when ``value`` breaks the contract.
    """
    if type(value) is not dict:
        raise ProcessorResultError(
            f"processor {processor} returned {show(value)}; "
            "expected a map such as {:state new-state :action :continue :output value}"
        )
    get = value.get
    new_state = get(STATE, _ABSENT)
    action = get(ACTION, _ABSENT)
    output = get(OUTPUT, _ABSENT)
    outputs = get(OUTPUTS, _ABSENT)
    if new_state is _ABSENT:
        if action is _ABSENT and output is _ABSENT and outputs is _ABSENT:
            return (value, None, _NO_OUTPUTS)
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
    return (new_state, event, emitted)


def result(
    state: Any = _ABSENT,
    *,
    action: str | Keyword | None = None,
    output: Any = _ABSENT,
    outputs: Any = _ABSENT,
) -> dict[Keyword, Any]:
    """Build a result map from Python: ``result({"n": 1}, action="pause", output=42)``."""
    out: dict[Keyword, Any] = {}
    if state is not _ABSENT:
        out[STATE] = state
    if action is not None:
        out[ACTION] = action if isinstance(action, Keyword) else Keyword(action.lstrip(":"))
    if output is not _ABSENT:
        out[OUTPUT] = output
    if outputs is not _ABSENT:
        out[OUTPUTS] = tuple(outputs)
    return out
