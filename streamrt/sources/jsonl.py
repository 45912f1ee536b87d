"""JSON Lines sources: ``jsonl:PATH`` (or a path ending in ``.jsonl``) and ``-`` (stdin).

Theory of operation: both read blocks of bytes and split them into lines themselves, so every line's byte offset is
known. Each non-blank line is parsed into language values (:mod:`streamrt.sources.decode`); a line that is not JSON becomes a
:class:`ChunkFault` naming the file and line. Every item carries ``{"line": n, "offset": bytes_after_line_n}``.

Files are read in worker threads in 256 KiB blocks: measured on a 43 MB file, reading in the loop took 19 ms in all
but a single 64 KiB read can stall on a cold cache or a network file system; thread reads cost 25-48 ms in all
(against about a second to parse the lines) and never stall the loop. A regular file is read one block ahead (the
next read starts as a block is returned), so the stream does not wait for the thread between blocks; a pipe or a
device is read only when asked, as a read there waits for its writer. The file is closed only between reads
(:class:`_BlockFile`), by :meth:`JsonlSource.aclose`, which waits for a regular file's read in flight, or by the
thread of a pipe's read in flight when it returns: never under a read, never left to the event loop. A resume seeks
straight to ``offset`` after checking that the file still reaches it at a line boundary (a file that shrank or
changed is a :class:`SourceError`, not a silent wrong position).

Stdin is read by a daemon thread with ``os.read``: it works for pipes, terminals and redirected files alike, never
sets stdin non-blocking (which would leak to the parent shell), and a read blocked on a terminal cannot keep the
process from exiting. Stdin cannot seek: a resumed stdin stream reads what stdin holds now, numbering lines on from
the stored ``line``.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import functools
import itertools
import os
import queue
import select
import stat
import threading
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import IO, Any, Final, TypeVar

from streamrt.errors import SourceError
from streamrt.meta import LINE, SOURCE
from streamrt.sources.base import Chunk, ChunkFault, ChunkRun, Continuation, Item, Source, bounded_raw
from streamrt.sources.decode import LoneSurrogateError, json_value, json_values
from streamrt.sources.paths import jsonl_path
from streamrt.values import Keyword

__all__ = ["BATCH_LINES", "BLOCK_SIZE", "JsonlSource", "StdinSource"]

T = TypeVar("T")

BLOCK_SIZE: Final = 256 * 1024
BATCH_LINES: Final = 64
"""Lines decoded and handed over together. A block holds thousands of lines; decoding them all at once kept their
values, metadata and items alive (through several of the garbage collector's young collections, into its oldest
generation, whose full collections they then paid for) while the queue took 32 at a time. 64 lines at a time die
young: ``gc`` hardly runs, and a no-op processor over 200,000 weather lines took 0.62 s of CPU instead of 0.90."""


def _start_line(uri: str, continuation: Continuation | None) -> tuple[int, int]:
    """``(line, offset)`` to resume from, validated."""
    if not continuation:
        return 0, 0
    line = continuation.get("line", 0)
    offset = continuation.get("offset", 0)
    if not isinstance(line, int) or not isinstance(offset, int) or line < 0 or offset < 0:
        raise SourceError(
            f"{uri}: bad continuation {continuation!r} (expected {{'line': int, 'offset': int}})"
        )
    return line, offset


def _continuation_after(line: int, offset: int, lines: list[bytes], i: int) -> Continuation:
    """The continuation after ``lines[i]``, the lines following line ``line`` that ends at ``offset``."""
    return {"line": line + i + 1, "offset": offset + i + 1 + sum(map(len, itertools.islice(lines, i + 1)))}


def _line_metas(kind: str, line: int, count: int) -> list[dict[Keyword, Any]]:
    """The metadata of ``count`` lines after line ``line``, made only when something of the stream sees it (see
    :meth:`~streamrt.runtime.reading.SourceReader.meta_seen`): 3% of a no-op run over 200,000 lines."""
    return [{LINE: n, SOURCE: kind} for n in range(line + 1, line + count + 1)]


class _LineSource(Source):
    """Splits blocks from :meth:`_read` into JSON lines, tracking line numbers and byte offsets."""

    label = "?"

    def __init__(self, uri: str, continuation: Continuation | None = None) -> None:
        super().__init__(uri, continuation)
        self._line, self._offset = _start_line(uri, continuation)

    @abc.abstractmethod
    async def _read(self) -> bytes:
        """The next block; ``b""`` at the end."""

    def _batch(self, lines: list[bytes]) -> Sequence[Item]:
        """The items of complete lines (each without its ``\n``, which is counted in the offsets): a
        :class:`ChunkRun` when every line is a JSON value (the usual case: no item, continuation or step per line),
        else :meth:`_items`' list, where a blank line is skipped and a bad one is a fault."""
        try:
            values = json_values(lines)
        except ValueError:
            return self._items(lines)
        line = self._line
        offset = self._offset
        count = len(lines)
        self._line = line + count
        self._offset = offset + count + sum(map(len, lines))
        return ChunkRun(
            values,
            functools.partial(_line_metas, self.kind, line, count),
            functools.partial(_continuation_after, line, offset, lines),
        )

    def _items(self, lines: list[bytes]) -> list[Item]:
        """The items of complete lines, one by one."""
        out: list[Item] = []
        append = out.append
        line = self._line
        offset = self._offset
        kind = self.kind
        for raw in lines:
            line += 1
            offset += len(raw) + 1
            if not raw.strip():
                continue
            meta = {LINE: line, SOURCE: kind}
            try:
                value = json_value(raw)
            except ValueError as err:
                append(self._fault(raw, err, line, meta, {"line": line, "offset": offset}))
                continue
            append(Chunk(value, meta, {"line": line, "offset": offset}))
        self._line = line
        self._offset = offset
        return out

    def _last(self, raw: bytes) -> Item | None:
        """The item of a final line without a newline."""
        self._line += 1
        self._offset += len(raw)
        cont = {"line": self._line, "offset": self._offset}
        if not raw.strip():
            return None
        meta = {LINE: self._line, SOURCE: self.kind}
        try:
            value = json_value(raw)
        except ValueError as err:
            return self._fault(raw, err, self._line, meta, cont)
        return Chunk(value, meta, cont)

    def _fault(
        self, raw: bytes, err: ValueError, line: int, meta: dict[Keyword, Any], cont: Continuation
    ) -> ChunkFault:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        what = "not valid Unicode" if isinstance(err, LoneSurrogateError) else "not JSON"
        text = bounded_raw(raw.rstrip(b"\r\n"))
        return ChunkFault(f"{self.label}:{line}: {what}: {message}", meta, cont, text)

    async def item_batches(self) -> AsyncGenerator[Sequence[Item], None]:
        """The items of each block read, :data:`BATCH_LINES` lines at a time: its complete lines (a line cut by the
        block's end waits for the next)."""
        self.health.set("connected")
        pending = b""
        while True:
            block = await self._read()
            if not block:
                break
            lines = (pending + block).split(b"\n") if pending else block.split(b"\n")
            pending = lines.pop()
            for start in range(0, len(lines), BATCH_LINES):
                items = self._batch(lines[start : start + BATCH_LINES])
                if items:
                    yield items
        if pending:
            item = self._last(pending)
            if item is not None:
                yield [item]
        self.health.set("ended")

    async def items(self) -> AsyncGenerator[Item, None]:
        async for batch in self.item_batches():
            for item in batch:
                yield item


