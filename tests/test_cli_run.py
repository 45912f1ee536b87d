"""``streamrt run``'s body (streamrt.cli.run), its sinks, and the capabilities it hands to scripts."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from streamrt.cli import main
from streamrt.cli.run import run_script
from streamrt.lang.script import load_script
from streamrt.runtime.provider import Provider
from streamrt.values import Keyword

pytestmark = pytest.mark.timeout(30)

COUNT = """
(defn count-chunks [state chunk meta]
  (let [n (inc (:count state 0))]
    (if (= (:seq chunk) 3)
      {:state {:count n} :action :complete :output {:final-count n}}
      {:state {:count n} :output {:seq (:seq meta) :payload (:payload chunk)}})))

(mcp-stream "mock:demo?count=5" count-chunks {:count 0})
"""

SUM_JSONL = """
(defn add [state chunk] {:state {:sum (+ (:sum state) (:v chunk))}})
(defn report [state meta] {:output {:sum (:sum state) :stream (:stream-id meta)}})
(mcp-stream "jsonl:DATA" add {:sum 0} {:on-end "report" :stream-id "adder"})
"""


async def run(path: Path, **kwargs: Any) -> tuple[int, list[Any], str]:
    out, err = io.StringIO(), io.StringIO()
    code = await run_script(path, out=out, err=err, **kwargs)
    return code, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def test_runs_mock_stream_to_completion(tmp_path: Path) -> None:
    code, lines, err = await run(write(tmp_path, "count.rtfs", COUNT))
    assert code == 0
    assert lines == [
        {"stream": "count-chunks-1", "seq": 1, "output": {"seq": 1, "payload": "mock-payload-1"}},
        {"stream": "count-chunks-1", "seq": 2, "output": {"seq": 2, "payload": "mock-payload-2"}},
        {"stream": "count-chunks-1", "seq": 3, "output": {"final-count": 3}},
    ]
    assert "stream count-chunks-1: completed; processed 3, outputs 3" in err


async def test_stream_id_and_source_override(tmp_path: Path) -> None:
    code, lines, _ = await run(
        write(tmp_path, "count.rtfs", COUNT), stream_id="mine", source_uri="mock:o?count=2"
    )
    assert code == 0
    assert [(line["stream"], line["seq"]) for line in lines] == [("mine", 1), ("mine", 2)]


async def test_jsonl_source_with_on_end(tmp_path: Path) -> None:
    data = write(tmp_path, "data.jsonl", "".join(json.dumps({"v": i}) + "\n" for i in range(1, 11)))
    script = write(tmp_path, "sum.rtfs", SUM_JSONL.replace("DATA", str(data)))
    code, lines, _ = await run(script)
    assert code == 0
    assert lines == [{"stream": "adder", "seq": 1, "output": {"sum": 55, "stream": "adder"}}]


async def test_bad_jsonl_line_is_error_exit(tmp_path: Path) -> None:
    data = write(tmp_path, "data.jsonl", '{"v": 1}\nnot json\n{"v": 3}\n')
    script = write(tmp_path, "sum.rtfs", SUM_JSONL.replace("DATA", str(data)))
    code, lines, err = await run(script)
    assert code == 1
    assert lines == []
    assert (
        f"stream adder: error; processed 1, outputs 0, dropped 2, errors 1; chunk 2: {data}:2: not JSON"
        in err
    )


async def test_processor_failure_exit_1(tmp_path: Path) -> None:
    script = write(tmp_path, "div.rtfs", '(defn f [s c] (/ 1 0))\n(mcp-stream "mock:x?count=2" f)\n')
    code, _, err = await run(script)
    assert code == 1
    assert "stream f-1: error" in err and "division by zero" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        pytest.param("(defn f [s c] (nope 1))", "unknown symbol 'nope'", id="compile-error"),
        pytest.param(
            '(defn f [s c] s)\n(mcp-stream "missing.jsonl" f)', "missing.jsonl: no such file", id="source"
        ),
        pytest.param('(mcp-stream "mock:x" nothing)', "no function named 'nothing'", id="no-processor"),
        pytest.param("(defn f [s c] s)", "starts no streams", id="no-streams"),
    ],
)
async def test_bad_script_exit_2(tmp_path: Path, text: str, needle: str) -> None:
    code, lines, err = await run(write(tmp_path, "bad.rtfs", text))
    assert code == 2
    assert lines == []
    assert needle in err
    assert "Traceback" not in err


async def test_stream_id_for_two_streams_is_usage_error(tmp_path: Path) -> None:
    two = COUNT + '\n(mcp-stream "mock:b?count=1" count-chunks)\n'
    code, _, err = await run(write(tmp_path, "two.rtfs", two), stream_id="x")
    assert code == 2
    assert "more than one" in err


async def test_capabilities_from_a_script() -> None:
    text = """
    (defn p [s c] s)
    (def a (mcp-stream "host" p {:n 1} {:stream-id "a" :queue-capacity 3}))
    (call :mcp.stream.pause {:stream-id a})
    (def info (call :mcp.stream.inspect {:stream-id a :include-state true}))
    (def status (:status info))
    (def cap (:queue-capacity info))
    (def state (:state info))
    (call :log {:message "hello" :level :debug})
    """
    async with Provider() as p:
        script = load_script(text, capabilities=p.capabilities())
        assert p.stream_ids() == ["a"]
        assert (script.get("status"), script.get("cap")) == ("paused", 3)
        assert script.get("state") == {Keyword("n"): 1}
        # the id and the capacity are the stream's own (``id``, ``capacity``), not repeated in its options
        assert p.record("a").options == {Keyword("endpoint"): "host"}
        assert (p.record("a").id, p.record("a").capacity) == ("a", 3)


@pytest.mark.parametrize(
    ("sig", "expected", "store"),
    [
        pytest.param(signal.SIGINT, 130, False, id="SIGINT"),
        pytest.param(signal.SIGTERM, 143, False, id="SIGTERM"),
        pytest.param(signal.SIGINT, 130, True, id="SIGINT-store"),
    ],
)
def test_signal_shuts_down_cleanly(tmp_path: Path, sig: signal.Signals, expected: int, store: bool) -> None:
    script = write(
        tmp_path,
        "endless.rtfs",
        '(defn f [s c] {:state s :output (:seq c)})\n(mcp-stream "mock:e?count=inf&interval_ms=5" f)\n',
    )
    options = f", store_url={str(tmp_path / 's.db')!r}" if store else ""
    code = f"import asyncio, sys; from streamrt.cli.run import run_script; sys.exit(asyncio.run(run_script({str(script)!r}{options})))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert json.loads(first)["seq"] == 1
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == expected, err
    assert "stream f-1: active" in err and "interrupted" in err
    # only a run with a store left something to resume from
    assert ("left unfinished and resumable" in err) is store
    assert "Traceback" not in err
    seqs = [json.loads(line)["seq"] for line in [first, *out.splitlines()]]
    assert seqs == list(range(1, len(seqs) + 1))


@pytest.mark.parametrize("form", ["jsonl:{}", "{}"], ids=["jsonl-scheme", "plain-path"])
def test_sink_appends_the_output_lines_to_a_file(tmp_path: Path, form: str) -> None:
    script = write(tmp_path, "count.rtfs", COUNT)
    target = tmp_path / "outputs.jsonl"
    target.write_text('{"earlier": true}\n', encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", str(script), "--sink", form.format(target)], out=out, err=err)
    assert code == 0, err.getvalue()
    assert out.getvalue() == ""
    lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert lines[0] == {"earlier": True}
    assert [line["output"] for line in lines[1:]] == [
        {"seq": 1, "payload": "mock-payload-1"},
        {"seq": 2, "payload": "mock-payload-2"},
        {"final-count": 3},
    ]


@pytest.mark.parametrize(
    ("sink", "message"),
    [
        pytest.param(
            "kafka://h/t", "unknown sink scheme 'kafka'; use - (standard output), jsonl:PATH", id="scheme"
        ),
        pytest.param("out.txt", "a path must end in .jsonl or use jsonl:PATH", id="not-jsonl"),
        pytest.param("jsonl:/no/such/dir/o.jsonl", "cannot open /no/such/dir/o.jsonl", id="unwritable"),
    ],
)
def test_a_sink_that_cannot_be_opened_is_a_usage_error(tmp_path: Path, sink: str, message: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", str(write(tmp_path, "count.rtfs", COUNT)), "--sink", sink], out=out, err=err)
    assert (code, out.getvalue()) == (2, "")
    assert message in err.getvalue() and "Traceback" not in err.getvalue()


@pytest.mark.parametrize("name", ["outputs.txt", "out"])
def test_output_file_takes_the_output_lines(tmp_path: Path, name: str) -> None:
    script = write(tmp_path, "count.rtfs", COUNT)
    target = tmp_path / name
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", str(script), "--output", str(target)], out=out, err=err)
    assert code == 0, err.getvalue()
    assert out.getvalue() == ""
    lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3]
    assert lines[-1]["output"] == {"final-count": 3}


def test_output_and_sink_together_are_a_usage_error(tmp_path: Path) -> None:
    script = write(tmp_path, "count.rtfs", COUNT)
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", str(script), "-o", "a.jsonl", "--sink", "b.jsonl"], out=out, err=err)
    assert code == 2
