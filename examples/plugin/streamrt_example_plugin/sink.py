"""``csv:PATH`` (``csv:-`` for standard output): one CSV row per output."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from typing import IO, Any

from streamrt import Output
from streamrt.errors import UsageError
from streamrt.jsoncodec import to_json_text
from streamrt.sinks import OutputSink, SinkRequest
from streamrt.values import Keyword


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Keyword):
        return value.qualified
    return to_json_text(value)


class CsvSink:
    """Columns ``stream``, ``seq``, then the first output's keys (a value that is not a map goes to ``value``)."""

    def __init__(self, out: IO[str], *, owned: bool) -> None:
        self.out = out
        self.owned = owned
        self.writer = csv.writer(out)
        self.columns: list[Any] | None = None

    def __call__(self, output: Output) -> None:
        value = output.value
        if self.columns is None:
            self.columns = list(value) if isinstance(value, Mapping) else ["value"]
            self.writer.writerow(["stream", "seq", *(_text(c) for c in self.columns)])
        cells = [value.get(c) for c in self.columns] if isinstance(value, Mapping) else [value]
        self.writer.writerow([output.stream_id, output.seq, *("" if c is None else _text(c) for c in cells)])
        self.out.flush()

    def close(self) -> None:
        if self.owned:
            self.out.close()


def open_csv_sink(request: SinkRequest) -> OutputSink:
    target = request.uri.partition(":")[2]
    if target == "-":
        return CsvSink(request.stdout, owned=False)
    path = os.path.expanduser(target)
    try:
        return CsvSink(open(path, "w", encoding="utf-8", newline=""), owned=True)
    except OSError as exc:
        raise UsageError(f"--sink {request.uri}: cannot open {path}: {exc.strerror or exc}") from None
