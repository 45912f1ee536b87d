"""JSON Lines files and stdin, and the mock source."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest

from streamrt.errors import SourceError
from streamrt.sources import Chunk, ChunkFault, Item, jsonl, open_source
from streamrt.sources.jsonl import (
    BATCH_LINES,
    BLOCK_SIZE,
    JsonlSource,
    StdinSource,
    _BlockFile,
    _DaemonReader,
)
from streamrt.sources.mock import MockSource
from streamrt.values import Keyword
from tests.sources.helpers import drain

LINE = Keyword("line")
SEQ = Keyword("seq")


def values(items: list[Item]) -> list[Any]:
    """The values of items that must all be chunks."""
    assert all(isinstance(i, Chunk) for i in items), items
    return [i.value for i in items if isinstance(i, Chunk)]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


async def test_lines_become_chunks_with_line_numbers(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", ['{"a": 1, "b": [1, 2]}', "", "   ", "42", '"text"'])
    items = await drain(open_source(str(path)))
    assert values(items) == [{Keyword("a"): 1, Keyword("b"): (1, 2)}, 42, "text"]
    assert [i.meta[LINE] for i in items] == [1, 4, 5]
    assert items[-1].continuation == {"line": 5, "offset": path.stat().st_size}


async def test_a_bad_line_is_a_fault_naming_file_and_line_and_reading_goes_on(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "bad.jsonl", ['{"ok": 1}', "{not json", '{"ok": 3}'])
    items = await drain(open_source(f"jsonl:{path}"))
    assert [type(i).__name__ for i in items] == ["Chunk", "ChunkFault", "Chunk"]
    fault = items[1]
    assert isinstance(fault, ChunkFault)
    assert fault.message.startswith(f"{path}:2: not JSON")
    assert fault.meta[LINE] == 2


async def test_resume_seeks_to_the_offset_after_the_last_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "r.jsonl", [json.dumps({"seq": i}) for i in range(1, 11)])
    first = await drain(JsonlSource(str(path)), limit=4)
    cont = first[-1].continuation
    assert cont is not None and cont["line"] == 4
    rest = await drain(JsonlSource(str(path), cont))
    assert [v[SEQ] for v in values(first + rest)] == list(range(1, 11))
    assert [i.meta[LINE] for i in rest] == list(range(5, 11))


async def test_resume_after_an_unterminated_last_line_that_was_since_completed(tmp_path: Path) -> None:
    path = tmp_path / "grow.jsonl"
    path.write_bytes(b'{"seq": 1}\n{"seq": 2}')
    first = await drain(JsonlSource(str(path)))
    with path.open("ab") as f:
        f.write(b'\n{"seq": 3}\n')
    rest = await drain(JsonlSource(str(path), first[-1].continuation))
    assert [v[SEQ] for v in values(rest)] == [3]
    assert rest[0].meta[LINE] == 3


async def test_resume_on_a_file_that_shrank_is_an_error(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "s.jsonl", [json.dumps({"seq": i}) for i in range(1, 6)])
    items = await drain(JsonlSource(str(path)))
    write_lines(path, ['{"seq": 1}'])
    with pytest.raises(SourceError, match="shrank"):
        await drain(JsonlSource(str(path), items[-1].continuation))


async def test_resume_at_an_offset_that_is_no_longer_a_line_boundary_is_an_error(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "c.jsonl", ['{"seq": 1}', '{"seq": 2}'])
    items = await drain(JsonlSource(str(path)), limit=1)
    write_lines(path, ['{"seq": 100}', '{"seq": 2}'])
    with pytest.raises(SourceError, match="no longer a line boundary"):
        await drain(JsonlSource(str(path), items[0].continuation))


async def test_lines_longer_than_a_block_and_crlf(tmp_path: Path) -> None:
    big = "y" * (BLOCK_SIZE * 2 + 17)
    path = tmp_path / "long.jsonl"
    path.write_bytes(f'{{"big": "{big}"}}\r\n{{"seq": 2}}\r\n'.encode())
    items = await drain(JsonlSource(str(path)))
    assert values(items) == [{Keyword("big"): big}, {SEQ: 2}]
    assert items[1].continuation == {"line": 2, "offset": path.stat().st_size}


async def test_a_block_is_handed_over_a_few_lines_at_a_time_in_order(tmp_path: Path) -> None:
    # a block's thousands of lines decoded at once outlive the garbage collector's young generations (see BATCH_LINES)
    count = BATCH_LINES * 3 + 5
    path = write_lines(tmp_path / "many.jsonl", [json.dumps({"seq": i}) for i in range(1, count + 1)])
    source = JsonlSource(str(path))
    async with source:
        batches = [batch async for batch in source.item_batches()]
    assert [len(b) for b in batches] == [BATCH_LINES, BATCH_LINES, BATCH_LINES, 5]
    items = [item for batch in batches for item in batch]
    assert [v[SEQ] for v in values(items)] == list(range(1, count + 1))
    assert [i.continuation["line"] for i in items if i.continuation] == list(range(1, count + 1))
    assert items[-1].continuation == {"line": count, "offset": path.stat().st_size}


async def test_runs_of_good_lines_and_batches_with_blank_or_bad_lines_give_the_same_items(
    tmp_path: Path,
) -> None:
    lines = [json.dumps({"seq": i, "tags": ["a", i]}) for i in range(1, BATCH_LINES * 4)]
    lines[BATCH_LINES + 3] = "   "  # blank: skipped, counted
    lines[BATCH_LINES * 2 + 1] = "1,[2"  # bad alone, and would be good joined with the next line
    lines[BATCH_LINES * 2 + 2] = "3]"
    lines.append('"last, no newline"')
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    source = JsonlSource(str(path))
    async with source:
        batches = [batch async for batch in source.item_batches()]
    assert [type(b).__name__ for b in batches] == ["ChunkRun", "list", "list", "ChunkRun", "list"]
    got = [item for batch in batches for item in batch]
    # the same lines one by one, as the items the source made before runs
    one_by_one = JsonlSource(str(path))
    want = [*one_by_one._items([line.encode() for line in lines[:-1]]), one_by_one._last(lines[-1].encode())]
    assert got == want
    data = path.read_bytes()
    for item in got:
        assert item.continuation is not None
        line, offset = item.continuation["line"], item.continuation["offset"]
        assert data[:offset].count(b"\n") == line or offset == len(data)
    assert [type(i).__name__ for i in got].count("ChunkFault") == 2
    assert got[-1].continuation == {"line": len(lines), "offset": len(data)}


@pytest.fixture
def big_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file of several blocks, read by the thread block by block (no RWF_NOWAIT): a read is in flight while a
    block's lines are taken."""
    monkeypatch.setattr(jsonl, "_NOWAIT", 0)
    return write_lines(
        tmp_path / "big.jsonl", [json.dumps({"pad": "x" * 100, "seq": i}) for i in range(5000)]
    )


