"""What ``Provider.inspect`` returns: one stream in detail, or a one-line-per-stream summary.

Besides the record's fields and stats, a stream's report says what it is waiting for right now (``activity``):
whether a worker is processing, how many producers wait for queue room (backpressure), whether a snapshot write
holds it, and whether its source reader is alive. Those answer "why is my stream stuck?" without a debugger.

The envelope uses string keys so it is JSON-ready after :func:`streamrt.jsoncodec.to_json`; the values a script owns
(state, chunks, options) are left as language values, so a script calling ``:mcp.stream.inspect`` gets them back
unchanged and the CLI converts them for printing; only secret options are shown as ``"[redacted]"`` (by the view).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from streamrt.runtime.machine import Status
from streamrt.runtime.views import StreamView

__all__ = ["SUMMED", "describe_all", "describe_stream"]

SUMMED: Final = ("processed", "queued", "dropped", "errors", "outputs")
"""The counters a summary row shows and ``totals`` adds up."""


def describe_stream(
    s: StreamView, *, include_state: bool = False, include_queue: bool = False
) -> dict[str, Any]:
    """Everything about one stream, with its stats field by field."""
    out: dict[str, Any] = {
        "stream_id": s.id,
        "processor": s.processor_name,
        "status": s.status.value,
        "message": s.message,
        "seq": s.seq,
        "output_seq": s.output_seq,
        "queue_capacity": s.capacity,
        "queue_depth": s.queue_depth,
        "input_ended": s.input_ended,
        "source": s.source_description(),
        "continuation": s.continuation,
        "options": s.options,  # secrets redacted by the view
        "stats": s.statistics()._asdict(),
        "activity": s.activity(),
    }
    if include_state:
        out["state"] = s.state
        out["initial_state"] = s.initial_state
    if include_queue:
        faults = s.faults
        queue: list[dict[str, Any]] = []
        for seq, chunk, meta, received_at in s.queue:
            entry: dict[str, Any] = {
                "seq": seq,
                "received_at": received_at,
                "chunk": chunk,
                "meta": meta or {},
            }
            if seq in faults:
                entry["fault"] = faults[seq]
            queue.append(entry)
        out["queue"] = queue
    return out


def describe_all(streams: Iterable[StreamView], *, closed: bool) -> dict[str, Any]:
    """A summary of every stream: counts by status, the counters added up, and the main counters of each."""
    by_status = {status.value: 0 for status in Status}
    totals = dict.fromkeys(SUMMED, 0)
    rows: dict[str, Any] = {}
    for s in streams:
        by_status[s.status.value] += 1
        row: dict[str, Any] = {
            "processor": s.processor_name,
            "status": s.status.value,
            "message": s.message,
            "processed": s.processed,
            "queued": s.queue_depth,
            "dropped": s.dropped,
            "errors": s.errors,
            "outputs": s.outputs,
            "queue_capacity": s.capacity,
            "last_event_time": s.last_event_time,
        }
        for name in SUMMED:
            totals[name] += row[name]
        rows[s.id] = row
    return {"total": len(rows), "closed": closed, "by_status": by_status, "totals": totals, "streams": rows}
