"""Small helpers shared by the source tests."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from streamrt.sources import Item, Source

__all__ = ["generator"]


def generator(source: Source) -> AsyncGenerator[Item, None]:
    """``source.items()``, checked to be an async generator so it can be closed with ``contextlib.aclosing``."""
    items = source.items()
    assert isinstance(items, AsyncGenerator)
    return items
