"""Hostile HTTP peers on loopback: servers that misbehave the ways issue #18 found.

``async with HostilePeer(behaviour) as peer`` serves on a free loopback port (``peer.url``) from this process's event
loop and stops (closing every connection) on exit. Each behaviour is one coroutine writing raw HTTP/1.1, so a test
controls every byte. ``peer.connections`` counts connections, ``peer.requests`` keeps each request's head and body.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from tests.loopback import LoopbackServer

__all__ = ["BEHAVIOURS", "HostilePeer", "Request"]

OK_SSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"


class Request:
    """One request as the peer read it."""

    def __init__(self, head: str, body: bytes) -> None:
        lines = head.split("\r\n")
        self.method, self.path = lines[0].split(" ")[:2]
        self.headers = {
            k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)
        }
        self.head = head
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


Behaviour = Callable[["HostilePeer", Request, asyncio.StreamWriter], Awaitable[None]]


async def endless_line(peer: HostilePeer, req: Request, writer: asyncio.StreamWriter) -> None:
    """``data: xxxx...`` with no newline, ever (up to ``peer.limit`` bytes, then silence)."""
    writer.write(OK_SSE + b"data: ")
    block = b"x" * 65536
    while peer.sent < peer.limit:
        writer.write(block)
        peer.sent += len(block)
        await writer.drain()
    await asyncio.Event().wait()


async def endless_event(peer: HostilePeer, req: Request, writer: asyncio.StreamWriter) -> None:
    """Short ``data:`` lines that never reach the blank line that ends an event."""
    writer.write(OK_SSE)
    block = b"data: " + b"y" * 1000 + b"\n"
    block *= 64
    while peer.sent < peer.limit:
        writer.write(block)
        peer.sent += len(block)
        await writer.drain()
    await asyncio.Event().wait()


async def one_event_then_close(peer: HostilePeer, req: Request, writer: asyncio.StreamWriter) -> None:
    """One event without an id, then close: the client must not reconnect in a tight loop."""
    writer.write(OK_SSE + b'retry: 0\ndata: {"n": 1}\n\n')
    await writer.drain()


async def trickle(peer: HostilePeer, req: Request, writer: asyncio.StreamWriter) -> None:
    """A heartbeat, then one byte of an event every ``peer.interval`` seconds, never completing it."""
    writer.write(OK_SSE + b": hello\n\n" + b"data: ")
    await writer.drain()
    while True:
        await asyncio.sleep(peer.interval)
        writer.write(b"z")
        await writer.drain()


async def heartbeats(peer: HostilePeer, req: Request, writer: asyncio.StreamWriter) -> None:
    """A quiet but honest feed: a comment every ``peer.interval`` seconds and nothing else."""
    writer.write(OK_SSE)
    while True:
        writer.write(b": ping\n\n")
        await writer.drain()
        await asyncio.sleep(peer.interval)


async def echo_headers(peer: HostilePeer, req: Request, writer: asyncio.StreamWriter) -> None:
    """A 400 whose body echoes the request, headers and all (some frameworks' debug pages do)."""
    body = f"bad request; you sent:\n{req.head}".encode()
    writer.write(
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()


async def retry_echo_headers(peer: HostilePeer, req: Request, writer: asyncio.StreamWriter) -> None:
    """503 then a drop, echoing the request's headers in the status line's body, then an event stream."""
    if peer.connections <= 1:
        body = f"overloaded; you sent:\n{req.head}".encode()
        writer.write(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 0\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
    else:
        writer.write(OK_SSE + b'id: 1\ndata: {"n": 1}\n\nevent: end\ndata: {}\n\n')
    await writer.drain()


def _mcp(then: Behaviour) -> Behaviour:
    """An MCP server that initializes properly and answers ``tools/call`` with ``then``'s event stream."""

    async def serve(peer: HostilePeer, req: Request, writer: asyncio.StreamWriter) -> None:
        message = req.json() or {}
        if message.get("method") == "initialize":
            reply = {
                "jsonrpc": "2.0",
                "id": message["id"],
                "result": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "serverInfo": {"name": "h", "version": "1"},
                },
            }
            body = json.dumps(reply).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nMcp-Session-Id: s1\r\nConnection: close\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
        elif message.get("method") == "tools/call":
            await then(peer, req, writer)
        else:
            writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()

    return serve


BEHAVIOURS: dict[str, Behaviour] = {
    "mcp-endless-line": _mcp(endless_line),
    "mcp-trickle": _mcp(trickle),
    "endless-line": endless_line,
    "endless-event": endless_event,
    "one-event-then-close": one_event_then_close,
    "trickle": trickle,
    "heartbeats": heartbeats,
    "echo-headers": echo_headers,
    "retry-echo-headers": retry_echo_headers,
}


class HostilePeer(LoopbackServer):
    """Serves one behaviour on a free loopback port; closes every connection on exit."""

    def __init__(self, behaviour: str | Behaviour, *, limit: int = 64 * 2**20, interval: float = 0.2) -> None:
        super().__init__()
        self.behaviour = BEHAVIOURS[behaviour] if isinstance(behaviour, str) else behaviour
        self.limit = limit
        self.interval = interval
        self.sent = 0
        self.connections = 0
        self.requests: list[Request] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")[:-4]
            length = next(
                (
                    int(v)
                    for k, _, v in (ln.partition(":") for ln in head.split("\r\n"))
                    if k.lower() == "content-length"
                ),
                0,
            )
            request = Request(head, await reader.readexactly(length) if length else b"")
            self.requests.append(request)
            await self.behaviour(self, request, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
