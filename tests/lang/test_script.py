"""The host API: ``load_script`` from a path or text, capabilities, processors, definitions, stream requests."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from streamrt.errors import CapabilityError, ScriptRuntimeError, ScriptSyntaxError, UsageError
from streamrt.lang.script import CallContext, compile_script, load_script
from streamrt.values import Keyword
from tests.lang.conftest import K, load

SRC = """; a tiny script
(def limit 3)
(defn count-chunks [state chunk meta]
  (let [n (inc (:count state 0))]
    (if (>= n limit)
      {:state {:count n} :action :complete}
      {:state {:count n}})))
(mcp-stream "ep" count-chunks {:count 0} {:stream-id "c1"})
"""


def test_load_from_a_path_and_from_text_agree(tmp_path: Path) -> None:
    path = tmp_path / "count.rtfs"
    path.write_text(SRC, encoding="utf-8")
    from_path = load_script(path=path)
    from_str_path = load_script(path=str(path))
    from_text = load_script(SRC)
    assert from_path.filename == str(path) == from_str_path.filename
    assert from_text.filename == "<script>"
    assert load_script(SRC, filename="named.rtfs").filename == "named.rtfs"
    assert from_path.source_hash == from_text.source_hash
    for script in (from_path, from_str_path, from_text):
        proc = script.processor("count-chunks")
        assert proc({}, {}, {}) == {K("state"): {K("count"): 1}}
        assert proc({K("count"): 2}, {}, {})[K("action")] is K("complete")


def test_errors_from_a_path_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.rtfs"
    path.write_text("(def x 1)\n(def y (1a))\n", encoding="utf-8")
    with pytest.raises(ScriptSyntaxError) as info:
        load_script(path=path)
    assert str(info.value).startswith(f"{path}:2:9: invalid number '1a'")
    assert info.value.source_line == "(def y (1a))"


def test_missing_or_binary_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read script"):
        load_script(path=tmp_path / "absent.rtfs")
    binary = tmp_path / "bin.rtfs"
    binary.write_bytes(b"\xff\xfe(def x 1)")
    with pytest.raises(UsageError, match="not UTF-8"):
        load_script(path=binary)


def test_script_accessors() -> None:
    script = load(SRC)
    assert script.names == ["limit", "count-chunks"]
    assert list(script.functions) == ["count-chunks"]
    assert script.get("limit") == 3
    assert script.processor("count-chunks").__name__ == "count-chunks"
    with pytest.raises(UsageError, match=r"no function named 'limit' \(functions: count-chunks\)"):
        script.processor("limit")
    with pytest.raises(UsageError, match="no function named 'nope'"):
        script.processor("nope")
    with pytest.raises(UsageError, match="'nope' is not defined"):
        script.get("nope")
    assert "count-chunks" in repr(script)


def test_stream_requests_are_recorded_without_a_host() -> None:
    (request,) = load(SRC).stream_requests
    assert (request.endpoint, request.processor, request.initial_state) == (
        "ep",
        "count-chunks",
        {K("count"): 0},
    )
    assert request.options == {K("stream-id"): "c1"}
    assert request.pos is not None and request.pos.line == 8


def test_a_custom_capability_gets_the_args_map_and_the_call_context() -> None:
    calls: list[tuple[Any, CallContext]] = []

    def probe(args: dict[Keyword, Any], ctx: CallContext) -> Any:
        calls.append((args, ctx))
        return {K("answer"): 42}

    script = load(
        '(def got (call :host.probe {:q "x" :n 1}))\n(def none (call :host.probe))',
        capabilities={"host.probe": probe},
    )
    assert script.get("got") == {K("answer"): 42}
    (args, ctx), (args2, ctx2) = calls
    assert args == {K("q"): "x", K("n"): 1}
    assert args2 == {}
    assert ctx.script is script
    assert ctx.pos is not None and (ctx.pos.filename, ctx.pos.line, ctx.pos.column) == ("t.rtfs", 1, 10)
    assert ctx2.pos is not None and ctx2.pos.line == 2


def test_a_capability_may_be_called_from_a_processor() -> None:
    seen: list[Any] = []
    script = load(
        "(defn p [s c] (call :note {:c c}) s)", capabilities={"note": lambda a, ctx: seen.append(a)}
    )
    script.processor("p")({}, 7)
    assert seen == [{K("c"): 7}]


def test_host_capabilities_replace_the_defaults() -> None:
    started: list[Any] = []

    def start(args: Any, ctx: CallContext) -> str:
        started.append(args)
        return "sid"

    script = load(SRC, capabilities={"mcp.stream.start": start})
    assert script.stream_requests == []
    assert started[0][K("processor")] == "count-chunks"


def test_an_unknown_capability_is_a_located_error_listing_the_granted_ones() -> None:
    with pytest.raises(ScriptRuntimeError) as info:
        load("(def a 1)\n  (call :mcp.stream.nuke {})", capabilities={"x.y": lambda a, c: None})
    err = info.value
    assert (err.line, err.column) == (2, 3)
    assert (
        err.message
        == "capability :mcp.stream.nuke is not available here (granted: :log, :mcp.stream.start, :x.y)"
    )
    assert err.source_line == "  (call :mcp.stream.nuke {})"


def test_a_capability_error_becomes_a_located_script_error() -> None:
    def refuse(args: Any, ctx: CallContext) -> Any:
        raise CapabilityError("not today")

    with pytest.raises(ScriptRuntimeError) as info:
        load("(call :deny {})", capabilities={"deny": refuse})
    assert info.value.message == ":deny: not today"
    assert info.value.line == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ('{:processor "p"}', ":mcp.stream.start needs :endpoint, a non-empty string"),
        ('{:endpoint "e"}', ":mcp.stream.start needs :processor"),
        ("5", ":mcp.stream.start takes a map of arguments, got 5"),
    ],
)
def test_bad_stream_start_arguments(args: str, message: str) -> None:
    with pytest.raises(ScriptRuntimeError) as info:
        load(f"(defn p [s c] s)\n(call :mcp.stream.start {args})")
    assert message in info.value.message
    assert info.value.line == 2


def test_log_capability_logs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="streamrt.script"):
        load('(call :log {:message "hello"})\n(call :log {:n 1})')
    assert [r.getMessage() for r in caplog.records] == ["hello", "{:n 1}"]
    assert caplog.records[0].line == 1  # type: ignore[attr-defined]


def test_compile_script_compiles_without_running() -> None:
    seen: list[Any] = []
    compiled = compile_script("(call :log {})\n(defn p [s c] s)\n")
    assert "p" in compiled.globals and seen == []


def test_processors_return_plain_values() -> None:
    out = load("(defn p [s c m] {:state (assoc s :v [c (:k m)]) :output (list 1 2)})").processor("p")(
        {}, 1, {K("k"): "x"}
    )
    assert out == {K("state"): {K("v"): (1, "x")}, K("output"): (1, 2)}
    assert type(out[K("state")][K("v")]) is tuple


def test_scripts_are_independent() -> None:
    a = load("(def n 1)\n(defn f [] n)")
    b = load("(def n 2)\n(defn f [] n)")
    assert (a.processor("f")(), b.processor("f")()) == (1, 2)
