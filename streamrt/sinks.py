"""Where ``streamrt run`` writes outputs: sink types by URI scheme, built in or from other packages.

| URI (``--sink``) | sink |
|---|---|
| ``-`` (the default) | one JSON object per line on standard output: ``{"stream": ID, "seq": N, "output": VALUE}`` |
| ``jsonl:PATH``, ``PATH.jsonl`` | the same lines, appended to a file |

A sink is a callable taking each :class:`~streamrt.runtime.outputs.Output` in order (the provider's
:meth:`~streamrt.runtime.provider.Provider.add_sink` contract) with a ``close()`` the command calls once the streams
have ended. Other packages add schemes through the ``streamrt.sinks`` entry-point group (a :class:`SinkType` per
scheme; see ``docs/architecture.md``, "Ports"), looked up as :class:`streamrt.plugins.Registry` describes. The sink
is the host's choice, not the script's, so no effect check applies to it.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import IO, Final, Protocol, TextIO

import msgspec

from streamrt.errors import SinkError, UsageError
from streamrt.jsoncodec import to_json_bytes, to_json_text
from streamrt.plugins import Registry, scheme_of
from streamrt.runtime.events import Observer, StatusChange
from streamrt.runtime.outputs import Output

__all__ = [
    "FLUSH_BYTES",
    "SINKS",
    "JsonLinesSink",
    "OutputSink",
    "SinkFlushes",
    "SinkRequest",
    "SinkType",
    "open_sink",
    "output_bytes",
    "output_line",
]

_STDOUT: Final = "-"


class OutputSink(Protocol):
    """What a sink type opens: called with each output, in order; closed once when the run ends."""

    def __call__(self, output: Output) -> None: ...

    def close(self) -> None: ...


class SinkRequest(msgspec.Struct, frozen=True):
    """What a sink type's opener is given."""

    uri: str
    scheme: str
    """Lower case; ``"jsonl"`` for a plain path ending in ``.jsonl``, ``"-"`` for standard output."""
    stdout: TextIO
    """The command's standard output (tests and embedding hosts pass their own)."""
    env: Mapping[str, str]
    on_closed: Callable[[], None] | None = None
    """Called once when the sink finds its reader gone (a closed pipe); the sink drops what comes after."""


class SinkType(msgspec.Struct, frozen=True):
    """How to open the sinks of one URI scheme."""

    open: Callable[[SinkRequest], OutputSink]
    usage: str = ""
    """How its URIs look, for messages: ``"jsonl:PATH, PATH.jsonl"``."""


def output_line(output: Output) -> str:
    """One output as the JSON line ``streamrt run`` prints (without the newline)."""
    return to_json_text({"stream": output.stream_id, "seq": output.seq, "output": output.value})


def output_bytes(output: Output) -> bytes:
    """:func:`output_line` encoded as UTF-8, with the newline (a value that cannot be UTF-8 raises here)."""
    return _LinePrefixes().line(output)


_PREFIXES: Final = 4096
"""Stream prefixes kept at most (a run of more streams encodes some again, and holds no more memory)."""


class _LinePrefixes:
    """Encodes output lines: ``{"stream":ID,"seq":`` is the same bytes for every output of a stream, so it is
    encoded once per stream; only the value is encoded per output (not an envelope map around it, which the
    codec would check and walk again)."""

    __slots__ = ("_prefixes",)

    def __init__(self) -> None:
        self._prefixes: dict[str, bytes] = {}

    def line(self, output: Output) -> bytes:
        prefix = self._prefixes.get(output.stream_id)
        if prefix is None:
            prefix = b'{"stream":%b,"seq":' % to_json_bytes(output.stream_id)
            if len(self._prefixes) >= _PREFIXES:
                self._prefixes.clear()
            self._prefixes[output.stream_id] = prefix
        return b'%b%d,"output":%b}\n' % (prefix, output.seq, to_json_bytes(output.value))


FLUSH_BYTES: Final = 256 * 1024
"""Encoded lines a sink holds at most before it writes them, whatever else happens."""

FLUSH_AFTER: Final = 0.05
"""Seconds a line is held at most: a processor busy on a long chunk after an output does not hold the output back
(a watcher thread writes it)."""


