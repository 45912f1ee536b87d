"""A value that holds itself twice at each of 60 levels is 60 tuples but 2**60 items to walk: printing it, hashing
it, comparing it, writing it as an output or snapshotting it used to run for ever, deaf to ``:time-ms``.

Walks count the items they visit, a shared part each time it appears, and stop at a bound with a clear error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.children import run_python, run_streamrt

pytestmark = pytest.mark.timeout(300)

EXPO = "(reduce (fn [acc _] [acc acc]) [] (range 60))"
EXPO_MAP = "(reduce (fn [acc _] {:a acc :b acc}) {} (range 60))"

BODIES = {
    "output": f"{{:state state :output {EXPO}}}",
    "output-map": f"{{:state state :output {EXPO_MAP}}}",
    "pr-str": f"{{:state state :output (count (pr-str {EXPO}))}}",
    "str": f"{{:state state :output (count (str {EXPO_MAP}))}}",
    "equals": f"{{:state state :output (= {EXPO} {EXPO})}}",
    "map-key": f"{{:state (assoc state {EXPO} 1)}}",
    "distinct": f"{{:state state :output (count (distinct [{EXPO_MAP} 1]))}}",
}


def script() -> str:
    parts = []
    for i, (name, body) in enumerate(BODIES.items()):
        parts.append(f"(defn p{i} [state chunk] {body})")
        parts.append(f'(mcp-stream "mock:x?count=2" p{i} {{}} {{:stream-id "{name}"}})')
    parts.append("(defn healthy [state chunk] {:state {:n (inc (:n state 0))} :output (:seq chunk)})")
    parts.append('(mcp-stream "mock:ok?count=3" healthy {} {:stream-id "healthy"})')
    return "\n".join(parts)


def test_self_sharing_values_fail_their_stream_within_a_bound(tmp_path: Path) -> None:
    (tmp_path / "shared.rtfs").write_text(script(), encoding="utf-8")
    child = run_streamrt(
        ["run", "shared.rtfs", "--no-progress", "--time-ms", "120000"], cwd=tmp_path, timeout=240
    )
    summary = {
        line.split(":", 1)[0][len("stream ") :]: line
        for line in child.err.splitlines()
        if line.startswith("stream ")
    }
    for name in BODIES:
        assert f"stream {name}: error" in summary.get(name, ""), child.err[-3000:]
        assert "counting shared parts each time they appear" in summary[name], summary[name]
    assert "stream healthy: completed" in summary["healthy"], child.err[-3000:]
    assert child.code == 1


def test_a_self_sharing_state_is_refused_by_the_snapshot_codec(tmp_path: Path) -> None:
    code = """
from streamrt.errors import UnstorableValueError
from streamrt.store import codec
from streamrt.store.codec import encode_value
assert codec.STORE_WALK_LIMIT == 4_000_000
codec.STORE_WALK_LIMIT = 200_000  # the same walk, to a bound this test can reach quickly
from streamrt.values import Keyword
shared = {}
for _ in range(60):
    shared = {Keyword("a"): shared, Keyword("b"): shared}
try:
    encode_value(shared, stream_id="s", what="state")
except UnstorableValueError as e:
    print(e)
"""
    child = run_python(code, cwd=tmp_path, timeout=120)
    assert child.code == 0, child.err[-3000:]
    assert "cannot store the state of stream 's'" in child.out
    assert "more than 200,000 items" in child.out
