"""A value nested 200,000 deep used to kill the process (rc 139): Python hashes a tuple by recursing on the C stack.

Each operation that hashes, prints or encodes such a value now fails that stream's chunk with a clear error; the
process lives, and a healthy stream beside them completes. Run in a child process, so a regression is a failed test
(the child's signal), not a dead test run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.children import run_python, run_streamrt

pytestmark = pytest.mark.timeout(300)

DEEP = "(reduce (fn [acc _] [acc]) [] (range 200000))"
DEEP_MAP = "(reduce (fn [acc _] {:a acc}) {} (range 200000))"

BODIES = {
    "assoc": f"{{:state (assoc state {DEEP} 1)}}",
    "hash-map": f"{{:state {{:n (count (hash-map {DEEP} 1))}}}}",
    "frequencies": f"{{:state {{:n (count (frequencies [{DEEP}]))}}}}",
    "map-literal": f"(let [d {DEEP}] {{:state {{:n (count {{d 1}})}}}})",
    "set-literal": f"(let [d {DEEP}] {{:state {{:n (count #{{d}})}}}})",
    "get": f"{{:state {{:n (get {{}} {DEEP})}}}}",
    "contains": f"{{:state {{:n (contains? #{{}} {DEEP})}}}}",
    "pr-str": f"{{:state state :output (count (pr-str {DEEP_MAP}))}}",
    "output": f"{{:state state :output {DEEP_MAP}}}",
    "to-json": f"{{:state state :output (count (to-json {DEEP}))}}",
}

HEALTHY = f"""
(defn healthy [state chunk]
  (let [same (= {DEEP} {DEEP})]
    {{:state {{:n (inc (:n state 0))}} :output {{:seq (:seq chunk) :same same}}}}))
(mcp-stream "mock:ok?count=2" healthy {{}} {{:stream-id "healthy"}})
"""


def script() -> str:
    parts = []
    for i, (name, body) in enumerate(BODIES.items()):
        parts.append(f"(defn p{i} [state chunk] {body})")
        parts.append(f'(mcp-stream "mock:x?count=2" p{i} {{}} {{:stream-id "{name}"}})')
    return "\n".join(parts) + HEALTHY


@pytest.mark.parametrize("limits", [["--time-ms", "120000"], ["--no-limits"]], ids=["metered", "no-limits"])
def test_deep_values_fail_their_stream_not_the_process(tmp_path: Path, limits: list[str]) -> None:
    (tmp_path / "deep.rtfs").write_text(script(), encoding="utf-8")
    child = run_streamrt(["run", "deep.rtfs", "--no-progress", *limits], cwd=tmp_path)
    summary = {
        line.split(":", 1)[0][len("stream ") :]: line
        for line in child.err.splitlines()
        if line.startswith("stream ")
    }
    for name in BODIES:
        assert f"stream {name}: error" in summary.get(name, ""), child.err[-3000:]
        assert "nested deeper than 500 levels" in summary[name], summary[name]
    assert "stream healthy: completed" in summary["healthy"], child.err[-3000:]
    assert '"same":true' in child.out  # = walks without recursion: equal deep values compare equal
    assert child.code == 1  # some streams failed; the process itself ended normally


def test_walks_of_a_deep_value_raise_value_limit_errors(tmp_path: Path) -> None:
    code = """
from streamrt.errors import UnstorableValueError, ValueLimitError
from streamrt.lang.core.equality import hash_key
from streamrt.store.codec import encode_value
from streamrt.jsoncodec import to_json, to_json_text
from streamrt.printer import pr_short, pr_str
from streamrt.values import LList, LSet, checked_key, measure
deep = ()
for _ in range(200_000):
    deep = (deep,)
deep_list = LList()
for _ in range(200_000):
    deep_list = LList([deep_list])
for walk in (pr_str, to_json, to_json_text, measure, checked_key, hash_key, LSet, lambda v: {v: 1} if checked_key(v) else 0):
    for value in (deep, deep_list):
        try:
            walk(value)
        except ValueLimitError as e:
            assert "nested deeper than 500" in str(e), e
        else:
            raise AssertionError(f"{walk} took a value 200,000 deep")
try:
    encode_value({"k": deep}, stream_id="s")
except UnstorableValueError as e:
    assert "nested deeper" in str(e)
print(pr_short(deep, 20))
print("alive")
"""
    child = run_python(code, cwd=tmp_path)
    assert child.code == 0, child.err[-3000:]
    assert child.out.splitlines() == ["[[[[[[[[[[[[[[[[[...", "alive"]
