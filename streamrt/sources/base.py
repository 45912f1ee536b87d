"""The source interface: a pull-based async iterator of items.

The provider asks a source for the next item only when the stream's queue has room, so a full queue stops the read
loop, and a network source is slowed by TCP flow control. Nothing is buffered behind the provider's back beyond what
one read returns.

A source yields three kinds of item:

- :class:`Chunk`: data for the processor, with source metadata (``:line``, ``:event``, ``:id``, ``:kind``, ...);
- :class:`Control`: a directive from the source's control channel (an SSE ``event: control``, say); never data;
- :class:`ChunkFault`: one bad chunk (a line that is not JSON); the stream's error policy decides what it means.

Each item carries the source's *continuation after that item*: a small msgpack-able dict (``{"line": 12}``,
``{"last_event_id": "41"}``) from which :meth:`Source.open` resumes. The provider stores the continuation of the
last item it consumed in the stream's snapshot.
"""

from __future__ import annotations

import abc
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Literal

import msgspec

from streamrt.secrets import redact, redact_url
from streamrt.values import Keyword

__all__ = [
    "RAW_LIMIT",
    "Chunk",
    "ChunkFault",
    "ChunkRun",
    "Continuation",
    "bounded_raw",
    "Control",
    "HealthState",
    "HealthWatcher",
    "Item",
    "Source",
    "SourceHealth",
    "redact_url",
]

Continuation = dict[str, Any]
"""Where to resume a source: msgpack-able, scheme-specific."""


class Chunk(msgspec.Struct):
    """One data chunk with the metadata the source adds (keyword keys)."""

    value: Any
    meta: dict[Keyword, Any] = msgspec.field(default_factory=dict)
    continuation: Continuation | None = None


class Control(msgspec.Struct):
    """A directive from the source (``pause``, ``resume``, ``cancel``, ``stop``, ``complete``, ``checkpoint``)."""

    action: Keyword
    meta: dict[Keyword, Any] = msgspec.field(default_factory=dict)
    continuation: Continuation | None = None


class ChunkFault(msgspec.Struct):
    """A chunk the source could not decode; ``message`` says where and why, ``raw`` is what was read (as text,
    cut to :data:`RAW_LIMIT` characters by :func:`bounded_raw`) for a dead letter to keep."""

    message: str
    meta: dict[Keyword, Any] = msgspec.field(default_factory=dict)
    continuation: Continuation | None = None
    raw: str | None = None


RAW_LIMIT: Final = 1024
"""The most characters of an undecodable chunk's raw text kept (in its dead letter, its snapshot)."""


def bounded_raw(data: bytes | str) -> str:
    """``data`` as text (bytes that are not UTF-8 as ``\\xNN``), cut to :data:`RAW_LIMIT` with a note of its
    length, so one huge bad line cannot fill a dead-letter table."""
    text = data.decode("utf-8", "backslashreplace") if isinstance(data, bytes | bytearray) else data
    if len(text) > RAW_LIMIT:
        return f"{text[:RAW_LIMIT]}… ({len(text)} characters)"
    return text


Item = Chunk | Control | ChunkFault


class ChunkRun(Sequence[Chunk]):
    """Chunks a source read together, kept as two lists (values, metadata) instead of a :class:`Chunk` each: the
    provider queues a slice of a run in one step, and a continuation is made only for the last chunk it takes
    (``continuation_at(i)``: the continuation after chunk ``i``). The metadata may be given as a function that makes
    the list: it is then made only when asked for (:attr:`metas`), which a stream whose chunks' metadata nobody sees
    does not do. As a sequence it gives :class:`Chunk` items, so whoever reads :meth:`Source.item_batches`
    generically sees what :meth:`Source.items` yields."""

    __slots__ = ("_metas", "continuation_at", "values")

    def __init__(
        self,
        values: list[Any],
        metas: list[dict[Keyword, Any]] | Callable[[], list[dict[Keyword, Any]]],
        continuation_at: Callable[[int], Continuation],
    ) -> None:
        self.values = values
        self._metas = metas
        self.continuation_at = continuation_at

    @property
    def metas(self) -> list[dict[Keyword, Any]]:
        """Each chunk's metadata (made on first use when the source gave a function)."""
        metas = self._metas
        if callable(metas):
            metas = self._metas = metas()
        return metas

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, i: int) -> Chunk:  # type: ignore[override]  # no slices: a run is read by index
        if i < 0:
            i += len(self.values)
        return Chunk(self.values[i], self.metas[i], self.continuation_at(i))

    def __iter__(self) -> Iterator[Chunk]:
        for i in range(len(self.values)):
            yield self[i]

    def __repr__(self) -> str:
        return f"<ChunkRun of {len(self.values)}>"


