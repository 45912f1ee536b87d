"""The result contract, with no event loop."""

from __future__ import annotations

from typing import Any

import pytest

from streamrt.errors import StreamError
from streamrt.runtime.contract import interpret, result, show
from streamrt.runtime.machine import Event
from streamrt.values import Keyword

K = Keyword
OLD = {K("n"): 0}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param({K("state"): 1}, (1, None, (), None), id="state-only"),
        pytest.param({K("count"): 3}, ({K("count"): 3}, None, (), None), id="bare-map-is-state"),
        pytest.param({}, ({}, None, (), None), id="empty-map-is-state"),
        pytest.param({K("output"): "x"}, (OLD, None, ("x",), None), id="output-keeps-state"),
        pytest.param({K("state"): None}, (None, None, (), None), id="state-may-become-nil"),
        pytest.param({K("state"): 2, K("action"): K("continue")}, (2, None, (), None), id="continue-is-none"),
        pytest.param({K("action"): None}, (OLD, None, (), None), id="nil-action-continues"),
        pytest.param({K("action"): K("pause")}, (OLD, Event.PAUSE, (), None), id="pause"),
        pytest.param({K("action"): K("checkpoint")}, (OLD, Event.CHECKPOINT, (), None), id="checkpoint"),
        pytest.param({K("outputs"): (1, 2)}, (OLD, None, (1, 2), None), id="outputs-vector"),
        pytest.param({K("outputs"): [1, 2]}, (OLD, None, (1, 2), None), id="outputs-python-list"),
        pytest.param(
            {K("output"): 0, K("outputs"): (1,)}, (OLD, None, (0, 1), None), id="output-then-outputs"
        ),
        pytest.param({K("output"): None}, (OLD, None, (None,), None), id="nil-output-is-emitted"),
    ],
)
def test_interpret(value: Any, expected: tuple[Any, ...]) -> None:
    assert interpret(value, OLD, "p") == expected


def test_complete_with_state_and_output() -> None:
    state, event, outs, timers = interpret(
        {K("state"): {K("count"): 3}, K("action"): K("complete"), K("output"): {K("final-count"): 3}},
        OLD,
        "p",
    )
    assert (state, event, outs) == ({K("count"): 3}, Event.COMPLETE, ({K("final-count"): 3},))
    assert timers is None


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        pytest.param(42, r"processor count-chunks returned 42 \(integer\); expected a map", id="integer"),
        pytest.param(None, r"returned nil \(nil\)", id="nil"),
        pytest.param((1, 2), r"returned \[1 2\] \(vector\)", id="vector"),
        pytest.param("x" * 500, r"returned \"x+…", id="long-value-truncated"),
        pytest.param(
            {K("action"): K("finish")},
            r"unknown action :finish \(keyword\); known actions: :continue :pause :resume :cancel :complete :stop "
            r":checkpoint",
            id="unknown-action",
        ),
        pytest.param({K("action"): "pause"}, r"unknown action \"pause\" \(string\)", id="string-action"),
        pytest.param(
            {K("outputs"): 5}, r":outputs 5 \(integer\); :outputs must be a vector", id="outputs-scalar"
        ),
        pytest.param({K("outputs"): {K("a"): 1}}, r":outputs must be a vector", id="outputs-map"),
        pytest.param(
            {K("timers"): 1000}, r":timers 1000 \(integer\); :timers must be a map", id="timers-number"
        ),
        pytest.param({K("timers"): {1: 10}}, r"timer name 1 \(integer\); a timer is named", id="timer-name"),
        pytest.param(
            {K("timers"): {K("t"): -1}}, r"timer :t -1 \(integer\); expected a delay", id="negative"
        ),
        pytest.param({K("timers"): {K("t"): "1s"}}, r"timer :t \"1s\" \(string\)", id="timer-string"),
        pytest.param({K("timers"): {K("t"): float("nan")}}, r"timer :t ##NaN", id="timer-nan"),
        pytest.param({K("timers"): {K("t"): {K("at"): None}}}, r"timer :t nil", id="at-nil"),
        pytest.param({K("timers"): {K("t"): {K("in"): 5}}}, r"timer :t \{:in 5\}", id="at-misspelled"),
    ],
)
def test_violations(value: Any, pattern: str) -> None:
    with pytest.raises(StreamError, match=pattern) as info:
        interpret(value, OLD, "count-chunks")
    assert len(str(info.value)) < 400


def test_show_truncates() -> None:
    text = show("y" * 1000, limit=20)
    assert text.endswith("… (string)")
    assert len(text) == 20 + len(" (string)")


def test_result_builder_round_trips() -> None:
    built = result({K("n"): 1}, action="pause", output=5, outputs=[6])
    assert built == {K("state"): {K("n"): 1}, K("action"): K("pause"), K("output"): 5, K("outputs"): (6,)}
    assert interpret(built, OLD, "p") == ({K("n"): 1}, Event.PAUSE, (5, 6), None)
    assert result(action=":stop") == {K("action"): K("stop")}


@pytest.mark.parametrize(
    ("timers", "expected"),
    [
        pytest.param({K("flush"): 1000}, ((K("flush"), 1000.0, False),), id="delay"),
        pytest.param({"f": 0.5}, (("f", 0.5, False),), id="string-name-fraction"),
        pytest.param({K("close"): {K("at"): 60000}}, ((K("close"), 60000.0, True),), id="at"),
        pytest.param({K("flush"): None}, ((K("flush"), None, False),), id="cancel"),
        pytest.param({}, (), id="none"),
    ],
)
def test_timers_are_read_with_the_rest_of_the_result(timers: Any, expected: Any) -> None:
    state, event, outs, got = interpret({K("timers"): timers, K("output"): 1}, OLD, "p")
    assert (state, event, outs, got) == (OLD, None, (1,), expected)


def test_a_map_with_only_timers_keeps_the_state() -> None:
    assert interpret({K("timers"): {K("t"): 5}}, OLD, "p") == (OLD, None, (), ((K("t"), 5.0, False),))
    assert result(timers={K("t"): 5}) == {K("timers"): {K("t"): 5}}