class _BlockFile:
    """A file read in worker threads, closed only between reads.

    A read that was cancelled (its task was, or its source was closed) goes on in its thread: closing the file under
    it could have it read another file that took the descriptor's number. So a read marks itself in flight, and
    :meth:`close` with a read in flight leaves the file to that read, whose thread closes it as it returns (without
    the event loop, which may have ended by then); a read asked for after :meth:`close` reads nothing."""

    __slots__ = ("_closing", "_file", "_lock", "_reading")

    def __init__(self, f: IO[bytes]) -> None:
        self._file = f
        self._lock = threading.Lock()
        self._reading = False
        self._closing = False

    @property
    def closed(self) -> bool:
        return self._file.closed

    def run(self, work: Callable[[IO[bytes]], T]) -> T | None:
        """``work(file)`` in the calling (worker) thread; None, without calling it, once the file is closing."""
        with self._lock:
            if self._closing:
                return None
            self._reading = True
        try:
            return work(self._file)
        finally:
            with self._lock:
                self._reading = False
                if self._closing:
                    self._file.close()

    def read(self) -> bytes:
        """The next block (in a worker thread); ``b""`` at the end and once the file is closing."""
        return self.run(_read_block) or b""

    def read_cached(self) -> bytes | None:
        """The next block if the page cache holds it, read in the calling thread (the event loop's) by a read that
        cannot wait for the disk (``RWF_NOWAIT``); None when it would have to wait (or cannot tell), the file is
        closing or a read is in flight. A block read in the loop costs no thread hop: under load a thread's
        wake-up and the GIL's hand-over took 6-12 ms a block, there and back."""
        if self._reading or self._closing or not _NOWAIT:
            return None
        f = self._file
        buf = bytearray(BLOCK_SIZE)
        try:
            pos = f.tell()
            n = os.preadv(f.fileno(), [buf], pos, _NOWAIT)
        except OSError:  # not in the cache (EAGAIN), or not supported here: the thread reads it
            return None
        f.seek(pos + n)
        return bytes(buf[:n]) if n < BLOCK_SIZE else bytes(buf)

    def close(self) -> None:
        """Close the file now, or, with a read in flight, as that read returns (in its thread)."""
        with self._lock:
            self._closing = True
            if not self._reading:
                self._file.close()


