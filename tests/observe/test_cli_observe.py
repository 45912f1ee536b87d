"""``streamrt run`` with --metrics-port, --log-format json and --log-level, as a real subprocess over loopback."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streamrt.cli import main

pytestmark = pytest.mark.timeout(60)

ECHO = """
(defn echo [state chunk] {:state (inc state) :output (:n chunk)})
(mcp-stream "-" echo 0 {:stream-id "feed"})
"""


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "echo.rtfs"
    path.write_text(ECHO, encoding="utf-8")
    return path


@pytest.fixture
def run_cli() -> Iterator[Any]:
    """Start ``streamrt run ...`` with pipes; every process started is killed by its pid at the end."""
    procs: list[subprocess.Popen[str]] = []

    def start(*argv: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from streamrt.cli import entry; entry()", "run", *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def read_until(stream: IO[str], marker: str, seen: list[str]) -> str:
    """Lines of ``stream`` until one contains ``marker`` (returned); the others go to ``seen``."""
    for line in stream:
        if marker in line:
            return line
        seen.append(line)
    raise AssertionError(f"{marker!r} never came; stderr so far: {''.join(seen)}")


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(url, timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def scrape_until(
    url: str, name: str, labels: tuple[tuple[str, str], ...], count: float, timeout: float = 10.0
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Scrape until ``name`` reaches ``count``.

    A batch's outputs are written as its chunks are processed, its counters once it is done: a scrape sent the moment
    the last output line arrives can land between the two when the machine is busy.
    """
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(url)
        if samples.get((name, labels), 0) >= count or time.monotonic() > deadline:
            return samples
        time.sleep(0.01)


@pytest.mark.parametrize("per_stream", [False, True], ids=["by-processor", "per-stream"])
def test_scrape_a_running_stream_and_check_counters_and_logs(
    script: Path, run_cli: Any, per_stream: bool
) -> None:
    argv = [str(script), "--metrics-port", "0", "--log-format", "json", "--log-level", "info"]
    if per_stream:
        argv.append("--metrics-per-stream")
    proc = run_cli(*argv)
    assert proc.stdin and proc.stdout and proc.stderr
    before: list[str] = []
    note = read_until(proc.stderr, "serving metrics at", before)
    url = json.loads(note)["url"]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics")

    sent = 250
    proc.stdin.write("".join(json.dumps({"n": i}) + "\n" for i in range(sent)))
    proc.stdin.flush()
    outputs = [json.loads(proc.stdout.readline()) for _ in range(sent)]
    assert [o["output"] for o in outputs] == list(range(sent))

    labels = (("processor", "echo"), ("stream_id", "feed")) if per_stream else (("processor", "echo"),)
    samples = scrape_until(url, "streamrt_chunks_processed_total", labels, sent)
    assert samples["streamrt_chunks_processed_total", labels] == sent
    assert samples["streamrt_outputs_total", labels] == sent
    assert samples["streamrt_errors_total", labels] == 0
    assert samples["streamrt_chunks_dropped_total", labels] == 0
    assert samples["streamrt_queue_depth", labels] == 0
    assert samples["streamrt_streams", tuple(sorted((*labels, ("status", "active"))))] == 1
    latency = samples["streamrt_chunk_latency_seconds_count", labels]
    assert 1 <= latency <= sent
    by_processor_only = ("streamrt_chunks_processed_total", (("processor", "echo"),))
    assert (by_processor_only in samples) is not per_stream

    # a bad line: the stream fails, the run ends with exit 1, and the counters said so
    proc.stdin.write("{not json\n")
    proc.stdin.close()
    assert proc.wait(timeout=20) == 1
    rest = proc.stderr.read()
    # under --log-format json every stderr line is JSON: the metrics URL and the summary too
    records = [json.loads(line) for line in [*before, note, *rest.splitlines()]]
    assert [(r["event"], r.get("status")) for r in records] == [
        ("start", "active"),
        ("metrics", None),
        ("error", "error"),
        ("summary", "error"),
    ]
    start, _, error, closing = records
    assert closing["message"].startswith("stream feed: error; processed 250")
    assert (closing["stream_id"], closing["processed"], closing["errors"], closing["level"]) == (
        "feed",
        sent,
        1,
        "error",
    )
    assert (start["stream_id"], start["processor"], start["logger"]) == ("feed", "echo", "streamrt.stream")
    assert (error["stream_id"], error["seq"], error["processed"]) == ("feed", sent + 1, sent)
    assert error["error"].startswith(f"chunk {sent + 1}: ")


def test_metrics_port_in_use_is_a_usage_error(script: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out, err = io.StringIO(), io.StringIO()
        code = main(
            ["run", str(script), "--source", "mock:m?count=3", "--metrics-port", str(port)], out=out, err=err
        )
    assert code == 2
    assert f"streamrt run: cannot serve metrics on 127.0.0.1:{port}: " in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_bad_log_level_is_rejected_by_the_parser(script: Path) -> None:
    err = io.StringIO()
    assert main(["run", str(script), "--log-level", "loud"], out=io.StringIO(), err=err) == 2


def test_text_logs_go_to_stderr_and_stdout_stays_outputs(script: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", str(script), "--source", "mock:m?count=3", "--log-level", "info"], out=out, err=err)
    assert code == 0
    assert [json.loads(line)["stream"] for line in out.getvalue().splitlines()] == ["feed"] * 3
    log_lines = [line for line in err.getvalue().splitlines() if " streamrt.stream: " in line]
    assert len(log_lines) == 2
    assert (
        "INFO streamrt.stream: stream feed started: processor echo, source mock mock:m?count=3"
        in log_lines[0]
    )
    assert (
        "event=status stream_id=feed seq=3 processed=3 accepted=3 action=end status=completed" in log_lines[1]
    )


@pytest.mark.parametrize(
    ("text", "event", "needle"),
    [
        pytest.param(
            ECHO.replace('"-"', '"mock:m?count=2"'), "summary", "stream feed: completed", id="summary"
        ),
        pytest.param("(defn f [s c] (cuont s))", "problem", "unknown symbol 'cuont'", id="script-error"),
        pytest.param("(defn f [s c] s)", "problem", "starts no streams", id="run-problem"),
    ],
)
def test_log_format_json_makes_every_stderr_line_json(
    tmp_path: Path, text: str, event: str, needle: str
) -> None:
    path = tmp_path / "s.rtfs"
    path.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    main(["run", str(path), "--log-format", "json"], out=out, err=err)
    lines = err.getvalue().splitlines()
    assert lines, "nothing on stderr"
    records = [json.loads(line) for line in lines]
    assert any(r["event"] == event and needle in r["message"] for r in records), records
    assert all({"ts", "level", "logger", "message"} <= r.keys() for r in records)


def test_log_format_json_refused_command_line_is_json(tmp_path: Path) -> None:
    path = tmp_path / "s.rtfs"
    path.write_text(ECHO, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", str(path), "--log-format", "json", "--snapshot-every", "3"], out=out, err=err)
    assert code == 2
    (record,) = [json.loads(line) for line in err.getvalue().splitlines()]
    assert "--snapshot-every needs --store" in record["message"] and record["level"] == "error"
