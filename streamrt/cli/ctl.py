"""``streamrt ctl``: talk to a running server (``streamrt serve`` or ``streamrt run --api``) from the shell.

``--url`` (or ``STREAMRT_API_URL``) names the server; the token comes from ``STREAMRT_API_TOKEN`` only, so it never
shows in a process list or a shell history. Every command prints JSON (``events`` one event a line) and exits 0;
a refusal prints the server's problem (``streamrt ctl: no stream 'x' (404 unknown-stream)``) and exits 1; a server
out of reach exits 2. Only argparse is imported here; the client (httpx) when the command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

__all__ = ["add_ctl_parser", "cmd_ctl"]

_DIRECTIVES = ("pause", "resume", "cancel", "stop", "complete", "end")


def add_ctl_parser(sub: Any) -> None:
    ctl = sub.add_parser(
        "ctl",
        help="direct, inspect, feed and follow the streams of a running server (token: STREAMRT_API_TOKEN)",
    )
    ctl.add_argument("--url", help="the server (default: STREAMRT_API_URL, else http://127.0.0.1:8750)")
    actions = ctl.add_subparsers(dest="ctl_command", required=True, metavar="ACTION")
    for name in _DIRECTIVES:
        action = actions.add_parser(name, help=f"{name} a stream")
        action.add_argument("stream_id", metavar="ID")
    actions.add_parser("list", help="the caller's streams")
    inspect = actions.add_parser("inspect", help="one stream in detail")
    inspect.add_argument("stream_id", metavar="ID")
    inspect.add_argument("--queue", action="store_true", help="include the queued chunks")
    start = actions.add_parser("start", help="start a stream of one of the server's processors")
    start.add_argument("processor", metavar="PROCESSOR")
    start.add_argument("--id", dest="stream_id", metavar="ID")
    start.add_argument("--state", metavar="JSON", help="the initial state")
    start.add_argument("--source", metavar="URI")
    push = actions.add_parser("push", help="push JSON lines from a file (or - for stdin)")
    push.add_argument("stream_id", metavar="ID")
    push.add_argument("file", nargs="?", default="-", metavar="FILE")
    push.add_argument(
        "--batch", type=int, default=1000, metavar="N", help="chunks per request (default 1000)"
    )
    events = actions.add_parser("events", help="print a stream's events as JSON lines until it ends")
    events.add_argument("stream_id", metavar="ID")
    events.add_argument("--after", type=int, default=0, metavar="N", help="start after event N")
    delete = actions.add_parser("delete", help="cancel a stream and forget it")
    delete.add_argument("stream_id", metavar="ID")


def _lines(path: str, stdin: TextIO) -> Any:
    handle = stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        for n, line in enumerate(handle, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise ValueError(f"{path}:{n}: not JSON: {exc}") from None
    finally:
        if handle is not stdin:
            handle.close()


async def _run(args: argparse.Namespace, out: TextIO) -> None:
    from streamrt.client import Client  # httpx: only when a ctl command runs

    def show(value: Any) -> None:
        out.write(json.dumps(value, ensure_ascii=False) + "\n")
        out.flush()

    command = args.ctl_command
    async with Client(args.url) as api:
        if command in _DIRECTIVES:
            show(await api.direct(args.stream_id, command))
        elif command == "list":
            show(await api.streams())
        elif command == "inspect":
            show(await api.inspect(args.stream_id, queue=args.queue))
        elif command == "start":
            state = json.loads(args.state) if args.state else None
            show(await api.start(args.processor, state=state, source=args.source, stream_id=args.stream_id))
        elif command == "push":
            sent = await api.push(args.stream_id, _lines(args.file, sys.stdin), batch=args.batch)
            show({"pushed": sent})
        elif command == "events":
            async for event in api.events(args.stream_id, after=args.after):
                show({"id": event.id, "event": event.kind, "data": event.data})
        elif command == "delete":
            await api.delete(args.stream_id)
            show({"deleted": args.stream_id})


def cmd_ctl(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import asyncio  # for start-up speed: `streamrt --help` imports this module for its flags

    import httpx

    from streamrt.errors import ApiError

    try:
        asyncio.run(_run(args, out))
    except ApiError as exc:
        err.write(f"streamrt ctl: {exc}\n")
        return 1
    except httpx.TransportError as exc:
        err.write(f"streamrt ctl: cannot reach the server: {exc or type(exc).__name__}\n")
        return 2
    except ValueError as exc:
        err.write(f"streamrt ctl: {exc}\n")
        return 2
    except OSError as exc:
        err.write(f"streamrt ctl: {exc}\n")
        return 2
    return 0
