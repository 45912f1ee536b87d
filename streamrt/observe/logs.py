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
so the record gives ``seq`` as ``accepted - queued``. A transition that discards the queue leaves nothing to
count, so for those the engine passes the chunk's number when it knows it. The records are written by
:mod:`streamrt.runtime.lifelog` (re-exported here); this module formats them: :class:`JsonFormatter` writes one
JSON object per line, :class:`TextFormatter` a readable line with the fields appended as ``key=value``.

Stream ids, messages and field values can come from scripts and servers, so neither format lets them break a line
or reach the terminal: :func:`escape_control` turns control characters (newline, carriage return, ESC, the Unicode
line separators) into visible escapes such as ``\\n`` and ``\\x1b`` in the text format, and the JSON format writes
them as ``\\uXXXX``. A text record is therefore always one line, apart from an exception's traceback, whose lines
are indented so that none can pass for a record.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable
from typing import IO, Any, Final, Literal

from streamrt.errors import UsageError
from streamrt.jsoncodec import to_json
from streamrt.runtime.lifelog import (
    log_snapshots,
    log_transition,
    snapshot_log,
    source_log,
    stream_log,
    stream_started,
)

__all__ = [
    "FIELDS",
    "Console",
    "LEVELS",
    "JsonFormatter",
    "LogHandler",
    "TextFormatter",
    "configure_logging",
    "escape_control",
    "log_snapshots",
    "log_transition",
    "source_log",
    "snapshot_log",
    "stream_log",
    "stream_started",
    "unconfigure_logging",
]

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


# --- formatting ---------------------------------------------------------------------------------------------

# C0 and C1 controls, DEL, and the characters str.splitlines() also breaks lines at.
_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# What the JSON encoder leaves as it is (it already escapes C0 controls) but a line reader may split at or a
# terminal may act on.
_JSON_UNSAFE: Final = re.compile("[\x7f-\x9f\u2028\u2029]")


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_control(text: str) -> str:
    """``text`` on one line and inert on a terminal: newline becomes ``\\n``, ESC ``\\x1b``, U+2028 ``\\u2028``.

    For anything a log line or a status line shows that a script or a peer chose (stream ids, messages).
    """
    if text.isprintable():  # the common case, and a fast one
        return text
    return _CONTROL.sub(_escape_one, text)


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
        text = json.dumps(out, ensure_ascii=False, default=_jsonable)
        return text if text.isascii() else _JSON_UNSAFE.sub(_json_escape, text)


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _jsonable(value: Any) -> Any:
    return to_json(value)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message`` and then the structured fields as ``key=value``, always on one line.

    The message and the field values are escaped (:func:`escape_control`); a traceback follows on lines of its own,
    each indented and escaped, so no text from a script or a server can start a line that looks like a record.
    """

    def __init__(self) -> None:
        super().__init__(datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        when = self.formatTime(record, self.datefmt)
        text = f"{when} {record.levelname} {record.name}: {escape_control(record.getMessage())}"
        extras = _extras(record)
        if extras:
            text += " [" + " ".join(f"{k}={_short(v)}" for k, v in extras.items() if v is not None) + "]"
        trailer = []
        if record.exc_info:
            trailer.append(self.formatException(record.exc_info))
        if record.stack_info:
            trailer.append(self.formatStack(record.stack_info))
        for block in trailer:
            text += "".join(f"\n    {escape_control(line)}" for line in block.splitlines())
        return text


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=_jsonable)
    if not text or any(c in text for c in ' "=[]'):
        text = json.dumps(text, ensure_ascii=False)
    return escape_control(text)


class LogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that calls ``before_write`` first (the live progress display clears its lines)."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(stream)
        self.before_write: Callable[[], None] | None = None
        self.previous_level = logging.NOTSET
        """The ``streamrt`` logger's level before :func:`configure_logging` set it."""

    def emit(self, record: logging.LogRecord) -> None:
        hook = self.before_write
        if hook is not None:
            hook()
        super().emit(record)


class Console:
    """The lines a command writes on stderr itself (the metrics URL, problems, the closing summary).

    In ``text`` each is the message as it is; in ``json`` each is one JSON object shaped like a log record
    (``ts``, ``level``, ``logger``, ``message``, then the fields given), so under ``--log-format json`` every stderr
    line of a run parses as JSON.
    """

    def __init__(self, stream: IO[str], fmt: LogFormat = "text", *, logger: str = "streamrt.cli") -> None:
        self.stream = stream
        self.format: LogFormat = fmt
        self.logger = logger
        self.before_write: Callable[[], None] | None = None
        """Called before each line (the live progress display clears its lines)."""

    def say(self, message: str, *, level: str = "info", lines: bool = False, **fields: Any) -> None:
        """Write one line: ``message``, or under ``json`` an object with ``fields`` (``None`` values left out).

        The text is escaped (:func:`escape_control`): ids and messages in it may come from scripts and servers.
        ``lines``: the message is several lines of our own making (a script error with its source line and caret),
        kept apart, each line escaped.
        """
        hook = self.before_write
        if hook is not None:
            hook()
        if self.format == "json":
            out: dict[str, Any] = {
                "ts": _iso(time.time()),
                "level": level,
                "logger": self.logger,
                "message": message,
            }
            out.update((k, v) for k, v in fields.items() if v is not None)
            line = json.dumps(out, ensure_ascii=False, default=_jsonable)
            if not line.isascii():
                line = _JSON_UNSAFE.sub(_json_escape, line)
        elif lines:
            line = "\n".join(escape_control(part) for part in message.split("\n"))
        else:
            line = escape_control(message)
        self.stream.write(line + "\n")
        self.stream.flush()


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
    handler = LogHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.previous_level = _ROOT.level
    _ROOT.addHandler(handler)
    _ROOT.setLevel(level)
    return handler


def unconfigure_logging(handler: logging.Handler) -> None:
    """Remove a handler :func:`configure_logging` added and restore the ``streamrt`` logger's level."""
    _ROOT.removeHandler(handler)
    _ROOT.setLevel(handler.previous_level if isinstance(handler, LogHandler) else logging.NOTSET)
