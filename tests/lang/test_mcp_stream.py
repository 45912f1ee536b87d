"""``mcp-stream`` lowers as docs/language.md says, both as text (``lower_script``) and as recorded requests."""

from __future__ import annotations

from typing import Any

import pytest

from streamrt.lang.script import StreamRequest, lower_script
from tests.lang.conftest import FILENAME, K, compile_error, load

PROC = "(defn count-chunks [state chunk meta] {:state state})\n"


def lowered(call: str) -> str:
    """The lowered text of the last top-level form of a script that defines count-chunks."""
    return lower_script(PROC + call + "\n", filename=FILENAME).splitlines()[-1]


def requested(call: str) -> StreamRequest:
    (request,) = load(PROC + call + "\n").stream_requests
    return request


@pytest.mark.parametrize(
    ("call", "text", "fields"),
    [
        pytest.param(
            '(mcp-stream "weather.monitor.v1" count-chunks {:count 0})',
            '(call :mcp.stream.start {:endpoint "weather.monitor.v1" :processor "count-chunks" :initial-state {:count 0}})',
            ("weather.monitor.v1", "count-chunks", {K("count"): 0}, {}),
            id="design-example",
        ),
        pytest.param(
            '(mcp-stream "ep" count-chunks)',
            '(call :mcp.stream.start {:endpoint "ep" :processor "count-chunks" :initial-state {}})',
            ("ep", "count-chunks", {}, {}),
            id="initial-state-defaults-to-empty-map",
        ),
        pytest.param(
            "(mcp-stream weather.monitor.v1 count-chunks)",
            '(call :mcp.stream.start {:endpoint "weather.monitor.v1" :processor "count-chunks" :initial-state {}})',
            ("weather.monitor.v1", "count-chunks", {}, {}),
            id="endpoint-symbol",
        ),
        pytest.param(
            '(mcp-stream "ep" "count-chunks" {:n 1})',
            '(call :mcp.stream.start {:endpoint "ep" :processor "count-chunks" :initial-state {:n 1}})',
            ("ep", "count-chunks", {K("n"): 1}, {}),
            id="processor-string",
        ),
        pytest.param(
            '(mcp-stream "ep" count-chunks {:n 1} {:stream-id "s1" :queue-capacity 8})',
            '(call :mcp.stream.start {:endpoint "ep" :processor "count-chunks" :initial-state {:n 1} '
            ':stream-id "s1" :queue-capacity 8})',
            ("ep", "count-chunks", {K("n"): 1}, {K("stream-id"): "s1", K("queue-capacity"): 8}),
            id="options-merged-in",
        ),
        pytest.param(
            '(mcp-stream "ep" count-chunks {:n 1} {:initial-state {:n 2}})',
            '(call :mcp.stream.start {:endpoint "ep" :processor "count-chunks" :initial-state {:n 2}})',
            ("ep", "count-chunks", {K("n"): 2}, {}),
            id="options-win-like-merge",
        ),
        pytest.param(
            '(mcp-stream "ep" count-chunks nil)',
            '(call :mcp.stream.start {:endpoint "ep" :processor "count-chunks" :initial-state nil})',
            ("ep", "count-chunks", {}, {}),
            id="nil-initial-state-is-empty",
        ),
    ],
)
def test_lowering(call: str, text: str, fields: tuple[Any, ...]) -> None:
    assert lowered(call) == text
    got = requested(call)
    assert (got.endpoint, got.processor, got.initial_state, got.options) == fields
    assert got.pos is not None and (got.pos.filename, got.pos.line, got.pos.column) == (FILENAME, 2, 1)


def test_options_from_an_expression_are_merged_at_run_time() -> None:
    call = '(def opts {:stream-id "from-def"})\n(mcp-stream "ep" count-chunks {} opts)'
    assert lowered(call) == (
        '(call :mcp.stream.start (merge {:endpoint "ep" :processor "count-chunks" :initial-state {}} opts))'
    )
    (request,) = load(PROC + call).stream_requests
    assert request.options == {K("stream-id"): "from-def"}


def test_lowered_text_compiles_to_the_same_requests() -> None:
    src = PROC + '(mcp-stream "a" count-chunks {:n 1} {:stream-id "x"})\n(mcp-stream b "count-chunks")\n'
    again = lower_script(src, filename=FILENAME) + "\n"
    assert lower_script(again, filename=FILENAME) == again.rstrip("\n")
    first, second = load(src).stream_requests, load(again).stream_requests
    assert [(r.endpoint, r.processor, r.initial_state, r.options) for r in first] == [
        (r.endpoint, r.processor, r.initial_state, r.options) for r in second
    ]


def test_call_returns_the_stream_id() -> None:
    script = load(
        PROC
        + '(def a (mcp-stream "ep" count-chunks {} {:stream-id "mine"}))\n(def b (mcp-stream "ep" count-chunks))'
    )
    assert script.get("a") == "mine"
    assert isinstance(script.get("b"), str) and script.get("b")


@pytest.mark.parametrize(
    ("call", "fragment", "column"),
    [
        pytest.param(
            '(mcp-stream "ep" count-chunk)',
            "no function named 'count-chunk' for the processor (defined functions: count-chunks)",
            18,
            id="undefined-processor",
        ),
        pytest.param(
            '(mcp-stream "ep" "nope")', "no function named 'nope'", 18, id="undefined-processor-string"
        ),
        pytest.param(
            '(defn one [s] s)\n(mcp-stream "ep" one)',
            "the processor 'one' must take (state chunk) or (state chunk meta); it takes 1 parameters",
            18,
            id="too-few-params",
        ),
        pytest.param(
            '(defn four [a b c d] a)\n(mcp-stream "ep" four)',
            "it takes 4 parameters",
            18,
            id="too-many-params",
        ),
        pytest.param(
            '(mcp-stream "ep" count-chunks {} {:on-end "gone"})',
            "no function named 'gone' for the :on-end function",
            1,
            id="undefined-on-end",
        ),
        pytest.param(
            "(mcp-stream 1 count-chunks)",
            "the endpoint must be a symbol or a string, got 1",
            13,
            id="endpoint-number",
        ),
        pytest.param(
            '(mcp-stream "ep" [count-chunks])',
            "the processor must be a symbol or a string",
            18,
            id="processor-vector",
        ),
        pytest.param('(mcp-stream "ep")', "mcp-stream: missing processor", 1, id="missing-processor"),
        pytest.param(
            '(mcp-stream "ep" count-chunks {} {} {})', "mcp-stream: too many forms", 37, id="too-many"
        ),
    ],
)
def test_mcp_stream_compile_errors(call: str, fragment: str, column: int) -> None:
    err = compile_error(PROC + call)
    assert fragment in err.message
    lines = (PROC + call).splitlines()
    assert err.line == len(lines)
    if column != 1:
        assert err.column == column, err.format()


def test_variadic_processor_is_accepted() -> None:
    (request,) = load('(defn p [state & more] state)\n(mcp-stream "ep" p)').stream_requests
    assert request.processor == "p"
