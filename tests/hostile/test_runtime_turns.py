"""A slow processor on an endless source must not starve the other streams, and SIGINT / SIGTERM must start the
shutdown within a second whatever the processors are doing (streamrt.lang.turn)."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streamrt.cli import EXIT_SIGINT, EXIT_SIGTERM
from tests.hostile.children import finish, outputs_by_stream, started, write

pytestmark = pytest.mark.timeout(180)

SIGNAL_BOUND = 5.0
"""Seconds from a signal to the exit: a second would do on a quiet machine; this one is shared and loaded."""

SLOW_AND_FAST = """
(defn spin [k] (reduce (fn [a x] (+ a x)) 0 (range k)))
(defn slow [state chunk]
  {:state {:n (inc (:n state 0))} :output {:slow (:n state 0) :sum (spin 150000)}})
(defn fast [state chunk]
  {:state {:n (inc (:n state 0))} :output {:fast (:n state 0)}})
(mcp-stream "mock:a?count=inf" slow {} {:stream-id "slow"})
(mcp-stream "mock:b?count=inf&interval_ms=5" fast {} {:stream-id "fast"})
"""

STUCK = """
(defn stuck [state chunk]
  (if (= (:seq chunk) 1)
    {:state {:n 1} :output "started"}
    (loop [i 0] (recur (inc i)))))
(mcp-stream "mock:a?count=5" stuck {} {:stream-id "stuck"})
"""


def read_until(proc: subprocess.Popen[str], done: Callable[[list[str]], bool], timeout: float) -> list[str]:
    """Output lines as they come, until ``done(lines)`` or ``timeout`` seconds (then the test fails)."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while not done(lines):
        left = deadline - time.monotonic()
        assert left > 0, f"gave up waiting after {timeout} s; {len(lines)} lines so far"
        ready, _, _ = select.select([proc.stdout], [], [], min(left, 1.0))
        if ready:
            line = proc.stdout.readline()
            assert line, f"streamrt ended early (exit {proc.wait()})"
            lines.append(line)
    return lines


def test_a_slow_stream_does_not_starve_another(tmp_path: Path) -> None:
    script = write(tmp_path, "slow.rtfs", SLOW_AND_FAST)

    def counts(lines: list[str]) -> tuple[int, int]:
        by_stream = outputs_by_stream("".join(lines))
        return len(by_stream.get("slow", [])), len(by_stream.get("fast", []))

    with started(["run", str(script)], cwd=tmp_path) as proc:
        # until the fast stream has 20 outputs, or the slow one 80: starved (before its turns were timed) the
        # fast stream got one output per 256 slow chunks
        lines = read_until(proc, lambda lines: max(counts(lines)[0] / 80, counts(lines)[1] / 20) >= 1, 150)
        done = finish(proc, sig=signal.SIGINT, timeout=30)
    slow, fast = counts(lines)
    assert fast * 4 >= slow, f"the fast stream had {fast} outputs while the slow one had {slow}"
    assert done.code == EXIT_SIGINT, done.err
    assert done.seconds < SIGNAL_BOUND, f"took {done.seconds:.1f} s to exit after SIGINT"
    assert "interrupted" in done.err and "Traceback" not in done.err


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, EXIT_SIGINT), (signal.SIGTERM, EXIT_SIGTERM)])
def test_a_signal_stops_a_metered_processor_in_the_middle_of_a_chunk(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    script = write(tmp_path, "stuck.rtfs", STUCK)
    store = tmp_path / "store.db"
    # the host lets one chunk run for ten minutes: only the signal can stop it
    args = ["run", str(script), "--store", str(store), "--time-ms", "600000", "--fuel", "1000000000000"]
    with started(args, cwd=tmp_path) as proc:
        read_until(proc, lambda lines: bool(lines), 60)
        time.sleep(1)  # the second chunk is running by now
        done = finish(proc, sig=sig, timeout=30)
    assert done.code == code, done.err
    assert done.seconds < SIGNAL_BOUND, f"took {done.seconds:.1f} s to exit after {sig.name}"
    assert "stream stuck: active; processed 1" in done.err and "Traceback" not in done.err
    # the chunk it was stopped in was not processed: it is the first one queued in the store, for a resume
    with started(["inspect", "stuck", "--store", str(store), "--queue"], cwd=tmp_path) as inspect:
        report = finish(inspect)
    assert report.code == 0, report.err
    snapshot = json.loads(report.out)
    assert snapshot["stats"]["processed"] == 1 and snapshot["state"] == {"n": 1}
    assert snapshot["queue"][0]["chunk"]["seq"] == 2


def test_a_second_signal_leaves_an_unmetered_processor(tmp_path: Path) -> None:
    script = write(tmp_path, "stuck.rtfs", STUCK)
    with started(["run", str(script), "--no-limits"], cwd=tmp_path) as proc:
        read_until(proc, lambda lines: bool(lines), 60)
        time.sleep(1)
        # an unmetered processor cannot be stopped part way: the first signal waits for its chunk to end
        proc.send_signal(signal.SIGINT)
        time.sleep(1)
        assert proc.poll() is None
        done = finish(proc, sig=signal.SIGINT, timeout=30)
    assert done.code == EXIT_SIGINT, done.err
    assert done.seconds < SIGNAL_BOUND
    assert "a second signal: leaving at once" in done.err and "Traceback" not in done.err