def _binary_of(out: TextIO | IO[str]) -> IO[bytes] | None:
    """The binary stream under a UTF-8 text stream, which the sink writes its (UTF-8) lines to without decoding
    them; None for a text stream without one (``io.StringIO``) or of another encoding."""
    raw = getattr(out, "buffer", None)
    encoding = getattr(out, "encoding", None)
    if raw is None or not isinstance(encoding, str):
        return None
    try:
        utf8 = codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return None
    return raw if utf8 and getattr(out, "errors", "strict") == "strict" else None


class JsonLinesSink:
    """Outputs as JSON lines on a text stream, written in batches and flushed so a consumer sees them promptly.

    Each output is encoded when it comes (a value that cannot be written fails the stream that emitted it, as
    before) and kept; what is kept is written in one write and flushed after each processed batch and each change
    of status (:class:`SinkFlushes` tells it: so a snapshot never counts an output not yet written), when
    :data:`FLUSH_BYTES` are kept, when the event loop next runs (an output emitted outside a batch: ``:on-end``, a
    timer), and by a watcher thread once a line has been kept :data:`FLUSH_AFTER` seconds (a chunk that runs long
    after an output). On a terminal every output is written at once, as a person watches it. The lines are UTF-8
    bytes from the encoder on; on a UTF-8 text stream with a binary buffer under it (standard output, a file)
    they are written to that buffer as they are (the text layer is flushed first, so nothing written through it
    comes out of order).

    Theory of operation: only the event loop's thread adds lines, to a deque (an append is atomic), and takes no
    lock for it; whoever writes (the loop's thread at a flush, the watcher thread for a held line) takes the write
    lock, takes every line from the deque's front and writes them, so lines come out in the order they were added
    and none is written twice or lost. The loop's thread alone schedules the next-turn flush and notes when the
    first line after a flush was kept; the watcher only reads that.

    A reader that goes away (``streamrt run ... | head -2``) is not the stream's failure: with ``on_closed`` the
    sink calls it once (on the event loop's thread), drops what comes after, and the run ends as on a signal, its
    streams left resumable. Without it the BrokenPipeError is the sink's failure, as before. A write that fails
    later than the output it holds (a full disk) fails the next output's stream, or the close.
    """

    def __init__(
        self, out: TextIO | IO[str], *, owned: bool = False, on_closed: Callable[[], None] | None = None
    ) -> None:
        self.out = out
        self._binary = _binary_of(out)
        self._owned = owned
        self._on_closed = on_closed
        self.reader_gone = False
        isatty = getattr(out, "isatty", None)
        self._batched = not (isatty is not None and isatty())
        self._line = _LinePrefixes().line
        self._kept: deque[bytes] = deque()
        self._size = 0
        """Bytes kept since the loop's thread last wrote (the watcher writing in between leaves it high: it only
        brings the next write forward)."""
        self._kept_at = 0.0
        self._scheduled = False
        self._failure: OSError | None = None
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watcher: threading.Thread | None = None
        self._closed = threading.Event()

    def __call__(self, output: Output) -> None:
        if self.reader_gone:
            return
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
        line = self._line(output)
        self._kept.append(line)
        if self._scheduled:
            self._size += len(line)
            if self._size >= FLUSH_BYTES:
                self._flush_now()
            return
        if not self._batched or len(line) >= FLUSH_BYTES:
            self._flush_now()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside an event loop: nothing will come back for it
            self._flush_now()
            return
        self._size = len(line)
        self._kept_at = time.monotonic()
        loop.call_soon(self.flush)
        self._scheduled = True
        self._loop = loop
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="streamrt-sink-flush", daemon=True)
            self._watcher.start()

    def _flush_now(self) -> None:
        """Write what is kept at once (the output's own call), raising what the write raises."""
        self._size = 0
        with self._lock:
            self._write()

    def _write(self) -> None:
        """Write what is kept, in one write, and flush (the write lock held); raises what the write raises but a
        closed pipe, which is handled here."""
        kept = self._kept
        if not kept:
            return
        take = kept.popleft
        data = b"".join([take() for _ in range(len(kept))])
        try:
            binary = self._binary
            if binary is not None:
                self.out.flush()
                binary.write(data)
                binary.flush()
            else:
                self.out.write(data.decode("utf-8"))
                self.out.flush()
        except BrokenPipeError:
            if self._on_closed is None:
                raise
            self.reader_gone = True
            loop = self._loop
            if loop is not None and threading.current_thread() is not threading.main_thread():
                with contextlib.suppress(RuntimeError):  # the loop closed: the run is ending anyway
                    loop.call_soon_threadsafe(self._on_closed)
            else:
                self._on_closed()

    def flush(self) -> None:
        """Write what is kept now (on the event loop's thread); a failure is kept for the next output (or the
        close) to raise."""
        self._scheduled = False
        self._size = 0
        self._write_held()

    def _write_held(self) -> None:
        with self._lock:
            if self.reader_gone or self._failure is not None:
                self._kept.clear()
                return
            try:
                self._write()
            except OSError as exc:
                self._failure = exc

    def _watch(self) -> None:
        """The watcher thread: writes lines kept longer than :data:`FLUSH_AFTER` (the loop's thread is busy)."""
        while not self._closed.wait(FLUSH_AFTER):
            if self._kept and time.monotonic() - self._kept_at >= FLUSH_AFTER:
                self._write_held()

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            failure, self._failure = self._failure, None
            try:
                if not self.reader_gone and failure is None:
                    try:
                        self._write()
                    except OSError as exc:
                        failure = exc
            finally:
                if self._owned:
                    self.out.close()
                elif not self.reader_gone:
                    with contextlib.suppress(BrokenPipeError):
                        self.out.flush()
        if failure is not None:
            raise SinkError(f"output sink: cannot write the outputs: {failure.strerror or failure}")


