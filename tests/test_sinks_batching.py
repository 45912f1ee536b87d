"""The JSON-lines sink writes outputs in batches: one write per processed batch, still one JSON line per output, in
order, written before the snapshot policy looks at the stream and at the latest when the event loop next runs
(issue #17). A real provider, a real SQLite store; the stream written to is an in-memory text stream that counts
its writes."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest

from streamrt.errors import SinkError
from streamrt.runtime.contract import result
from streamrt.runtime.outputs import Output
from streamrt.runtime.persist import Persister, parse_policy
from streamrt.runtime.provider import Provider
from streamrt.sinks import JsonLinesSink, SinkFlushes
from streamrt.store import open_store
from streamrt.values import Keyword

pytestmark = pytest.mark.timeout(60)

N = Keyword("n")


class Counting(io.StringIO):
    """A text stream that counts its writes, and can be made to fail or to look like a terminal."""

    def __init__(self, *, tty: bool = False, fail: OSError | None = None) -> None:
        super().__init__()
        self.writes = 0
        self.tty = tty
        self.fail = fail

    def write(self, s: str) -> int:
        if self.fail is not None:
            raise self.fail
        self.writes += 1
        return super().write(s)

    def isatty(self) -> bool:
        return self.tty


def echo(state: Any, chunk: Any) -> Any:
    return result(state=state + 1, output={N: chunk})


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_outputs_are_written_a_batch_at_a_time_in_order() -> None:
    out = Counting()
    sink = JsonLinesSink(out)
    async with Provider() as p:
        p.add_sink(sink)
        p.add_observer(SinkFlushes(sink.flush))
        sid = p.start(echo, initial_state=0, stream_id="s")
        assert await p.push_many(sid, range(5000)) == 5000
        p.end_input(sid)
        await p.wait(sid)
        written = lines(out)  # everything is out once the stream is over, before the close
    sink.close()
    assert [line["seq"] for line in written] == list(range(1, 5001))
    assert [line["output"] for line in written] == [{"n": i} for i in range(5000)]
    assert {line["stream"] for line in written} == {"s"}
    assert 1 <= out.writes <= 5000 // 64, out.writes  # a write per batch at most, not one per output


@pytest.mark.parametrize("many", [False, True], ids=["a-chunk-at-a-time", "batches"])
async def test_an_output_is_written_before_the_snapshot_that_counts_it(tmp_path: Path, many: bool) -> None:
    """Looked at when the snapshot is captured (not when it is committed, a turn of the event loop later, by when
    the sink's own next-turn flush would have written the lines anyway): what the snapshot counts is written."""
    out = Counting()
    sink = JsonLinesSink(out)
    seen: list[tuple[int, int]] = []  # (outputs counted by a captured snapshot, lines written by then)

    class Watching(Persister):
        def snapshot_of(self, record: Any) -> Any:
            snap = super().snapshot_of(record)
            seen.append((snap.output_seq, len(out.getvalue().splitlines())))
            return snap

    store = open_store(str(tmp_path / "s.db"))
    await store.open()
    try:
        async with Provider(persistence=Watching(store, parse_policy("10"))) as p:
            p.add_sink(sink)
            p.add_observer(SinkFlushes(sink.flush))
            sid = p.start(echo, initial_state=0, stream_id="s")
            if many:
                assert await p.push_many(sid, range(200)) == 200
            else:
                for i in range(200):
                    await p.push(sid, i)
            p.end_input(sid)
            await p.wait(sid)
    finally:
        await store.aclose()
    sink.close()
    assert len(seen) >= 200 // 10, seen  # a snapshot every 10 chunks
    assert all(counted <= written for counted, written in seen), seen
    assert any(counted > 0 for counted, _ in seen), seen


async def test_an_output_outside_a_batch_is_written_when_the_loop_runs_next() -> None:
    out = Counting()
    sink = JsonLinesSink(out)
    sink(Output("s", 1, {N: 1}))
    assert out.getvalue() == ""  # kept: more may come in the same turn
    await asyncio.sleep(0)
    assert lines(out) == [{"stream": "s", "seq": 1, "output": {"n": 1}}] and out.writes == 1


async def test_an_output_is_not_held_back_by_a_long_chunk_after_it() -> None:
    """The loop's thread stays busy (a processor on a long chunk): the watcher thread writes the line."""
    out = Counting()
    sink = JsonLinesSink(out)
    sink(Output("s", 1, "started"))
    # the watcher looks every FLUSH_AFTER (0.05 s); 10 s for a loaded machine
    deadline = time.monotonic() + 10
    while not out.getvalue() and time.monotonic() < deadline:
        sum(range(10_000))  # busy, never yielding to the event loop
    assert lines(out) == [{"stream": "s", "seq": 1, "output": "started"}]
    sink.close()


async def test_lines_added_while_the_watcher_writes_come_out_once_each_in_order() -> None:
    """The loop's thread adds lines without a lock while the watcher thread writes the held ones."""
    out = Counting()
    sink = JsonLinesSink(out)
    seq = 0
    start = time.monotonic()
    # never yielding to the event loop, until the watcher (a look every 0.05 s) has written three times; 10 s for
    # a loaded machine
    while out.writes < 3 and time.monotonic() - start < 10:
        seq += 1
        sink(Output("s", seq, seq))
    assert out.writes >= 3, out.writes  # the watcher wrote while lines were being added
    sink.close()
    assert [line["seq"] for line in lines(out)] == list(range(1, seq + 1))


def test_each_stream_gets_its_own_line_prefix_its_id_escaped() -> None:
    out = Counting()
    sink = JsonLinesSink(out)
    ids = ['a"b', "ç\\n", "s"]
    for seq in (1, 2):
        for sid in ids:
            sink(Output(sid, seq, {N: sid}))
    assert lines(out) == [{"stream": sid, "seq": seq, "output": {"n": sid}} for seq in (1, 2) for sid in ids]


def test_outside_an_event_loop_and_on_a_terminal_each_output_is_written_at_once() -> None:
    for out in (Counting(), Counting(tty=True)):
        sink = JsonLinesSink(out)
        sink(Output("s", 1, "a"))
        sink(Output("s", 2, "b"))
        assert [line["output"] for line in lines(out)] == ["a", "b"] and out.writes == 2


async def test_a_write_that_fails_later_fails_the_next_output_and_the_close() -> None:
    out = Counting()
    sink = JsonLinesSink(out)
    sink(Output("s", 1, 1))
    out.fail = OSError(28, "No space left on device")
    sink.flush()
    with pytest.raises(OSError, match="No space left"):
        sink(Output("s", 2, 2))
    sink(Output("s", 3, 3))
    sink.flush()
    with pytest.raises(SinkError, match="cannot write the outputs: No space left on device"):
        sink.close()


@pytest.mark.parametrize(
    ("encoding", "written"),
    [
        pytest.param("utf-8", "é".encode(), id="utf-8-to-the-binary-buffer"),
        pytest.param("latin-1", "é".encode("latin-1"), id="latin-1-through-the-text-layer"),
    ],
)
def test_lines_come_after_text_written_before_them_in_the_stream_encoding(
    encoding: str, written: bytes
) -> None:
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding=encoding)
    out.write("before\n")  # held in the text layer, not yet in raw
    sink = JsonLinesSink(out)
    sink(Output("s", 1, "é"))  # outside an event loop: written at once
    out.write("after\n")
    sink.close()
    out.flush()
    assert raw.getvalue() == b'before\n{"stream":"s","seq":1,"output":"' + written + b'"}\nafter\n'


def test_a_value_that_cannot_be_written_fails_at_its_output() -> None:
    sink = JsonLinesSink(Counting())
    with pytest.raises(UnicodeEncodeError):
        sink(Output("s", 1, "half \ud800"))


async def test_a_reader_gone_is_told_once_and_the_rest_dropped() -> None:
    gone: list[bool] = []
    out = Counting(fail=BrokenPipeError(32, "Broken pipe"))
    sink = JsonLinesSink(out, on_closed=lambda: gone.append(True))
    sink(Output("s", 1, 1))
    await asyncio.sleep(0)
    sink(Output("s", 2, 2))
    sink.flush()
    sink.close()
    assert gone == [True] and sink.reader_gone