_NOWAIT: Final = getattr(os, "RWF_NOWAIT", 0)
"""``preadv``'s flag for a read that fails rather than wait for the disk (Linux 4.14); 0 where there is none."""


def _read_block(f: IO[bytes]) -> bytes:
    return f.read(BLOCK_SIZE)


class JsonlSource(_LineSource):
    """A JSON Lines file, resumable at a byte offset."""

    kind = "jsonl"

    def __init__(self, uri: str, continuation: Continuation | None = None) -> None:
        super().__init__(uri, continuation)
        self.path = jsonl_path(uri)
        self.label = self.path
        self._file: _BlockFile | None = None
        self._regular = False
        """Whether the file is a regular file (read one block ahead); a pipe or a device is read when asked."""
        self._read_next: asyncio.Future[bytes] | None = None
        """The read in flight: the next block of a regular file, or a read whose caller was cancelled."""

    async def open(self) -> None:
        if self._file is not None:
            return
        try:
            f, self._regular = await asyncio.to_thread(_open_file, self.path)
        except FileNotFoundError:
            raise SourceError(f"{self.path}: no such file") from None
        except IsADirectoryError:
            raise SourceError(f"{self.path}: is a directory, not a JSON Lines file") from None
        except OSError as err:
            raise SourceError(f"{self.path}: cannot open: {err.strerror or err}") from None
        self._file = _BlockFile(f)
        if self._offset:
            try:
                await asyncio.to_thread(self._file.run, self._seek)
            except BaseException:
                await self.aclose()
                raise

    def _seek(self, f: IO[bytes]) -> None:
        """Seek to the resume offset, checking the file still has a line boundary there."""
        offset = self._offset
        size = os.fstat(f.fileno()).st_size
        if size < offset:
            raise SourceError(
                f"{self.path}: the file shrank to {size} bytes since line {self._line} (offset {offset});"
                " cannot resume from the stored position"
            )
        f.seek(offset - 1)
        around = f.read(2)
        if around[:1] == b"\n":
            f.seek(offset)
        elif offset == size or around[1:2] == b"\n":
            # The stored last line had no newline; if one was appended since, step over it.
            f.seek(min(offset + 1, size))
            self._offset = min(offset + 1, size)
        else:
            raise SourceError(
                f"{self.path}: offset {offset} (after line {self._line}) is no longer a line boundary;"
                " the file changed since the snapshot"
            )

    async def _read(self) -> bytes:
        """The next block. A regular file's block in the page cache is read right here (:meth:`_BlockFile.read_cached`,
        no thread); one that is not, or where that cannot be told, by a thread, which then reads the next block
        ahead, so the stream does not wait for the thread between blocks (200,000 lines: 60-95 ms of waits, 1-23 ms
        ahead); a pipe or a device is read by a thread only when asked, as a read there may wait for its writer."""
        if self._file is None:
            await self.open()
        f = self._file
        assert f is not None
        loop = asyncio.get_running_loop()
        reading = self._read_next
        ahead = self._regular
        if reading is None:
            if ahead and _NOWAIT:
                cached = f.read_cached()
                if cached is not None:
                    return cached
            reading = self._read_next = loop.run_in_executor(None, f.read)
        elif _NOWAIT:
            ahead = False  # the block read ahead after a miss: the next is tried in the cache first
        # cancelled meanwhile: the read stays in ``_read_next`` for aclose
        block: bytes = await asyncio.shield(reading)
        self._read_next = loop.run_in_executor(None, f.read) if block and ahead else None
        return block

    async def aclose(self) -> None:
        """Close the file: a regular file's read in flight (one bounded block) is waited for first; a pipe's may
        wait for its writer, so that read closes the file as it returns (see :class:`_BlockFile`)."""
        f, self._file = self._file, None
        reading, self._read_next = self._read_next, None
        if f is None:
            return
        try:
            if reading is not None and self._regular:
                with contextlib.suppress(Exception):
                    await asyncio.shield(reading)
        finally:
            f.close()
            if reading is not None and not self._regular:
                # an error of the read nobody waits for is not logged as lost
                reading.add_done_callback(_ignore_outcome)


