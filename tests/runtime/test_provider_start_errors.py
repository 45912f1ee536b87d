"""Mistakes a host makes when it starts a stream are clear errors, not Python tracebacks from inside streamrt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streamrt import Provider, UsageError


def keep(state: Any, chunk: Any) -> Any:
    return state


@pytest.mark.parametrize("source", ["x.jsonl", Path("x.jsonl"), 42], ids=["text", "path", "number"])
async def test_a_source_that_is_not_a_source_is_a_usage_error(source: Any) -> None:
    async with Provider() as p:
        with pytest.raises(UsageError, match="source must be a streamrt Source") as info:
            p.start(keep, source=source)
        if isinstance(source, str | Path):
            assert "open_source('x.jsonl')" in str(info.value)
        assert p.stream_ids() == []
