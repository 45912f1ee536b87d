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
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from streamrt.values import Keyword

__all__ = [
    "Chunk",
    "ChunkFault",
    "Continuation",
    "Control",
    "Item",
    "Source",
    "SourceHealth",
]

Continuation = dict[str, Any]
"""Where to resume a source: msgpack-able, scheme-specific."""


@dataclass(slots=True)
class Chunk:
    """One data chunk with the metadata the source adds (keyword keys)."""

    value: Any
    meta: dict[Keyword, Any] = field(default_factory=dict)
    continuation: Continuation | None = None


@dataclass(slots=True)
class Control:
    """A directive from the source (``pause``, ``resume``, ``cancel``, ``stop``, ``complete``, ``checkpoint``)."""

    action: Keyword
    meta: dict[Keyword, Any] = field(default_factory=dict)
    continuation: Continuation | None = None


@dataclass(slots=True)
class ChunkFault:
    """A chunk the source could not decode; ``message`` says where and why."""

    message: str
    meta: dict[Keyword, Any] = field(default_factory=dict)
    continuation: Continuation | None = None


Item = Chunk | Control | ChunkFault

HealthState = Literal["idle", "connected", "reconnecting", "failed", "ended"]


@dataclass(slots=True)
class SourceHealth:
    """What inspect shows about a source."""

    state: HealthState = "idle"
    reconnects: int = 0
    last_error: str | None = None
    since: float = field(default_factory=time.time)

    def set(self, state: HealthState, error: str | None = None) -> None:
        self.state = state
        self.since = time.time()
        if error is not None:
            self.last_error = error

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "reconnects": self.reconnects,
            "last_error": self.last_error,
            "since": self.since,
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

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Connect or open files; called once before :meth:`items`."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections and files; must be safe to call twice."""

    @abc.abstractmethod
    def items(self) -> AsyncIterator[Item]:
        """Yield items one by one, resuming from ``start_continuation``; return at the end of a finite source."""

    def describe(self) -> Mapping[str, Any]:
        """What inspect shows: uri, kind, health."""
        return {"uri": self.uri, "kind": self.kind, "health": self.health.as_dict()}

    async def __aenter__(self) -> Source:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