HealthState = Literal["idle", "connected", "reconnecting", "failed", "ended", "closed"]
"""``idle`` before the first connection; ``connected`` while reading; ``reconnecting`` between attempts;
``failed`` when the source gave up (the stream goes to ``:error``); ``ended`` when the source ended by itself (the
server's end marker, a tool's result, end of file); ``closed`` when the host closed it before its end (the stream
ended, or the provider shut down)."""

HealthWatcher = Callable[["SourceHealth"], None]


class SourceHealth(msgspec.Struct, eq=False):
    """What inspect shows about a source; watchers are called on every change of state (metrics, tests).

    A live record its source updates in place and watchers hold: equal only to itself. Its ``repr`` leaves out
    the secrets and the watchers.
    """

    state: HealthState = "idle"
    reconnects: int = 0
    """Reconnects and retried attempts so far (each wait before another attempt counts one)."""
    last_error: str | None = None
    """The last cause of a drop or failed attempt; kept after a successful reconnect, as history."""
    since: float = msgspec.field(default_factory=time.time)
    """When ``state`` last changed (seconds since the epoch)."""
    retry_in: float | None = None
    """While ``reconnecting``: the seconds waited before the next attempt (after any cap); else ``None``."""
    secrets: tuple[str, ...] = ()
    """Removed from every ``last_error`` (see :func:`~streamrt.secrets.redact`): health is shown everywhere."""
    _watchers: list[HealthWatcher] = msgspec.field(default_factory=list)

    def __repr__(self) -> str:
        return "SourceHealth(" + ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items()) + ")"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return list(self.as_dict().items())

    def set(self, state: HealthState, error: str | None = None, *, retry_in: float | None = None) -> None:
        self.state = state
        self.since = time.time()
        self.retry_in = retry_in if state == "reconnecting" else None
        if error is not None:
            self.last_error = redact(error, self.secrets) if self.secrets else error
        for watcher in list(self._watchers):
            watcher(self)

    def watch(self, watcher: HealthWatcher) -> Callable[[], None]:
        """Call ``watcher(health)`` after every :meth:`set`; returns a function that stops it."""
        self._watchers.append(watcher)

        def unwatch() -> None:
            if watcher in self._watchers:
                self._watchers.remove(watcher)

        return unwatch

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "reconnects": self.reconnects,
            "last_error": self.last_error,
            "since": self.since,
            "retry_in": self.retry_in,
        }


class Source(abc.ABC):
    """A chunk source. Use as ``async with source: async for item in source.items(): ...``."""

    #: a short label put in chunk metadata as ``:source`` (``jsonl``, ``sse``, ``mcp``, ``mock``, ...)
    kind: str = "source"
    #: whether the source ends by itself (a file) or runs until stopped (a live feed)
    finite: bool = True

    def __init__(self, uri: str, continuation: Continuation | None = None) -> None:
        self.uri = uri
        self.start_continuation = continuation
        self.health = SourceHealth()
        #: set by the provider when the stream this source feeds is over for good (completed, stopped,
        #: cancelled) before the source is closed, so :meth:`aclose` may release what the server keeps for a
        #: resume (an MCP session); left ``False`` on a shutdown meant to be resumed and after a failure
        self.closing_for_good = False

    @property
    def secrets(self) -> tuple[str, ...]:
        """What :meth:`redact` removes: set by network sources from their headers and URL (see :mod:`streamrt.secrets`)."""
        return self.health.secrets

    @secrets.setter
    def secrets(self, values: tuple[str, ...]) -> None:
        self.health.secrets = values

    def redact(self, text: str) -> str:
        """``text`` without this source's secrets (for any message that may quote a peer or an error)."""
        return redact(text, self.health.secrets) if self.health.secrets else text

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Connect or open files; called once before :meth:`items`."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections and files; must be safe to call twice."""

    @abc.abstractmethod
    def items(self) -> AsyncIterator[Item]:
        """Yield items one by one, resuming from ``start_continuation``; return at the end of a finite source."""

    async def item_batches(self) -> AsyncIterator[Sequence[Item]]:
        """The items of :meth:`items` in sequences, each what one read gave: the provider takes a sequence at once.

        Every source has it; this one wraps each item in a list of its own. A source that reads many items at a
        time (JSON Lines: a block of lines) yields them together, so the reader's per-item step is a loop over a
        list rather than an await per item; chunks alone may come as a :class:`ChunkRun`, which the provider queues
        without a step per chunk."""
        async for item in self.items():
            yield [item]

    def describe(self) -> Mapping[str, Any]:
        """What inspect shows: uri (no user info), kind, health."""
        return {"uri": redact_url(self.uri), "kind": self.kind, "health": self.health.as_dict()}

    async def __aenter__(self) -> Source:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.aclose()
        finally:
            if self.health.state in ("idle", "connected", "reconnecting"):
                self.health.set("closed")
