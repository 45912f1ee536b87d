"""A state that grows without bound (megabytes a chunk, on an endless source) fails its stream at the ``max-state``
limit, with a message naming it, and the process and the other streams run on, in bounded memory."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from streamrt import Keyword, Limits, Provider, load_script
from streamrt.runtime.state_size import state_bytes
from tests.hostile.children import finish, started, write

pytestmark = pytest.mark.timeout(180)

GROWING = """
(defn blob [i] (reduce (fn [s _] (str s s)) (str "abcdef" (mod i 10)) (range 17)))
(defn grow [state chunk]
  {:blobs (into (:blobs state []) (map blob (range 8)))})
(defn count-chunks [state chunk] {:n (inc (:n state 0))})
(mcp-stream "mock:g?count=inf" grow {} {:stream-id "grow"})
(mcp-stream "mock:c?count=50&interval_ms=2" count-chunks {} {:stream-id "other"})
"""


def test_a_growing_state_fails_its_stream_at_max_state(tmp_path: Path) -> None:
    script = write(tmp_path, "grow.rtfs", GROWING)
    with started(
        ["run", str(script), "--max-state", "50000000", "--fuel", "1000000000"], cwd=tmp_path
    ) as proc:
        done = finish(proc, timeout=150)
    assert done.code == 1, done.err
    assert "Traceback" not in done.err and "MemoryError" not in done.err
    assert "stream grow: error" in done.err
    assert "max-state limit exceeded: the state after chunk" in done.err
    assert "more than 50,000,000 bytes" in done.err
    assert "stream other: completed; processed 50" in done.err
    # each chunk adds 8 strings of 917,504 characters (7.3 MB): the second look at the state comes 20 ms after the
    # first and learns its growth, so the stream stops within a few chunks of its 50 MB (about 95 MB peak here; a
    # look only every 0.5 s let it reach 500 MB on a slow machine)
    assert done.peak_rss < 300_000_000, f"the child peaked at {done.peak_rss:,} bytes"


async def test_a_stream_may_lower_max_state_and_not_raise_it() -> None:
    script = load_script(
        '(defn grow [state chunk] {:s (conj (:s state []) (apply str (repeat 100000 "x")))})'
    )
    limits = {Keyword("limits"): {Keyword("max-state"): 10**12}}
    async with Provider(limits=Limits(max_state=1_000_000)) as provider:
        greedy = provider.start(script.processor("grow"), stream_id="greedy", options=limits)
        # the size is looked at on a time budget (every 0.5 s at most), so the chunks are spread over time: on a
        # fast machine 30 chunks back to back all fit before the second look
        for _ in range(200):
            try:
                await provider.push(greedy, {})
            except Exception:
                break
            await provider.settle(greedy)
            if provider.inspect(greedy)["status"] != "active":
                break
            await asyncio.sleep(0.02)
        report = provider.inspect(greedy)
        assert report["status"] == "error"
        assert "more than 1,000,000 bytes" in report["message"]
        assert report["stats"]["processed"] < 200


def test_shared_and_deep_states_are_measured_without_recursion() -> None:
    deep: object = ()
    for _ in range(200_000):
        deep = (deep,)
    assert state_bytes(deep, 10**9) > 200_000 * 40
    shared: object = ()
    for _ in range(60):
        shared = (shared, shared)  # 2**60 paths, 61 objects
    assert state_bytes(shared, 10**9) < 10_000
    big = "x" * 5_000_000
    assert state_bytes({Keyword("a"): big, Keyword("b"): big}, 10**9) < 5_100_000
    assert state_bytes([big, "y" * 5_000_000], 1_000_000) > 1_000_000, "stops once past the limit"
