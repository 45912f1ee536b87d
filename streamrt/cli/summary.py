"""The closing summary of ``streamrt run`` and ``streamrt resume``: one line per stream on stderr (as text, or as
the fields of a JSON line under ``--log-format json``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from streamrt.runtime.machine import Status

if TYPE_CHECKING:
    from streamrt.runtime.provider import Provider
    from streamrt.store import Snapshot

__all__ = ["Line", "finished_summary", "summary"]

Line = tuple[str, dict[str, Any]]
"""A summary line: its text, and its fields for a JSON line."""

_COUNTS: Final = ("processed", "outputs", "dropped", "errors", "skipped", "dead_lettered")


def _line(sid: str, status: str, stats: Mapping[str, Any], message: str | None, *, before: bool) -> Line:
    counts = {k: int(stats.get(k, 0)) for k in _COUNTS}
    text = (
        f"stream {sid}: {status}; processed {counts['processed']}, outputs {counts['outputs']}, "
        f"dropped {counts['dropped']}, errors {counts['errors']}"
    )
    if counts["skipped"]:
        text += f" ({counts['skipped']} skipped, {counts['dead_lettered']} of them dead-lettered)"
    if message:
        text += f"; {message}"
    fields: dict[str, Any] = {"event": "summary", "stream_id": sid, "status": status, **counts}
    fields["error"] = message or None
    if before:
        text += " (finished before this run; --restart runs it again)"
        fields["finished_before"] = True
    return text, fields


def summary(provider: Provider) -> tuple[list[Line], bool]:
    """One line per stream of ``provider`` (status and counts), and whether any stream ended in ``:error``."""
    lines = []
    failed = False
    for sid in provider.stream_ids():
        report = provider.inspect(sid)
        failed = failed or report["status"] == Status.ERROR.value
        lines.append(_line(sid, report["status"], report["stats"], report["message"], before=False))
    return lines, failed


def finished_summary(snap: Snapshot) -> Line:
    """The line of a stream that had finished before this run, from its snapshot."""
    message = snap.status_message if snap.status == Status.ERROR.value else None
    return _line(snap.stream_id, snap.status, snap.stats, message, before=True)