async def test_a_file_is_read_a_block_ahead_and_closed_by_aclose_after_the_read_in_flight(
    big_file: Path,
) -> None:
    path = big_file
    assert path.stat().st_size > 2 * BLOCK_SIZE
    source = JsonlSource(str(path))
    async with source:
        batches = source.item_batches()
        first = await anext(batches)
        assert source._read_next is not None, "the next block is read while the first one's lines are taken"
        reading = source._read_next
        f = source._file
        assert f is not None
        await batches.aclose()
    # closed by aclose itself, after the read in flight returned: nothing is left to a callback of the event loop
    assert reading.done()
    assert f.closed
    assert first[0].value[SEQ] == 0


def test_a_source_closed_with_a_read_in_flight_leaves_no_open_file_when_its_loop_ends_at_once(
    big_file: Path,
) -> None:
    path = big_file
    files: list[Any] = []

    async def main() -> None:
        source = JsonlSource(str(path))
        async with source:
            batches = source.item_batches()
            await anext(batches)
            files.append(source._file)
            await batches.aclose()

    loop = asyncio.new_event_loop()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            loop.run_until_complete(main())
    finally:
        loop.close()  # without waiting for the executor's threads, as a loop may end
    assert files[0].closed


async def test_a_read_cancelled_in_flight_is_awaited_by_aclose_before_the_file_is_closed(
    big_file: Path,
) -> None:
    path = big_file
    source = JsonlSource(str(path))
    await source.open()
    f = source._file
    assert f is not None
    task = asyncio.ensure_future(source._read())
    await asyncio.sleep(0)  # the read is in its thread
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    reading = source._read_next
    assert reading is not None, "the cancelled read is kept for aclose"
    await source.aclose()
    assert reading.done() and f.closed


