"""Every exception streamrt raises on purpose.

User mistakes and environment problems are subclasses of :class:`StreamrtError`; the CLI prints them as one clear
message and never a traceback. Anything else escaping streamrt is a bug in streamrt.

```
StreamrtError
├── ScriptError                  a script is wrong; carries file, line, column and the source line
│   ├── ScriptSyntaxError        the reader could not read it
│   ├── ScriptCompileError       unknown symbol, malformed special form, wrong arity: found before running
│   └── ScriptRuntimeError       a form failed while running (names the script line of the failing form)
│       └── LimitExceededError   one chunk took more fuel, time, call depth or value size than its limits allow
├── CapabilityError              a `call` named a capability the host did not grant, or gave it bad arguments
│   └── EffectDeniedError        the security context denies an effect the call needs (also a ScriptError)
├── StreamError                  a stream-level problem reported to the host
│   ├── UnknownStreamError       no stream with that id
│   ├── DuplicateStreamError     a stream with that id already exists
│   ├── QueueFullError           push_nowait on a full queue
│   ├── SchemaViolation          a chunk, output or state does not match the stream's schema
│   └── StreamClosedError        a chunk or directive for a stream in a terminal status
├── SourceError                  a source cannot be opened or has failed for good
│   └── SourceAuthError          the peer refused our credentials (401/403); never includes the secret
├── StoreError                   a snapshot store problem
│   ├── StoreUnavailableError    the store URL cannot be opened
│   ├── SnapshotNotFoundError    no snapshot for that stream id
│   ├── SnapshotCorruptError     a snapshot failed its integrity check or cannot be decoded
│   ├── SnapshotConflictError    an optimistic-concurrency write lost a race
│   └── ProcessorChangedError    the processor's source changed since the snapshot
└── UsageError                   a bad command line or host API argument
```
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CapabilityError",
    "DuplicateStreamError",
    "EffectDeniedError",
    "LimitExceededError",
    "Pos",
    "ProcessorChangedError",
    "QueueFullError",
    "SchemaViolation",
    "ScriptCompileError",
    "ScriptError",
    "ScriptRuntimeError",
    "ScriptSyntaxError",
    "SnapshotConflictError",
    "SnapshotCorruptError",
    "SnapshotNotFoundError",
    "SourceAuthError",
    "SourceError",
    "StoreError",
    "StoreUnavailableError",
    "StreamClosedError",
    "StreamError",
    "StreamrtError",
    "UnknownStreamError",
    "UsageError",
]


@dataclass(frozen=True, slots=True)
class Pos:
    """A place in a script: 1-based line and column."""

    filename: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.column}"


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


class CapabilityError(StreamrtError):
    """A capability call was not granted or was malformed."""


class EffectDeniedError(CapabilityError, ScriptError):
    """The security context denies an effect a ``call`` (or an ``(effects ...)`` declaration) needs.

    A :class:`ScriptError` too, so it is located at the script line of the ``call`` and printed with a caret.
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


class StreamError(StreamrtError):
    """A stream-level problem reported to the host."""


class UnknownStreamError(StreamError, KeyError):
    """No stream with that id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown stream"


class DuplicateStreamError(StreamError):
    """A stream with that id already exists."""


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


class SourceError(StreamrtError):
    """A source cannot be opened or failed for good."""


class SourceAuthError(SourceError):
    """The peer refused our credentials."""


class StoreError(StreamrtError):
    """A snapshot store problem."""


class StoreUnavailableError(StoreError):
    """The store cannot be opened."""


class SnapshotNotFoundError(StoreError, KeyError):
    """No snapshot for that stream id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "snapshot not found"


class SnapshotCorruptError(StoreError):
    """A snapshot failed its integrity check or cannot be decoded."""


class SnapshotConflictError(StoreError):
    """A snapshot write lost an optimistic-concurrency race."""


class ProcessorChangedError(StoreError):
    """The processor's source differs from the one the snapshot was taken with."""


class UsageError(StreamrtError):
    """A bad command line or host API argument."""
