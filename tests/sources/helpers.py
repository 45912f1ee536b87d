"""Small helpers shared by the source tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

from streamrt.sources import Item, Source

__all__ = ["drain", "generator"]


def generator(source: Source) -> AsyncGenerator[Item, None]:
    """``source.items()``, checked to be an async generator so it can be closed with ``contextlib.aclosing``."""
    items = source.items()
    assert isinstance(items, AsyncGenerator)
    return items


async def drain(source: Source, limit: int | None = None) -> list[Item]:
    """Open ``source``, take its items (the first ``limit`` of them, or all until it ends) and close it."""
    out: list[Item] = []
    async with source, contextlib.aclosing(generator(source)) as items:
        async for item in items:
            out.append(item)
            if limit is not None and len(out) >= limit:
                break
    return out
