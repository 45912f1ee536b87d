"""A chunk the source could not decode goes through the stream's ``:on-error`` like any other failure: a line that
is not JSON, a WebSocket frame that is not UTF-8, a JSON string with a lone surrogate. Real files, a real WebSocket
server on loopback, a real SQLite store, the real command line."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from streamrt.cli import main
from streamrt.jsoncodec import from_json_text
from streamrt.runtime.provider import Provider
from streamrt.sources import open_source
from streamrt.sources.base import RAW_LIMIT
from streamrt.store import open_store
from streamrt.values import Keyword

pytestmark = pytest.mark.timeout(60)

SCRIPT = """
(defn add [state chunk]
  (let [s (+ (:sum state) (:v chunk))] {:state {:sum s} :output {:sum s}}))
(mcp-stream "jsonl:data.jsonl" add {:sum 0} {:stream-id "adder" :on-error POLICY})
"""

LINES = ['{"v": 1}', "{not json", '{"v": 2}', '{"a": "\\ud800"}', '{"v": 3}', "x" * 5000, '{"v": 4}']
"""Three bad lines: not JSON, a lone surrogate, a long line (kept bounded in its dead letter)."""


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def project(tmp_path: Path, policy: str) -> Path:
    (tmp_path / "data.jsonl").write_text("\n".join(LINES) + "\n", encoding="utf-8")
    script = tmp_path / "add.rtfs"
    script.write_text(SCRIPT.replace("POLICY", policy), encoding="utf-8")
    return script


def sums(out: str) -> list[Any]:
    return [json.loads(line)["output"]["sum"] for line in out.splitlines()]


@pytest.mark.parametrize("policy", [":skip", ":dead-letter"])
def test_bad_lines_are_skipped_and_reading_goes_on(tmp_path: Path, policy: str) -> None:
    code, out, err = cli("run", str(project(tmp_path, policy)), "--store", str(tmp_path / "s.db"))
    assert code == 0, err
    assert sums(out) == [1, 3, 6, 10]
    assert "stream adder: completed; processed 7, outputs 4, dropped 0, errors 3 (3 skipped" in err
    assert "Traceback" not in err


def test_dead_letters_hold_the_raw_line_its_number_and_the_decode_error(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    assert cli("run", str(project(tmp_path, ":dead-letter")), "--store", str(db))[0] == 0
    code, out, err = cli("dead-letters", "adder", "--store", str(db))
    assert code == 0, err
    letters = [json.loads(line) for line in out.splitlines()]
    assert [(d["seq"], d["meta"]["line"]) for d in letters] == [(2, 2), (4, 4), (6, 6)]
    assert letters[0]["chunk"] == "{not json"
    assert letters[0]["error"].startswith("chunk 2: ") and ":2: not JSON" in letters[0]["error"]
    assert letters[1]["chunk"] == '{"a": "\\ud800"}'
    assert "lone surrogate" in letters[1]["error"]
    long = letters[2]["chunk"]
    assert long.startswith("x" * 100) and len(long) <= RAW_LIMIT + 40 and long.endswith("(5000 characters)")
    assert all(d["meta"]["source"] == "jsonl" for d in letters)


def test_fail_still_stops_at_the_first_bad_line(tmp_path: Path) -> None:
    code, out, err = cli("run", str(project(tmp_path, ":fail")))
    assert code == 1
    assert sums(out) == [1]
    assert "stream adder: error; processed 1" in err and "chunk 2: " in err and "not JSON" in err


def test_a_fault_still_queued_survives_a_snapshot_and_a_resume(tmp_path: Path) -> None:
    """Stopped with the bad line still in the queue: the resumed stream dead-letters it, then reads on."""
    script = project(tmp_path, ":dead-letter")
    db = tmp_path / "s.db"

    async def first_run() -> None:
        from streamrt.lang.script import load_script
        from streamrt.runtime.persist import Persister

        async with open_store(str(db)) as store:
            persister = Persister(store)
            async with Provider(persistence=persister) as p:
                loaded = load_script(path=str(script))
                request = loaded.stream_requests[0]
                src = open_source(f"jsonl:{tmp_path / 'data.jsonl'}")
                sid = p.start_request(loaded, request, source=src)
                # paused before it runs (before any await: the reader and a worker may run during the claim's
                # write): the reader queues the lines, faults included
                p.pause(sid)
                await persister.claim(sid)
                for _ in range(200):
                    if p.record(sid).queue_depth >= 4:
                        break
                    await asyncio.sleep(0.01)
            snap = await store.get("adder")
            assert snap.status == "paused" and len(snap.queue) >= 4
            assert any(Keyword("streamrt-fault") in meta for _, meta in snap.queue)

    asyncio.run(first_run())
    code, out, err = cli("resume", "adder", "--store", str(db), "--script", str(script), "--unpause")
    assert code == 0, err
    assert sums(out)[-1] == 10 and "stream adder: completed" in err
    code, out, _ = cli("dead-letters", "adder", "--store", str(db))
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [2, 4, 6]


async def test_a_frame_that_is_not_utf8_is_dead_lettered_and_the_socket_read_on() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send(json.dumps({"v": 1}))
        await ws.send(b"\xff\xfe{")
        await ws.send(json.dumps({"v": 2}))
        await ws.close(1000)

    def add(state: Any, chunk: Any) -> dict[Keyword, Any]:
        return {Keyword("state"): state + chunk[Keyword("v")]}

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with Provider() as p:
            sid = p.start(
                add,
                stream_id="ws",
                initial_state=0,
                source=open_source(f"ws://127.0.0.1:{port}/feed"),
                on_error="dead-letter",
            )
            await p.wait(sid)
            record = p.record(sid)
            assert (record.status.value, record.state) == ("completed", 3)
            (letter,) = p.dead_letters(sid)
    assert letter.seq == 2 and "not UTF-8" in letter.error
    assert letter.chunk == "\\xff\\xfe{"
    assert letter.meta[Keyword("source")] == "ws"


@pytest.mark.parametrize(
    "text",
    ['"\\ud800"', '{"a": ["x", "\\udc00"]}', '{"\\udbff": 1}'],
    ids=["high", "low-in-list", "in-a-key"],
)
def test_a_lone_surrogate_is_refused_at_decoding(text: str) -> None:
    with pytest.raises(ValueError, match="lone surrogate"):
        from_json_text(text)


def test_a_surrogate_pair_is_a_character() -> None:
    assert from_json_text('{"smile": "\\ud83d\\ude00"}') == {Keyword("smile"): "\U0001f600"}