async def read_all(path: Path) -> list[tuple[Any, Any, Any]]:
    items = await drain(JsonlSource(str(path)))
    return [(getattr(i, "value", None), i.meta, i.continuation) for i in items]


@pytest.mark.skipif(not getattr(os, "RWF_NOWAIT", 0), reason="preadv's RWF_NOWAIT")
async def test_cached_blocks_are_read_in_the_loop_and_a_miss_by_the_thread_which_reads_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [json.dumps({"pad": "x" * (i % 300), "seq": i}) for i in range(8000)] + [
        "{bad",
        "",
        '{"seq": -1}',
    ]
    path = write_lines(tmp_path / "big.jsonl", lines)
    assert path.stat().st_size > 4 * BLOCK_SIZE
    cached = await read_all(path)
    monkeypatch.setattr(jsonl, "_NOWAIT", 0)
    threaded = await read_all(path)
    assert cached == threaded, "the same lines, faults, metadata and offsets, however the blocks were read"
    monkeypatch.undo()

    reads = {"cache": 0, "missed": 0}
    preadv = os.preadv

    def every_other_misses(fd: int, buffers: Any, offset: int, flags: int = 0) -> int:
        reads["cache"] += 1
        if reads["cache"] % 2 == 1:
            reads["missed"] += 1
            raise BlockingIOError(11, "not in the page cache")
        return preadv(fd, buffers, offset, flags)

    monkeypatch.setattr(os, "preadv", every_other_misses)
    source = JsonlSource(str(path))
    async with source:
        batches = source.item_batches()
        await anext(batches)
        assert reads["missed"] == 1
        assert source._read_next is not None, "after a miss the thread reads the next block ahead"
        await batches.aclose()
    assert await read_all(path) == cached
    assert reads["cache"] > 3


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
async def test_a_named_pipe_is_not_read_ahead_and_a_read_in_flight_closes_it_as_it_returns(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "feed.jsonl"
    os.mkfifo(fifo)
    writer = await asyncio.to_thread(_open_writer, fifo)  # the source's open waits for a writer
    try:
        source = JsonlSource(str(fifo))
        opening = asyncio.ensure_future(source.open())
        os.write(writer, b'{"seq": 1}\n')
        await opening
        batches = source.item_batches()
        first = await anext(batches)
        assert [c.value for c in first] == [{SEQ: 1}]
        assert source._read_next is None, "a read of a pipe waits for its writer: only when the stream asks"
        f = source._file
        assert f is not None
        waiting = asyncio.ensure_future(anext(batches))
        await asyncio.sleep(0.05)  # the read waits for the writer in its thread
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        await source.aclose()  # does not wait for the writer
        assert not f.closed, "never closed under the read in flight"
        os.write(writer, b'{"seq": 2}\n')
        for _ in range(500):  # the read returns in its thread and closes the file there
            if f.closed:
                break
            await asyncio.sleep(0.01)
        assert f.closed
    finally:
        os.close(writer)


def _open_writer(path: Path) -> int:
    return os.open(path, os.O_RDWR)  # read-write: does not wait for a reader


class _HeldFile:
    """A file whose read waits until the test lets it return."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.reads = 0
        self.closed = False

    def read(self, n: int) -> bytes:
        self.reads += 1
        self.started.set()
        assert self.release.wait(10)
        assert not self.closed, "read from a closed file"
        return b"x"

    def close(self) -> None:
        self.closed = True


def test_a_block_file_is_closed_between_reads_never_under_one() -> None:
    held = _HeldFile()
    blocks = _BlockFile(held)  # type: ignore[arg-type]
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(blocks.read()))
    reader.start()
    assert held.started.wait(10)
    blocks.close()  # returns at once, with the read in flight
    assert not held.closed
    held.release.set()
    reader.join(10)
    assert got == [b"x"]
    assert held.closed, "the read's thread closed it as it returned"
    assert blocks.read() == b"" and held.reads == 1, "a read asked for after close reads nothing"


def test_a_block_file_without_a_read_in_flight_is_closed_at_once() -> None:
    held = _HeldFile()
    blocks = _BlockFile(held)  # type: ignore[arg-type]
    blocks.close()
    assert held.closed
    assert blocks.read() == b"" and held.reads == 0


async def test_stdin_reads_asked_for_before_close_and_not_started_do_not_read() -> None:
    read_fd, write_fd = os.pipe()
    try:
        reader = _DaemonReader(read_fd)
        first = asyncio.ensure_future(reader.read())
        second = asyncio.ensure_future(reader.read())
        await asyncio.sleep(0.05)  # the first read waits for the writer in its thread, the second is queued
        second.cancel()
        reader.close()
        os.write(write_fd, b"a")
        assert await asyncio.wait_for(first, 10) == b"a", "the read in flight ends as usual"
        os.write(write_fd, b"b")
        assert reader._thread is not None
        await asyncio.to_thread(reader._thread.join, 10)
        assert not reader._thread.is_alive()
        os.set_blocking(read_fd, False)
        assert os.read(read_fd, 10) == b"b", "the read asked for before the close did not take it"
    finally:
        os.close(read_fd)
        os.close(write_fd)


async def test_a_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").mkdir()
    with pytest.raises(SourceError, match="not a file"):
        open_source(str(tmp_path / "d.jsonl"))


async def test_stdin_from_a_pipe_written_in_pieces() -> None:
    read_fd, write_fd = os.pipe()
    source = StdinSource(fd=read_fd)
    got: list[Item] = []

    async def consume() -> None:
        got.extend(await drain(source))

    task = asyncio.create_task(consume())
    try:
        os.write(write_fd, b'{"seq": 1}\n{"se')
        os.write(write_fd, b'q": 2}\nnope\n{"seq": 4}')
    finally:
        os.close(write_fd)
    await asyncio.wait_for(task, timeout=10)
    os.close(read_fd)
    assert [type(i).__name__ for i in got] == ["Chunk", "Chunk", "ChunkFault", "Chunk"]
    assert isinstance(got[2], ChunkFault) and got[2].message.startswith("<stdin>:3: not JSON")
    assert got[3].meta[LINE] == 4 and got[3].meta[Keyword("source")] == "stdin"


def test_stdin_in_a_subprocess() -> None:
    script = textwrap.dedent(
        """
        import asyncio, json
        from streamrt.sources import Chunk, open_source
        from streamrt.jsoncodec import to_json

        async def main():
            async with open_source("-") as source:
                async for item in source.items():
                    kind = "chunk" if isinstance(item, Chunk) else "fault"
                    print(json.dumps([kind, to_json(getattr(item, "value", None)), item.continuation]))

        asyncio.run(main())
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        input=b'{"seq": 1}\n\n[1, 2]\n{broken\n',
        capture_output=True,
        timeout=30,
        check=True,
    )
    rows = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert rows == [
        ["chunk", {"seq": 1}, {"line": 1, "offset": 11}],
        ["chunk", [1, 2], {"line": 3, "offset": 19}],
        ["fault", None, {"line": 4, "offset": 27}],
    ]


