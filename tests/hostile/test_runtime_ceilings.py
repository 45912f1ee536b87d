"""Host limits are ceilings: a script's ``:limits`` may lower ``--fuel``, ``--time-ms``, ``--max-size`` or
``--depth`` for its stream, never raise them."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamrt import DEFAULT_LIMITS, Keyword, Limits
from streamrt.policy.limits import resolve_limits, stream_limits
from tests.hostile.children import finish, started, write

pytestmark = pytest.mark.timeout(120)

GREEDY = """
(defn spin [k] (reduce (fn [a x] (+ a x)) 0 (range k)))
(defn greedy [state chunk] {:sum (spin 400000)})
(defn counter [state chunk] {:count (inc (:count state 0))})
(mcp-stream "mock:g?count=1" greedy {} {:stream-id "fuel" :limits {:fuel 1000000000}})
(mcp-stream "mock:c?count=3" counter {} {:stream-id "other" :limits {:fuel 100000000}})
"""

WIDE = """
(defn wide [state chunk] {:n (count (range 5000))})
(mcp-stream "mock:w?count=1" wide {} {:stream-id "size" :limits {:max-size 100000000}})
"""


def test_a_script_cannot_raise_the_fuel_limit(tmp_path: Path) -> None:
    script = write(tmp_path, "greedy.rtfs", GREEDY)
    with started(["run", str(script), "--fuel", "100000"], cwd=tmp_path) as proc:
        done = finish(proc)
    assert done.code == 1, done.err
    assert "Traceback" not in done.err
    assert "stream fuel: error" in done.err and "fuel limit exceeded: more than 100,000 steps" in done.err
    assert "stream other: completed; processed 3" in done.err


def test_a_script_cannot_raise_the_size_limit(tmp_path: Path) -> None:
    script = write(tmp_path, "wide.rtfs", WIDE)
    with started(["run", str(script), "--max-size", "1000"], cwd=tmp_path) as proc:
        done = finish(proc)
    assert done.code == 1, done.err
    assert "stream size: error" in done.err and "range would build 5,000 items, more than 1,000" in done.err


def test_a_script_cannot_raise_the_time_limit(tmp_path: Path) -> None:
    # the fold takes far longer than 50 ms on any machine; the script asks for 100 s
    script = write(
        tmp_path,
        "slow.rtfs",
        "(defn spin [k] (reduce (fn [a x] (+ a x)) 0 (range k)))\n"
        "(defn slow [state chunk] {:sum (spin 900000)})\n"
        '(mcp-stream "mock:s?count=1" slow {} {:stream-id "slow" :limits {:time-ms 100000}})\n',
    )
    with started(["run", str(script), "--time-ms", "50", "--fuel", "100000000"], cwd=tmp_path) as proc:
        done = finish(proc)
    assert done.code == 1, done.err
    assert "time-ms limit exceeded: more than 50 milliseconds" in done.err


def test_a_stream_may_lower_them() -> None:
    host = Limits(fuel=5000, time_ms=100)
    lowered = stream_limits(host, {Keyword("fuel"): 10, Keyword("time-ms"): 10_000})
    assert lowered == Limits(fuel=10, time_ms=100)
    assert stream_limits(host, None) is host
    assert stream_limits(None, {Keyword("fuel"): 10**12}) == Limits(fuel=10**12), "no host limits: no ceiling"
    assert resolve_limits(DEFAULT_LIMITS, {Keyword("limits"): {Keyword("depth"): 10**6}}) == DEFAULT_LIMITS
