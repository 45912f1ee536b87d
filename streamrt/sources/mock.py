"""``mock:NAME?count=N&interval_ms=M``: a synthetic source for examples, tests and benchmarks.

Chunks are ``{:seq i :payload "mock-payload-i"}`` for ``i = 1..N``. ``count`` defaults to 10; ``count=0`` is an
empty stream; ``count=inf`` runs until the stream is stopped (``finite`` is then false). ``interval_ms`` (default 0)
waits between chunks; with 0 the source still yields to the event loop every few hundred chunks so an endless mock
never starves other tasks. The continuation is ``{"seq": i}``; a resume starts at ``i + 1``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator
from typing import Final
from urllib.parse import parse_qs, urlsplit

from streamrt.errors import SourceError
from streamrt.meta import NAME, SOURCE
from streamrt.sources.base import Chunk, Continuation, Item, Source
from streamrt.values import Keyword

__all__ = ["MockSource"]

_SEQ: Final = Keyword("seq")
_PAYLOAD: Final = Keyword("payload")
_YIELD_EVERY: Final = 256


def _number(query: dict[str, list[str]], key: str, default: float, uri: str) -> float:
    values = query.pop(key, None)
    if not values:
        return default
    text = values[-1].strip().lower()
    try:
        value = math.inf if text in ("inf", "infinite") else float(text)
    except ValueError:
        raise SourceError(f"{uri}: {key} must be a number, got {values[-1]!r}") from None
    if value < 0 or math.isnan(value):
        raise SourceError(f"{uri}: {key} must not be negative, got {values[-1]!r}")
    return value


class MockSource(Source):
    """Counts from 1 to ``count``, optionally pausing ``interval_ms`` between chunks."""

    kind = "mock"

    def __init__(self, uri: str, continuation: Continuation | None = None) -> None:
        super().__init__(uri, continuation)
        parts = urlsplit(uri)
        if parts.scheme != "mock":
            raise SourceError(f"{uri}: not a mock: URI")
        self.name = parts.path or "mock"
        query = parse_qs(parts.query, keep_blank_values=True)
        count = _number(query, "count", 10, uri)
        if count != math.inf and count != int(count):
            raise SourceError(f"{uri}: count must be a whole number or 'inf'")
        self.count: int | None = None if count == math.inf else int(count)
        interval = _number(query, "interval_ms", 0, uri)
        if interval == math.inf:
            raise SourceError(f"{uri}: interval_ms must be finite")
        self.interval = interval / 1000.0
        if query:
            raise SourceError(
                f"{uri}: unknown mock option(s) {', '.join(sorted(query))} (known: count, interval_ms)"
            )
        self.finite = self.count is not None
        start = (continuation or {}).get("seq", 0)
        if not isinstance(start, int) or start < 0:
            raise SourceError(f"{uri}: bad continuation {continuation!r} (expected {{'seq': int}})")
        self._start = start

    async def items(self) -> AsyncGenerator[Item, None]:
        self.health.set("connected")
        i = self._start
        meta = {SOURCE: self.kind, NAME: self.name}
        while self.count is None or i < self.count:
            if self.interval:
                if i > self._start:
                    await asyncio.sleep(self.interval)
            elif (i - self._start) % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)
            i += 1
            yield Chunk({_SEQ: i, _PAYLOAD: f"mock-payload-{i}"}, dict(meta), {"seq": i})
        self.health.set("ended")
