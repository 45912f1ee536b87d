"""``csv:PATH``: the rows of a CSV file with a header line, as maps with keyword keys."""

from __future__ import annotations

import asyncio
import csv
import io
import os
from collections.abc import AsyncIterator
from typing import Any

from streamrt.errors import SourceError
from streamrt.meta import LINE, SOURCE
from streamrt.sources import Chunk, Continuation, Item, Source, SourceRequest
from streamrt.values import Keyword


def _cell(text: str) -> Any:
    """A cell: an int or a float when it reads as one, else the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


class CsvSource(Source):
    """One chunk per row; the continuation ``{"row": n}`` resumes after row ``n``."""

    kind = "csv"

    def __init__(self, uri: str, path: str, continuation: Continuation | None = None) -> None:
        super().__init__(uri, continuation)
        self.path = path
        self._text: str | None = None

    async def open(self) -> None:
        try:
            self._text = await asyncio.to_thread(self._read)
        except OSError as exc:
            raise SourceError(f"{self.path}: cannot read: {exc.strerror or exc}") from None

    def _read(self) -> str:
        with open(self.path, encoding="utf-8", newline="") as f:
            return f.read()

    async def items(self) -> AsyncIterator[Item]:
        if self._text is None:
            await self.open()
        assert self._text is not None
        self.health.set("connected")
        skip = int((self.start_continuation or {}).get("row", 0))
        reader = csv.reader(io.StringIO(self._text, newline=""))
        header = [Keyword(name.strip()) for name in next(reader, [])]
        for row, cells in enumerate(reader, start=1):
            if row <= skip or not cells:
                continue
            value = {key: _cell(cell) for key, cell in zip(header, cells, strict=False)}
            yield Chunk(value, {SOURCE: self.kind, LINE: reader.line_num}, {"row": row})
        self.health.set("ended")


def open_csv_source(request: SourceRequest) -> Source:
    path = os.path.expanduser(request.uri.text.partition(":")[2])
    if not os.path.isfile(path):
        raise SourceError(f"{path}: no such CSV file")
    return CsvSource(request.uri.text, path, request.continuation)
