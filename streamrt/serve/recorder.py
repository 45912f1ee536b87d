"""What the server hears from the provider, written to its event log as it happens (an Observer).

Each event's data is JSON text made once here and shared by every subscriber:

- ``output``: ``{"seq": n, "value": ...}``, every value a stream emits;
- ``status``: ``{"from", "to", "event", "message", "seq"}``, every change of status;
- ``error``: ``{"message", "seq"}``, a stream that failed (after its ``status`` event) or a chunk given up as a dead
  letter (``"dead_letter": true``).
"""

from __future__ import annotations

import json
from typing import Any

from streamrt.jsoncodec import to_json
from streamrt.runtime import Observer, Output, Status, StatusChange
from streamrt.serve.eventlog import EventLog
from streamrt.store import DeadLetter

__all__ = ["EventRecorder", "dumps"]


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(data: Any) -> str:
    """Compact JSON text (one encoder made once: ``json.dumps`` with options builds one per call)."""
    return _ENCODER.encode(data)


class EventRecorder(Observer):
    """Appends every output, status change and failure to ``log``; ``quiet`` streams are being restored."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.quiet: set[str] = set()
        self.reasons: dict[str, str] = {}
        """Why the server itself directed a stream (an idle one cancelled), said by its next status event."""

    def output(self, output: Output) -> None:
        self.log.append(
            output.stream_id,
            "output",
            dumps({"seq": output.seq, "value": to_json(output.value)}),
            seq=output.seq,
        )

    def status(self, change: StatusChange) -> None:
        if change.stream_id in self.quiet:
            return  # a restore brings a stream back to the status the log already holds
        reason = self.reasons.pop(change.stream_id, None)
        data = {
            "from": change.source.value,
            "to": change.target.value,
            "event": change.event.value,
            "message": change.message or reason,
            "seq": change.seq,
        }
        self.log.append(change.stream_id, "status", dumps(data))
        if change.target is Status.ERROR:
            self.log.append(change.stream_id, "error", dumps({"message": change.message, "seq": change.seq}))

    def dead_letter(self, letter: DeadLetter) -> None:
        data = {"message": letter.error, "seq": letter.seq, "dead_letter": True}
        self.log.append(letter.stream_id, "error", dumps(data))
