"""A CSV source and a CSV sink for streamrt, registered through entry points (see ``pyproject.toml``)."""

from __future__ import annotations

from streamrt.sinks import SinkType
from streamrt.sources import SourceType
from streamrt_example_plugin.sink import open_csv_sink
from streamrt_example_plugin.source import open_csv_source

__all__ = ["CSV_SINK", "CSV_SOURCE"]

CSV_SOURCE = SourceType(open_csv_source, effects=frozenset({"fs"}), usage="csv:PATH (CSV rows)")
CSV_SINK = SinkType(open_csv_sink, usage="csv:PATH, csv:- (CSV rows)")
