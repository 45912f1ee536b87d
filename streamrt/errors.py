"""Every exception streamrt raises on purpose, in one tree.

Theory of operation
-------------------
:class:`StreamrtError` and its subclasses mean *someone outside streamrt can fix this*: the author of a script,
the programmer of a host, the operator (a source or store out of reach). The CLI prints them as one message
(``file:line:col: message`` with the line and a caret for a :class:`ScriptError`) and never a traceback. Any other
exception escaping streamrt is a bug in streamrt and is left to show its traceback. Exceptions raised by host code
(a Python processor, a sink) are not ours: the stream they happened in goes to ``:error`` with their text.

Every class has one meaning. The four bases (``StreamrtError``, ``ScriptError``, ``StreamError``, ``StoreError``)
are categories and never raised as themselves; catch one to handle the whole category. ``ScriptRuntimeError`` and
``SourceError`` are raised as themselves and have one special case each. Builtin bases are added where
Python code expects them: a lookup that finds nothing is also a :class:`KeyError`.

```
StreamrtError
├── ScriptError                  a script is wrong; carries file, line, column and the source line
│   ├── ScriptSyntaxError        the reader could not read it
│   ├── ScriptCompileError       unknown symbol, malformed special form, wrong arity: found before running
│   ├── ScriptRuntimeError       a form failed while running (names the script line of the failing form)
│   │   └── LimitExceededError   one chunk took more fuel, time, call depth or value size than its limits allow
│   └── EffectDeniedError        the security context or the script's (effects ...) refuses an effect a call needs
├── CapabilityError              a host capability refused its arguments; reported as a ScriptRuntimeError at the call
├── ValueLimitError              a value nests too deeply, or is too large to walk (print, hash, encode); also a ValueError
├── StreamError                  a stream-level problem reported to the host
│   ├── UnknownStreamError       no stream with that id (also a KeyError)
│   ├── DuplicateStreamError     a stream with that id already exists
│   ├── TooManyStreamsError      the provider already holds its maximum number of streams
│   ├── QueueFullError           push_nowait on a full queue
│   ├── StreamClosedError        a chunk or directive for a stream in a terminal status
│   ├── SchemaViolation          a chunk, output or state does not match the stream's schema
│   ├── ProcessorResultError     a processor returned something the result contract does not allow
│   └── SinkError                an output sink raised; the stream goes to :error
├── SourceError                  a source cannot be opened or has failed for good (raised as itself)
│   └── SourceAuthError          the peer refused our credentials (401/403); never includes the secret
├── ApiError                     a streamrt server refused a request; carries its HTTP status and problem code
├── StoreError                   a snapshot store problem
│   ├── StoreUnavailableError    the store URL cannot be opened, or the connection to it failed
│   ├── StoreOperationError      the database refused or failed a statement
│   ├── SnapshotNotFoundError    no snapshot for that stream id (also a KeyError)
│   ├── SnapshotCorruptError     a snapshot failed its integrity check or cannot be decoded
│   ├── SnapshotConflictError    an optimistic-concurrency write lost a race
│   ├── StreamOwnedError         another provider holds the stream's lease
│   ├── UnstorableValueError     a state, chunk or option holds a value the snapshot codec cannot encode
│   └── ProcessorChangedError    the processor's source changed since the snapshot
└── UsageError                   a bad argument: a command-line flag, a host API argument or a stream option
```
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING, as in streamrt.lazy: the exception tree imports nothing at all.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from streamrt.pos import Pos

__all__ = [
    "ApiError",
    "CapabilityError",
    "DuplicateStreamError",
    "EffectDeniedError",
    "LimitExceededError",
    "Pos",
    "ProcessorChangedError",
    "ProcessorResultError",
    "QueueFullError",
    "SchemaViolation",
    "ScriptCompileError",
    "ScriptError",
    "ScriptRuntimeError",
    "ScriptSyntaxError",
    "SinkError",
    "SnapshotConflictError",
    "SnapshotCorruptError",
    "SnapshotNotFoundError",
    "SourceAuthError",
    "SourceError",
    "StoreError",
    "StoreOperationError",
    "StoreUnavailableError",
    "StreamClosedError",
    "StreamError",
    "StreamOwnedError",
    "StreamrtError",
    "TooManyStreamsError",
    "UnknownStreamError",
    "UnstorableValueError",
    "UsageError",
    "ValueLimitError",
]


class StreamrtError(Exception):
    """Base of every error streamrt raises on purpose."""


class ScriptError(StreamrtError):
    """A problem in a user's script, located at ``pos`` when known."""

    def __init__(self, message: str, pos: Pos | None = None, source_line: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.source_line = source_line

    @property
    def filename(self) -> str | None:
        return self.pos.filename if self.pos else None

    @property
    def line(self) -> int | None:
        return self.pos.line if self.pos else None

    @property
    def column(self) -> int | None:
        return self.pos.column if self.pos else None

    def __str__(self) -> str:
        return f"{self.pos}: {self.message}" if self.pos else self.message

    def format(self) -> str:
        """``file:line:col: message``, then the source line and a caret under the column."""
        head = str(self)
        if self.source_line is None or self.pos is None:
            return head
        line = self.source_line.rstrip("\n")
        caret = " " * (max(self.pos.column, 1) - 1) + "^"
        return f"{head}\n  {line}\n  {caret}"


class ScriptSyntaxError(ScriptError):
    """The script text could not be read."""


class ScriptCompileError(ScriptError):
    """The script reads but cannot be compiled."""


class ScriptRuntimeError(ScriptError):
    """A form of the script failed while running."""


class LimitExceededError(ScriptRuntimeError):
    """A processor went past one of its per-chunk limits; ``limit`` names it (``"fuel"``), ``value`` is its value."""

    def __init__(
        self, message: str, *, limit: str, value: int, pos: Pos | None = None, source_line: str | None = None
    ) -> None:
        super().__init__(message, pos, source_line)
        self.limit = limit
        self.value = value


class EffectDeniedError(ScriptError):
    """The security context (or the script's ``(effects ...)``) denies an effect a ``call`` or declaration needs.

    Located at the script line of the ``call`` or declaration when there is one; a host reading a source itself (a
    resumed stream's) gets one with no position.
    """

    def __init__(
        self,
        message: str,
        *,
        capability: str | None,
        effect: str,
        pos: Pos | None = None,
        source_line: str | None = None,
    ) -> None:
        ScriptError.__init__(self, message, pos, source_line)
        self.capability = capability
        self.effect = effect


class CapabilityError(StreamrtError):
    """A host capability refused the arguments of a ``call``; the script reports it at the line of the call."""


class ValueLimitError(StreamrtError, ValueError):
    """A value is deeper than :data:`streamrt.values.MAX_DEPTH` or larger than a walk may visit.

    Printing, hashing, equality, JSON and snapshot encoding walk a value; a value a script can build cheaply (one
    nested 200,000 deep, or one that shares itself so that its walked size is 2**60) would otherwise crash the
    process or never end. Raised inside a chunk it fails that chunk; from a sink or a store, that stream.
    """


class StreamError(StreamrtError):
    """A stream-level problem reported to the host."""


class UnknownStreamError(StreamError, KeyError):
    """No stream with that id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown stream"


class DuplicateStreamError(StreamError):
    """A stream with that id already exists."""


class TooManyStreamsError(StreamError):
    """The provider already holds its maximum number of streams (``max_streams``); the new one is refused."""


class QueueFullError(StreamError):
    """The stream's queue is at capacity (raised only by the non-waiting push)."""


class SchemaViolation(StreamError):
    """A value does not match a stream's schema; says where (``path`` inside the value) and what was expected."""

    def __init__(
        self,
        message: str,
        *,
        stream_id: str,
        seq: int | None,
        option: str,
        path: tuple[object, ...],
        problem: str,
    ) -> None:
        super().__init__(message)
        self.stream_id = stream_id
        self.seq = seq
        self.option = option
        self.path = path
        self.problem = problem


class StreamClosedError(StreamError):
    """The stream is in a terminal status; the chunk was counted as dropped."""


class ProcessorResultError(StreamError):
    """A processor returned something the result contract does not allow (not a map, an unknown action, ...)."""


class SinkError(StreamError):
    """An output sink raised; the stream goes to ``:error`` with the sink's name and what it raised."""


class SourceError(StreamrtError):
    """A source cannot be opened or failed for good."""


class SourceAuthError(SourceError):
    """The peer refused our credentials."""


class ApiError(StreamrtError):
    """A streamrt server (``streamrt serve``) refused a request: ``status``, the problem's ``code`` and ``detail``."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        retry_after: float | None = None,
        body: dict[str, object] | None = None,
    ) -> None:
        super().__init__(f"{detail} ({status} {code})")
        self.status = status
        self.code = code
        self.detail = detail
        self.retry_after = retry_after
        self.body = body or {}


class StoreError(StreamrtError):
    """A snapshot store problem."""


class StoreUnavailableError(StoreError):
    """The store cannot be opened."""


class StoreOperationError(StoreError):
    """The database refused or failed a statement (a connection problem is a StoreUnavailableError)."""


class SnapshotNotFoundError(StoreError, KeyError):
    """No snapshot for that stream id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "snapshot not found"


class SnapshotCorruptError(StoreError):
    """A snapshot failed its integrity check or cannot be decoded."""


class SnapshotConflictError(StoreError):
    """A snapshot write lost an optimistic-concurrency race."""


class StreamOwnedError(StoreError):
    """Another provider holds a live lease on the stream: two providers must not run one stream."""


class UnstorableValueError(StoreError):
    """A value (state, queued chunk, option, dead letter) cannot be encoded by the snapshot codec."""


class ProcessorChangedError(StoreError):
    """The processor's source differs from the one the snapshot was taken with."""


class UsageError(StreamrtError):
    """A bad command line or host API argument."""


def __getattr__(name: str) -> Any:
    """:class:`~streamrt.pos.Pos`, imported when first asked for (``from streamrt.errors import Pos``)."""
    if name == "Pos":
        from streamrt.pos import Pos

        globals()["Pos"] = Pos
        return Pos
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
