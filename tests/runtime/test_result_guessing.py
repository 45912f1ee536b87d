"""A returned map is a result or the new state: the rule kept (a plain map is the state) and made safe: a Python
processor may spell the result keys as strings, ``:result :strict`` refuses bare maps, and ``streamrt check``
warns where a processor returns a map built at run time."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from streamrt import Keyword, Provider, UsageError, load_script
from streamrt.cli import main

K = Keyword


async def run(processor: Any, chunks: list[Any], **options: Any) -> tuple[Any, Any, list[Any]]:
    """Push ``chunks`` through ``processor``; the record's status, state and outputs."""
    async with Provider() as p:
        sid = p.start(processor, initial_state={}, **options)
        outputs = p.outputs(sid)
        for chunk in chunks:
            await p.push(sid, chunk)
        await p.settle(sid)
        record = p.record(sid)
        status, state, message = record.status.value, record.state, record.message
        await p.close()
        return (status, message), state, [o.value async for o in outputs]


async def test_a_python_processor_may_spell_the_result_keys_as_strings() -> None:
    def count(state: dict[str, Any], chunk: int) -> dict[str, Any]:
        n = state.get("n", 0) + 1
        if chunk == 3:
            return {"state": {"n": n}, "output": n, "action": "pause"}
        return {"state": {"n": n}, "outputs": [chunk]}

    (status, _), state, outputs = await run(count, [1, 2, 3, 4])
    assert status == "paused"
    assert state == {"n": 3}
    assert outputs == [1, 2, 3]


async def test_a_python_processor_returning_a_plain_dict_still_sets_the_state() -> None:
    def keep(state: dict[str, Any], chunk: int) -> dict[str, Any]:
        return {"last": chunk}

    (status, _), state, outputs = await run(keep, [1, 2])
    assert (status, state, outputs) == ("active", {"last": 2}, [])


async def test_both_spellings_of_one_key_are_refused() -> None:
    def both(state: Any, chunk: Any) -> dict[Any, Any]:
        return {"state": 1, K("state"): 2}

    (status, message), _, _ = await run(both, [1])
    assert status == "error" and "returned both 'state' and :state" in message


MERGE = """
(defn keep-all [state chunk] (merge state chunk))
(defn explicit [state chunk] {:state (merge state chunk)})
(defn counted [state chunk] {:count 1})
"""


@pytest.fixture
def script(tmp_path: Path) -> Any:
    path = tmp_path / "m.rtfs"
    path.write_text(MERGE, encoding="utf-8")
    return load_script(path=str(path))


async def test_a_script_returning_string_keys_does_not_get_the_python_reading(script: Any) -> None:
    """Only Python processors spell keys as strings: a script's map with a "state" string key is state."""
    (status, _), state, _ = await run(script.processor("keep-all"), [{"state": "CA"}])
    assert status == "active" and state == {"state": "CA"}


async def test_strict_refuses_a_bare_map_and_names_the_option(script: Any) -> None:
    (status, message), state, _ = await run(
        script.processor("keep-all"), [{K("city"): "Oslo"}], options={K("result"): K("strict")}
    )
    assert status == "error"
    assert "a map with none of :state :action :output :outputs" in message and ":result :strict" in message
    assert state == {}


async def test_strict_refuses_a_bare_map_even_when_the_compiler_proved_its_shape(script: Any) -> None:
    (status, message), _, _ = await run(script.processor("counted"), [1], options={K("result"): K("strict")})
    assert status == "error" and ":result :strict" in message


async def test_strict_accepts_result_maps(script: Any) -> None:
    chunks = [{K("state"): "CA"}, {K("city"): "Oslo"}]
    (status, _), state, _ = await run(
        script.processor("explicit"), chunks, options={K("result"): K("strict")}
    )
    assert status == "active"
    assert state == {K("state"): "CA", K("city"): "Oslo"}


async def test_without_strict_the_seed_rule_holds_and_guesses(script: Any) -> None:
    """The documented hazard: a chunk holding :state, merged into a bare state, is read as a result."""
    (status, _), state, _ = await run(script.processor("keep-all"), [{K("state"): "CA"}])
    assert status == "active" and state == "CA"


def test_result_option_takes_only_strict() -> None:
    from streamrt.runtime.spec import StreamSpec

    assert StreamSpec.parse({K("result"): K("strict")}).result == "strict"
    with pytest.raises(UsageError, match=":result must be :strict"):
        StreamSpec.parse({K("result"): K("sloppy")})


CHECKED = """(defn keep-all [state chunk]
  (merge state chunk))
(defn counts [state chunk]
  (update state :count (fn [n] (inc (or n 0)))))
(defn by-city [state chunk]
  (update state (:city chunk) (fn [n] (inc (or n 0)))))
(defn fine [state chunk] {:state (merge state chunk)})
(defn echo [state chunk] chunk)
(defn helper [a b] (merge a b))
(mcp-stream "a.jsonl" keep-all {})
(mcp-stream "a.jsonl" counts {})
(mcp-stream "a.jsonl" by-city {})
(mcp-stream "a.jsonl" fine {})
(mcp-stream "a.jsonl" echo {})
"""


def test_check_warns_where_a_processor_returns_a_map_built_at_run_time(tmp_path: Path) -> None:
    path = tmp_path / "c.rtfs"
    path.write_text(CHECKED, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert main(["check", str(path)], out=out, err=err) == 0
    warnings = [line for line in err.getvalue().splitlines() if ": warning: " in line]
    where = [line.split(": warning: ")[0].removeprefix(str(path) + ":") for line in warnings]
    assert where == ["2:3", "6:3", "8:26"], err.getvalue()
    assert "processor keep-all returns (merge ...)" in warnings[0] and ":result :strict" in warnings[0]
    assert "processor by-city returns (update ...)" in warnings[1]
    assert "processor echo returns the chunk" in warnings[2]
    assert out.getvalue().startswith(f"{path}: ok")
