"""The store commands of ``streamrt``: ``inspect``, ``list``, ``dead-letters``, ``delete`` and ``prune``.

``streamrt.cli`` parses the command line and calls ``COMMANDS[name](args, out, err)``; each function runs its own
event loop and returns the exit code. Store and snapshot problems print one line and exit 2, like other usage
errors; ``inspect`` and ``list`` print JSON on stdout; ``dead-letters`` prints JSON lines, one dead letter per line,
oldest first, so a long list can be piped and filtered as it comes. ``delete`` and ``prune`` remove streams (snapshot,
lease and dead letters) and print each removed id on stdout; neither touches a stream another process is running
(its lease has not expired).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from collections.abc import Callable
from typing import Any, Final, TextIO

from streamrt.errors import SnapshotNotFoundError, StreamrtError, UsageError
from streamrt.jsoncodec import dumps_json, to_json
from streamrt.secrets import redact_url, shown_options
from streamrt.store import DeadLetter, Snapshot, SnapshotStore, open_store
from streamrt.values import Keyword

__all__ = ["COMMANDS", "FINISHED", "describe_dead_letter", "describe_snapshot", "parse_age"]

EXIT_OK: Final = 0
EXIT_USAGE: Final = 2

FINISHED: Final = frozenset({"completed", "stopped", "cancelled", "error"})
"""The terminal statuses ``prune --finished`` removes (docs/persistence.md)."""

_AGE: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d|w)")
_UNIT: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """``--older-than``: ``90s``, ``30m``, ``12h``, ``7d``, ``2w`` in seconds (UsageError otherwise)."""
    match = _AGE.fullmatch(text.strip().lower())
    if match is None:
        raise UsageError(f"--older-than: expected a number and a unit (s, m, h, d, w), e.g. 7d; got {text!r}")
    return float(match.group(1)) * _UNIT[match.group(2)]


_STATS: Final = (
    "processed",
    "queued",
    "dropped",
    "errors",
    "outputs",
    "last_latency",
    "last_event_time",
    "queue_high_watermark",
    "backpressure_wait",
    "skipped",
    "dead_lettered",
    "timers_run",
)
"""A live stream's stats fields (``StreamStats``), in its order (a test keeps the two equal); a counter a newer
snapshot has that this list lacks is shown after them."""
_FAULT: Final = Keyword("streamrt-fault")


def describe_snapshot(
    snap: Snapshot, *, include_state: bool = True, include_queue: bool = False
) -> dict[str, Any]:
    """A snapshot as JSON-ready data, with the field names of a live stream's inspect report
    (``Provider.inspect``): all of them but ``activity``, which only a running stream has, plus what the store
    adds (``processor_hash``, ``version``, ``created_at``, ``updated_at``)."""
    stats = {
        name: snap.stats.get(name, 0 if name not in ("last_latency", "last_event_time") else None)
        for name in _STATS
    }
    stats["queued"] = len(snap.queue)
    stats.update((k, v) for k, v in snap.stats.items() if k not in stats)
    out: dict[str, Any] = {
        "stream_id": snap.stream_id,
        "processor": snap.processor,
        "status": snap.status,
        "message": snap.status_message,
        "seq": snap.seq,
        "output_seq": snap.output_seq,
        "queue_capacity": snap.queue_capacity,
        "queue_depth": len(snap.queue),
        "input_ended": snap.input_ended,
        "source": None
        if snap.source_uri is None
        else {"uri": redact_url(snap.source_uri), "kind": snap.source_kind},
        "continuation": snap.continuation,
        "options": shown_options(snap.options),  # snapshots hold references; older ones may hold a secret
        "stats": stats,
        "processor_hash": snap.processor_hash,
        "version": snap.version,
        "created_at": snap.created_at,
        "updated_at": snap.updated_at,
    }
    if include_state:
        out["state"] = snap.state
        out["initial_state"] = snap.initial_state
    if include_queue:
        out["queue"] = _queue(snap)
    return to_json(out)  # type: ignore[no-any-return]


def _queue(snap: Snapshot) -> list[dict[str, Any]]:
    """The queued chunks as a live report shows them: ``seq``, ``received_at``, ``chunk``, ``meta`` (and
    ``fault`` for one its source could not decode)."""
    first = snap.seq - len(snap.queue) + 1
    received: list[float | None] = (
        [*snap.queue_received_at] if snap.queue_received_at else [None] * len(snap.queue)
    )
    entries = []
    for i, (chunk, meta) in enumerate(snap.queue):
        kept = dict(meta or {})
        fault = kept.pop(_FAULT, None)
        entry: dict[str, Any] = {"seq": first + i, "received_at": received[i], "chunk": chunk, "meta": kept}
        if fault is not None:
            entry["fault"] = fault
        entries.append(entry)
    return entries


def _print_json(value: Any, out: TextIO) -> None:
    out.write(dumps_json(value, ensure_ascii=False, indent=2) + "\n")


async def _inspect(args: argparse.Namespace, out: TextIO) -> int:
    async with open_store(args.store) as store:
        if args.stream_id is not None:
            snaps = [await store.get(args.stream_id)]
        else:
            snaps = [await store.get(row.stream_id) for row in await store.list()]
        reports = [
            describe_snapshot(s, include_state=not args.no_state, include_queue=args.queue) for s in snaps
        ]
    _print_json(reports[0] if args.stream_id is not None else reports, out)
    return EXIT_OK


async def _list(args: argparse.Namespace, out: TextIO) -> int:
    async with open_store(args.store) as store:
        rows = await store.list()
    _print_json(
        [
            {
                "stream_id": r.stream_id,
                "processor": r.processor,
                "status": r.status,
                "version": r.version,
                "seq": r.seq,
                "updated_at": r.updated_at,
            }
            for r in rows
        ],
        out,
    )
    return EXIT_OK


def describe_dead_letter(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter as JSON-ready data: ``stream``, ``seq``, ``error``, ``chunk``, ``meta``, ``created_at``."""
    return to_json(  # type: ignore[no-any-return]
        {
            "stream": letter.stream_id,
            "seq": letter.seq,
            "error": letter.error,
            "chunk": letter.chunk,
            "meta": letter.meta,
            "created_at": letter.created_at,
        }
    )


