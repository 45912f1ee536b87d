"""Structured lifecycle logs through the standard :mod:`logging` module.

Theory of operation
-------------------
The runtime writes one record per lifecycle event of a stream, never one per chunk at ``INFO``:

| event | logger | level | when |
|---|---|---|---|
| ``start`` | ``streamrt.stream`` | INFO | a stream is started (or re-created by resume) |
| ``directive`` | ``streamrt.stream`` | INFO, DEBUG if the status stays | a directive from the processor, the host or a source |
| ``status`` | ``streamrt.stream`` | INFO | the status changed for another reason (the input ended) |
| ``error`` | ``streamrt.stream`` | ERROR | the stream failed; the message says why |
| ``snapshot`` | ``streamrt.snapshot`` | DEBUG | a snapshot was committed to the store |
| ``reconnect`` | ``streamrt.source`` | WARNING | a live source lost its connection and retries |

Every record carries the fields ``event``, ``stream_id``, ``seq``, ``processed``, ``accepted``, ``action`` and
``status`` as attributes (the ``extra`` of :meth:`logging.Logger.log`), so a formatter or a handler can use them
without parsing the message. ``seq`` says where the stream was: the last chunk it had taken from its input, which
for a directive in a processor's result is the chunk that gave it; ``accepted`` is the last chunk it had accepted,
so ``accepted - seq`` chunks were queued behind it. Chunks are numbered as they are accepted and queued in order,
so the record gives ``seq`` as ``accepted - queued`` (:func:`_reached`). A transition that discards the queue
leaves nothing to count, so for those the caller passes the chunk's number when it knows it. The driver checks
``logger.isEnabledFor`` before calling in here, so a disabled level costs one cached lookup and nothing is
formatted. :class:`JsonFormatter` writes one JSON object per line; :class:`TextFormatter` a readable line with
the fields appended as ``key=value``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any, Final, Literal

from streamrt.errors import UsageError
from streamrt.sources.base import SourceHealth, redact_url

if TYPE_CHECKING:
    from streamrt.runtime.machine import Transition
    from streamrt.runtime.stream import StreamRecord
    from streamrt.sources.base import Source
    from streamrt.store import Snapshot

__all__ = [
    "FIELDS",
    "LEVELS",
    "JsonFormatter",
    "LogHandler",
    "TextFormatter",
    "configure_logging",
    "log_snapshots",
    "log_transition",
    "source_log",
    "snapshot_log",
    "stream_log",
    "stream_started",
    "unconfigure_logging",
]

stream_log: Final = logging.getLogger("streamrt.stream")
snapshot_log: Final = logging.getLogger("streamrt.snapshot")
source_log: Final = logging.getLogger("streamrt.source")
_ROOT: Final = logging.getLogger("streamrt")

FIELDS: Final = (
    "event",
    "stream_id",
    "seq",
    "processed",
    "accepted",
    "action",
    "status",
    "processor",
    "error",
)
"""The structured fields of a lifecycle record, in the order formatters print them."""

LEVELS: Final = ("debug", "info", "warning", "error", "critical")
"""The names ``--log-level`` accepts."""

LogFormat = Literal["text", "json"]

# Attributes every LogRecord has; anything else on a record came from ``extra`` and is printed as a field.
_STANDARD: Final = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


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
    """Log a transition the driver carried out, at ``level`` (the driver has checked that it is enabled).

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


# --- formatting ---------------------------------------------------------------------------------------------


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    out = {name: getattr(record, name) for name in FIELDS if hasattr(record, name)}
    for name, value in record.__dict__.items():
        if name not in _STANDARD and name not in out:
            out[name] = value
    return out


def _iso(created: float) -> str:
    ms = int((created % 1) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{ms:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``message``, then the structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": _iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update(_extras(record))
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=_jsonable)


def _jsonable(value: Any) -> Any:
    from streamrt.values import to_json

    return to_json(value)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message`` and then the structured fields as ``key=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = _extras(record)
        if extras:
            text += " [" + " ".join(f"{k}={_short(v)}" for k, v in extras.items() if v is not None) + "]"
        return text


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=_jsonable)
    return json.dumps(text) if (" " in text or not text) else text


class LogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that calls ``before_write`` first (the live progress display clears its lines)."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(stream)
        self.before_write: Callable[[], None] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        hook = self.before_write
        if hook is not None:
            hook()
        super().emit(record)


def configure_logging(
    level: str | int = "warning", fmt: LogFormat = "text", stream: IO[str] | None = None
) -> LogHandler:
    """Send every ``streamrt.*`` logger's records at ``level`` and above to ``stream`` (stderr) in ``fmt``.

    Returns the handler; pass it to :func:`unconfigure_logging` to undo (the CLI does when the run ends).
    """
    if isinstance(level, str):
        number = logging.getLevelNamesMapping().get(level.upper())
        if number is None or level.lower() not in LEVELS:
            raise UsageError(f"unknown log level {level!r}; use one of: {', '.join(LEVELS)}")
        level = number
    if fmt not in ("text", "json"):
        raise UsageError(f"unknown log format {fmt!r}; use text or json")
    import sys

    handler = LogHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler._streamrt_previous_level = _ROOT.level  # type: ignore[attr-defined]
    _ROOT.addHandler(handler)
    _ROOT.setLevel(level)
    return handler


def unconfigure_logging(handler: logging.Handler) -> None:
    """Remove a handler :func:`configure_logging` added and restore the ``streamrt`` logger's level."""
    _ROOT.removeHandler(handler)
    _ROOT.setLevel(getattr(handler, "_streamrt_previous_level", logging.NOTSET))