async def test_mock_counts_and_resumes() -> None:
    items = await drain(open_source("mock:ticks?count=5"))
    assert values(items) == [{SEQ: n, Keyword("payload"): f"mock-payload-{n}"} for n in range(1, 6)]
    assert items[-1].continuation == {"seq": 5}
    rest = await drain(open_source("mock:ticks?count=5", continuation={"seq": 3}))
    assert [v[SEQ] for v in values(rest)] == [4, 5]


async def test_mock_defaults_empty_and_endless() -> None:
    assert len(await drain(MockSource("mock:x"))) == 10
    assert await drain(MockSource("mock:x?count=0")) == []
    endless = MockSource("mock:x?count=inf")
    assert endless.finite is False
    assert len(await drain(endless, limit=1000)) == 1000


async def test_mock_interval_spaces_chunks() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    items = await drain(MockSource("mock:x?count=3&interval_ms=50"))
    assert len(items) == 3
    assert loop.time() - start >= 0.1


@pytest.mark.parametrize(
    "uri",
    [
        pytest.param("mock:x?count=-1", id="negative"),
        pytest.param("mock:x?count=2.5", id="fraction"),
        pytest.param("mock:x?count=many", id="not-a-number"),
        pytest.param("mock:x?speed=3", id="unknown-option"),
    ],
)
def test_mock_bad_options(uri: str) -> None:
    with pytest.raises(SourceError, match="mock"):
        MockSource(uri)