async def _dead_letters(args: argparse.Namespace, out: TextIO) -> int:
    async with open_store(args.store) as store:
        letters = await store.dead_letters(args.stream_id)
        if not letters and args.stream_id not in {row.stream_id for row in await store.list()}:
            raise SnapshotNotFoundError(f"the store {store.url} holds no stream {args.stream_id!r}")
    for letter in letters:
        out.write(dumps_json(describe_dead_letter(letter), ensure_ascii=False, separators=(",", ":")) + "\n")
    return EXIT_OK


async def _running(store: SnapshotStore, stream_id: str) -> str | None:
    """Who holds the stream's lease now, if anyone (a live run owns it)."""
    lease = await store.lease(stream_id)
    if lease is None or lease.expires_at <= time.time():
        return None
    return lease.owner


async def _delete(args: argparse.Namespace, out: TextIO) -> int:
    async with open_store(args.store) as store:
        snaps = await store.get_many(args.stream_ids)
        missing = [sid for sid in args.stream_ids if sid not in snaps]
        if missing:
            raise SnapshotNotFoundError(
                f"the store {store.url} holds no stream {', '.join(map(repr, missing))}"
            )
        for sid in args.stream_ids:
            owner = await _running(store, sid)
            if owner is not None:
                raise UsageError(f"stream {sid!r} is running (its lease is held by {owner}); stop it first")
        for sid in args.stream_ids:
            await store.delete(sid, expected_version=snaps[sid].version)
            out.write(f"{sid}\n")
    return EXIT_OK


async def _prune(args: argparse.Namespace, out: TextIO) -> int:
    if not args.finished:
        raise UsageError("say what to prune: --finished (completed, stopped, cancelled and error streams)")
    age = parse_age(args.older_than) if args.older_than is not None else 0.0
    cutoff = time.time() - age
    async with open_store(args.store) as store:
        rows = [r for r in await store.list() if r.status in FINISHED and r.updated_at <= cutoff]
        for row in rows:
            if args.dry_run or await _running(store, row.stream_id) is not None:
                if args.dry_run:
                    out.write(f"{row.stream_id}\n")
                continue
            try:
                await store.delete(row.stream_id, expected_version=row.version)
            except StreamrtError:
                continue  # written since it was listed (restarted, say): no longer what was asked to prune
            out.write(f"{row.stream_id}\n")
    return EXIT_OK


def _guarded(
    name: str, body: Callable[[argparse.Namespace, TextIO], Any]
) -> Callable[[argparse.Namespace, TextIO, TextIO], int]:
    def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
        try:
            code: int = asyncio.run(body(args, out))
        except StreamrtError as exc:
            err.write(f"streamrt {name}: {exc}\n")
            return EXIT_USAGE
        return code

    return command


COMMANDS: Final[dict[str, Callable[[argparse.Namespace, TextIO, TextIO], int]]] = {
    "inspect": _guarded("inspect", _inspect),
    "list": _guarded("list", _list),
    "dead-letters": _guarded("dead-letters", _dead_letters),
    "delete": _guarded("delete", _delete),
    "prune": _guarded("prune", _prune),
}