class SinkFlushes(Observer):
    """Tells a batching sink (one with ``flush()``) when to write: after each processed batch and each change of
    status, before the snapshot policy looks at the stream."""

    def __init__(self, flush: Callable[[], None]) -> None:
        self._flush = flush

    def batch(self, stream_id: str, processor: str, n: int, latency: float | None) -> None:
        self._flush()

    def status(self, change: StatusChange) -> None:
        self._flush()


def _open_stdout(request: SinkRequest) -> OutputSink:
    return JsonLinesSink(request.stdout, on_closed=request.on_closed)


def _open_jsonl(request: SinkRequest) -> OutputSink:
    path = (
        request.uri[len("jsonl:") :] if request.scheme == "jsonl" and scheme_of(request.uri) else request.uri
    )
    path = os.path.expanduser(path)
    try:
        return JsonLinesSink(open(path, "a", encoding="utf-8"), owned=True)
    except OSError as exc:
        raise UsageError(f"--sink {request.uri}: cannot open {path}: {exc.strerror or exc}") from None


SINKS: Final = Registry(
    "streamrt.sinks",
    SinkType,
    {
        _STDOUT: SinkType(_open_stdout, "- (standard output)"),
        "jsonl": SinkType(_open_jsonl, "jsonl:PATH, PATH.jsonl"),
    },
)
"""Sink types by URI scheme (``"-"`` is standard output)."""


def open_sink(
    uri: str | None,
    *,
    stdout: TextIO,
    env: Mapping[str, str] | None = None,
    on_closed: Callable[[], None] | None = None,
) -> OutputSink:
    """The sink ``uri`` names (``None``: standard output); a URI that names none raises UsageError.

    ``on_closed``: what to do when the sink's reader goes away (see :attr:`SinkRequest.on_closed`)."""
    text = (uri or _STDOUT).strip()
    if text == _STDOUT:
        scheme: str | None = _STDOUT
    else:
        scheme = scheme_of(text) or ("jsonl" if text.endswith(".jsonl") else None)
    if scheme is None:
        raise UsageError(
            f"--sink {text!r}: a path must end in .jsonl or use jsonl:PATH; or use {', '.join(SINKS.usages())}"
        )
    sink_type = SINKS.get(scheme)
    if sink_type is None:
        raise UsageError(f"--sink {text!r}: unknown sink scheme {scheme!r}; use {', '.join(SINKS.usages())}")
    return sink_type.open(SinkRequest(text, scheme, stdout, os.environ if env is None else env, on_closed))
