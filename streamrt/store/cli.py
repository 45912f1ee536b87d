"""The store commands of ``streamrt``: ``resume``, ``inspect``, ``list`` and ``dead-letters``.

``streamrt.cli`` parses the command line and calls ``COMMANDS[name](args, out, err)``; each function runs its own
event loop and returns the exit code. Store and snapshot problems print one line and exit 2, like other usage
errors; ``inspect`` and ``list`` print JSON on stdout; ``dead-letters`` prints JSON lines, one dead letter per line,
oldest first, so a long list can be piped and filtered as it comes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from typing import Any, Final, TextIO

from streamrt.errors import SnapshotNotFoundError, StreamrtError
from streamrt.store import DeadLetter, Snapshot, open_store
from streamrt.values import to_json

__all__ = ["COMMANDS", "describe_dead_letter", "describe_snapshot"]

EXIT_OK: Final = 0
EXIT_USAGE: Final = 2


def describe_snapshot(
    snap: Snapshot, *, include_state: bool = True, include_queue: bool = False
) -> dict[str, Any]:
    """A snapshot as JSON-ready data, with the same field names as a live stream's inspect report."""
    out: dict[str, Any] = {
        "stream_id": snap.stream_id,
        "processor": snap.processor,
        "processor_hash": snap.processor_hash,
        "status": snap.status,
        "message": snap.status_message,
        "seq": snap.seq,
        "output_seq": snap.output_seq,
        "queue_capacity": snap.queue_capacity,
        "queued": len(snap.queue),
        "source_uri": snap.source_uri,
        "continuation": snap.continuation,
        "options": snap.options,
        "stats": snap.stats,
        "version": snap.version,
        "created_at": snap.created_at,
        "updated_at": snap.updated_at,
    }
    if include_state:
        out["state"] = snap.state
        out["initial_state"] = snap.initial_state
    if include_queue:
        out["queue"] = [{"chunk": chunk, "meta": meta} for chunk, meta in snap.queue]
    return to_json(out)  # type: ignore[no-any-return]


def _print_json(value: Any, out: TextIO) -> None:
    out.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


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
        out.write(json.dumps(describe_dead_letter(letter), ensure_ascii=False, separators=(",", ":")) + "\n")
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
}
