"""Lifecycle log records, written by the runtime through the standard :mod:`logging` module.

The records, their loggers, levels and fields are described in :mod:`streamrt.observe.logs`, which also formats
them and configures where they go; this module only writes them, so the runtime needs nothing from ``observe``.
The engine checks ``logger.isEnabledFor`` before calling in here, so a disabled level costs one cached lookup and
nothing is formatted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from streamrt.secrets import redact_url
from streamrt.sources.base import SourceHealth

if TYPE_CHECKING:
    from streamrt.runtime.machine import Transition
    from streamrt.runtime.stream import StreamRecord
    from streamrt.sources.base import Source
    from streamrt.store import Snapshot

__all__ = [
    "log_snapshots",
    "log_transition",
    "snapshot_log",
    "source_log",
    "stream_log",
    "stream_started",
]

stream_log: Final = logging.getLogger("streamrt.stream")
snapshot_log: Final = logging.getLogger("streamrt.snapshot")
source_log: Final = logging.getLogger("streamrt.source")


def _reached(s: StreamRecord) -> int:
    """The last chunk ``s`` has taken from its input (0 before the first): the ones after it are still queued."""
    return s.seq - len(s.queue)


def _fields(s: StreamRecord, event: str, action: str | None, seq: int | None = None) -> dict[str, Any]:
    return {
        "event": event,
        "stream_id": s.id,
        "seq": _reached(s) if seq is None else seq,
        "processed": s.processed,
        "accepted": s.seq,
        "action": action,
        "status": s.status.value,
        "processor": s.processor_name,
    }


def stream_started(s: StreamRecord, source: Source | None) -> None:
    """Log the start of ``s`` and watch its source's health for reconnects."""
    if source is not None:
        source.health.watch(_reconnect_logger(s, source.uri))
    if stream_log.isEnabledFor(logging.INFO):
        fields = _fields(s, "start", "start")
        origin = f"source {source.kind} {redact_url(source.uri)}" if source is not None else "fed by the host"
        stream_log.info(
            "stream %s started: processor %s, %s, queue capacity %d",
            s.id,
            s.processor_name,
            origin,
            s.capacity,
            extra=fields,
        )


def log_transition(s: StreamRecord, t: Transition, level: int, seq: int | None = None) -> None:
    """Log a transition the engine carried out, at ``level`` (the engine has checked that it is enabled).

    ``seq``: the chunk whose processing led to the transition, if the caller knows it; else :func:`_reached`,
    which is that chunk unless the transition discarded the queue (then it is the last chunk accepted).
    A failure or an end that changes nothing (the stream was already over) is not an event and is not logged.
    """
    action = t.event.value
    if action == "fail":
        if t.changed:
            fields = _fields(s, "error", action, seq)
            fields["error"] = s.message
            stream_log.log(level, "stream %s failed: %s", s.id, s.message, extra=fields)
    elif action == "end":
        if t.changed:
            fields = _fields(s, "status", action, seq)
            stream_log.log(level, "stream %s %s: its input ended", s.id, t.target.value, extra=fields)
    else:
        text = "stream %s: %s, now %s" if t.changed else "stream %s: %s (stays %s)"
        fields = _fields(s, "directive", action, seq)
        stream_log.log(level, text, s.id, action, t.target.value, extra=fields)


def log_snapshots(snapshots: Iterable[Snapshot], seconds: float) -> None:
    """Log each snapshot of one committed write at DEBUG (a per-chunk policy writes one per chunk)."""
    if not snapshot_log.isEnabledFor(logging.DEBUG):
        return
    for snap in snapshots:
        snapshot_log.debug(
            "stream %s: snapshot written (seq %d, status %s) in %.1f ms",
            snap.stream_id,
            snap.seq,
            snap.status,
            seconds * 1000.0,
            extra={
                "event": "snapshot",
                "stream_id": snap.stream_id,
                "seq": snap.seq - len(snap.queue),
                "processed": snap.stats.get("processed"),
                "accepted": snap.seq,
                "action": "snapshot",
                "status": snap.status,
                "processor": snap.processor,
                "write_seconds": seconds,
            },
        )


def _reconnect_logger(s: StreamRecord, uri: str) -> Callable[[SourceHealth], None]:
    """A health watcher that logs a ``reconnect`` record each time the source waits for another attempt."""
    shown = redact_url(uri)

    def watcher(health: SourceHealth) -> None:
        if health.state == "reconnecting" and source_log.isEnabledFor(logging.WARNING):
            retry_in = health.retry_in
            fields = _fields(s, "reconnect", "reconnect")
            fields.update(error=health.last_error, reconnects=health.reconnects, retry_in=retry_in)
            source_log.warning(
                "stream %s: source %s reconnecting (reconnect %d%s): %s",
                s.id,
                shown,
                health.reconnects,
                f", next attempt in {retry_in:.3g}s" if retry_in else "",
                health.last_error,
                extra=fields,
            )

    return watcher