def _open_file(path: str) -> tuple[IO[bytes], bool]:
    """``path`` opened for reading, and whether it is a regular file."""
    f = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by the source
    try:
        return f, stat.S_ISREG(os.fstat(f.fileno()).st_mode)
    except BaseException:
        f.close()
        raise


def _ignore_outcome(read: asyncio.Future[bytes]) -> None:
    if not read.cancelled():
        read.exception()


class _DaemonReader:
    """Reads a file descriptor in a daemon thread, one block per request, so backpressure reaches the reads."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._requests: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, asyncio.Future[bytes]] | None]
        self._requests = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False

    async def read(self) -> bytes:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bytes] = loop.create_future()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"streamrt-stdin-{self._fd}", daemon=True)
            self._thread.start()
        self._requests.put((loop, fut))
        return await fut

    def close(self) -> None:
        self._closed = True
        if self._thread is not None:
            self._requests.put(None)

    def _run(self) -> None:
        while (request := self._requests.get()) is not None:
            loop, fut = request
            if self._closed:
                # asked for before the close (its caller was cancelled): the descriptor is no longer ours to read
                self._deliver(loop, fut, b"", None)
                continue
            try:
                data = self._read_blocking()
            except OSError as err:
                self._deliver(loop, fut, None, err)
            else:
                self._deliver(loop, fut, data, None)

    def _read_blocking(self) -> bytes:
        while True:
            try:
                return os.read(self._fd, BLOCK_SIZE)
            except BlockingIOError:
                select.select([self._fd], [], [])

    @staticmethod
    def _deliver(
        loop: asyncio.AbstractEventLoop, fut: asyncio.Future[bytes], data: bytes | None, err: OSError | None
    ) -> None:
        def settle() -> None:
            if fut.done():
                return
            if err is not None:
                fut.set_exception(err)
            else:
                fut.set_result(data or b"")

        with contextlib.suppress(RuntimeError):  # the loop closed while we were reading
            loop.call_soon_threadsafe(settle)


class StdinSource(_LineSource):
    """JSON Lines from standard input (or any readable file descriptor, for tests and embedding)."""

    kind = "stdin"

    def __init__(self, uri: str = "-", continuation: Continuation | None = None, *, fd: int = 0) -> None:
        super().__init__(uri, continuation)
        self.label = "<stdin>"
        self._offset = 0  # stdin cannot seek: offsets count bytes read by this source
        self._reader = _DaemonReader(fd)

    async def _read(self) -> bytes:
        try:
            return await self._reader.read()
        except OSError as err:
            raise SourceError(f"<stdin>: read failed: {err.strerror or err}") from None

    async def aclose(self) -> None:
        self._reader.close()
