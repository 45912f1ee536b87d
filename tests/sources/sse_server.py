"""A small HTTP/1.1 Server-Sent Events server for tests and benchmarks, with fault injection.

It runs in-process on a free loopback port (``async with SseTestServer(plan) as server``; pass ``port`` to come back
on the port of a server that was stopped), or as a subprocess for
the benchmark (``python -m tests.sources.sse_server --events N``, which prints the URL and serves until killed).
Responses are ``Connection: close`` bodies without a length, so closing the socket ends the body cleanly (a drop
the client must reconnect after); ``drop_mode="reset"`` aborts the socket instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import sys
from dataclasses import dataclass, field
from typing import Literal

from tests.loopback import LoopbackServer

__all__ = ["Event", "Plan", "SseTestServer", "encode"]


@dataclass(frozen=True)
class Event:
    data: str
    id: str | None = None
    event: str | None = None
    retry_ms: int | None = None


def encode(ev: Event) -> bytes:
    """The wire form of one event."""
    lines = []
    if ev.event is not None:
        lines.append(f"event: {ev.event}")
    if ev.id is not None:
        lines.append(f"id: {ev.id}")
    if ev.retry_ms is not None:
        lines.append(f"retry: {ev.retry_ms}")
    lines.extend(f"data: {part}" for part in ev.data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


@dataclass
class Plan:
    """What the server does; every list is consumed one entry per connection."""

    events: list[Event] = field(default_factory=list)
    #: answers for the first connections, before any event: (status, extra headers)
    statuses: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    #: on the n-th successful connection, close after this many events
    drop_after: list[int] = field(default_factory=list)
    drop_mode: Literal["close", "reset"] = "close"
    #: ignore Last-Event-ID and start from the first event on every connection
    ignore_last_event_id: bool = False
    #: on a resumed connection, resend this many events before the requested position
    replay_overlap: int = 0
    #: write ignorable junk (unknown fields, lines without a colon) between events
    garbage: bool = False
    #: comment lines (": ping") sent this often while waiting between events (seconds)
    heartbeat: float | None = None
    #: pause before each event (seconds)
    gap: float = 0.0
    #: on the first connection only, go silent after this many events and never send more
    stall_after: int | None = None
    #: how the stream ends once every event was sent
    end: Literal["event", "204", "hang"] = "event"
    #: when set, the bearer token the server accepts
    token: str | None = None
    content_type: str = "text/event-stream"


class SseTestServer(LoopbackServer):
    """Serves a :class:`Plan`; records each request's headers and arrival time."""

    def __init__(self, plan: Plan, *, sndbuf: int | None = None, port: int = 0) -> None:
        super().__init__(port=port)
        self.plan = plan
        self.sndbuf = sndbuf
        #: set when a client went away while the server was writing to it
        self.client_gone = asyncio.Event()
        self.requests: list[dict[str, str]] = []
        self.request_times: list[float] = []
        self.sent = 0
        self.sent_bytes = 0
        self.blocked = asyncio.Event()
        self.sent_when_blocked: int | None = None
        #: whether a write is waiting right now for the client to read (the socket buffers are full)
        self.stuck = False
        self._connections = 0
        self._finished = False

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.sndbuf is not None:
            writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.sndbuf)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)
            }
            self.requests.append(headers)
            self.request_times.append(asyncio.get_running_loop().time())
            await self._respond(headers, writer)
        except ConnectionError:
            self.client_gone.set()
        except (asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away before asking, or the test is stopping the server

    async def _respond(self, headers: dict[str, str], writer: asyncio.StreamWriter) -> None:
        plan = self.plan
        index = len(self.requests) - 1
        if plan.token is not None and headers.get("authorization") != f"Bearer {plan.token}":
            await _simple(writer, 401, {"WWW-Authenticate": "Bearer"}, "bad token")
            return
        if index < len(plan.statuses):
            status, extra = plan.statuses[index]
            await _simple(writer, status, extra, f"status {status}")
            return
        if self._finished and plan.end == "204":
            await _simple(writer, 204, {}, "")
            return
        start = 0
        last = headers.get("last-event-id")
        if last and not plan.ignore_last_event_id:
            ids = [ev.id for ev in plan.events]
            start = ids.index(last) + 1 if last in ids else 0
            start = max(0, start - plan.replay_overlap)
        connection = self._connections
        self._connections += 1
        limit = plan.drop_after[connection] if connection < len(plan.drop_after) else None
        writer.write(
            f"HTTP/1.1 200 OK\r\nContent-Type: {plan.content_type}\r\nCache-Control: no-store\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        await writer.drain()
        for n, ev in enumerate(plan.events[start:]):
            if connection == 0 and plan.stall_after is not None and n >= plan.stall_after:
                await asyncio.Event().wait()
            if limit is not None and n >= limit:
                if plan.drop_mode == "reset":
                    writer.transport.abort()
                return
            await self._wait_gap(writer)
            if plan.garbage:
                writer.write(b"nonsense line without a colon\nx-unknown-field: 1\n\n")
            await self._send(writer, encode(ev))
        self._finished = True
        if plan.end == "event":
            await self._send(writer, b"event: end\ndata: {}\n\n", count=False)
        elif plan.end == "hang":
            await asyncio.Event().wait()

    async def _wait_gap(self, writer: asyncio.StreamWriter) -> None:
        remaining = self.plan.gap
        beat = self.plan.heartbeat
        while remaining > 0:
            step = min(remaining, beat) if beat else remaining
            await asyncio.sleep(step)
            remaining -= step
            if beat:
                writer.write(b": ping\n\n")
                await writer.drain()

    async def _send(self, writer: asyncio.StreamWriter, data: bytes, *, count: bool = True) -> None:
        writer.write(data)
        if count:
            self.sent += 1
            self.sent_bytes += len(data)
        transport = writer.transport
        full = transport.get_write_buffer_size() > transport.get_write_buffer_limits()[1]
        if full and not self.blocked.is_set():
            self.sent_when_blocked = self.sent
            self.blocked.set()
        self.stuck = full
        try:
            await writer.drain()
        finally:
            self.stuck = False


async def _simple(writer: asyncio.StreamWriter, status: int, headers: dict[str, str], body: str) -> None:
    reasons = {204: "No Content", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}
    reasons |= {500: "Internal Server Error", 503: "Service Unavailable"}
    payload = body.encode()
    head = f"HTTP/1.1 {status} {reasons.get(status, 'Status')}\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    if status != 204:
        head += f"Content-Type: text/plain\r\nContent-Length: {len(payload)}\r\n"
    writer.write(head.encode() + b"\r\n" + (payload if status != 204 else b""))
    await writer.drain()


def bench_events(count: int, size: int) -> list[Event]:
    """The benchmark's events: JSON objects with a sequence number and padding."""
    pad = "x" * max(0, size)
    return [Event(json.dumps({"seq": i, "pad": pad}), id=str(i)) for i in range(1, count + 1)]


async def _serve_forever(count: int, size: int) -> None:
    # Pre-encode once so the server is not the bottleneck of a benchmark.
    body = b"".join(encode(ev) for ev in bench_events(count, size)) + b"event: end\ndata: {}\n\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
            view = memoryview(body)
            for start in range(0, len(body), 1 << 18):
                writer.write(view[start : start + (1 << 18)])
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"http://127.0.0.1:{port}/events\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=64, help="padding characters per event")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(args.events, args.size))
