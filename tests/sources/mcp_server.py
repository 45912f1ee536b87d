"""A small MCP server on the official MCP Python SDK, run as a subprocess by the MCP source tests.

Usage: ``python mcp_server.py [--drop-every K] [--retry-ms N] [--json-response] [--token T] [--no-event-store]
[--store-latency-ms N]``.
It binds a free loopback port and prints ``READY <port>`` on stdout once it accepts connections.

Tools:

- ``count(steps, delay=0)``: reports progress ``1..steps`` (total ``steps``, message ``step i``) and logs ``step i``
  at info level after each, then returns ``{"steps": steps, "sum": 1 + ... + steps}``. With ``--drop-every K`` the
  server closes the response stream after every K-th progress step (the client must resume with Last-Event-ID).
- ``fail(message)``: a tool error (a result with ``isError``).
- ``echo(text)``: returns ``text`` as plain text content.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import socket
import sys
import warnings

import anyio
import uvicorn
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http import (
    GET_STREAM_KEY,
    EventCallback,
    EventId,
    EventMessage,
    EventStore,
    StreamId,
)
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp_types import JSONRPCError, JSONRPCMessage, JSONRPCResponse

# Context.info is deprecated for the 2026 protocol revision; this server speaks the handshake revisions.
warnings.filterwarnings("ignore", category=MCPDeprecationWarning)


class MemoryEventStore(EventStore):
    """Every event of every stream, in order. Replaying a call's stream follows it live until the call's reply.

    Why follow instead of returning after the stored events: the SDK registers a resumed stream for live delivery
    only after ``replay_events_after`` returns and it has stored a priming event. A message stored in between is
    kept but sent nowhere, so the client never sees it (the SDK's own comment calls this "the replay→live-tail
    ordering window"; with a store that takes 30 ms per write it lost a step on every resume). While this store
    follows the stream, the SDK has not registered it, so each message goes out exactly once: from here. Once the
    reply is out it returns None and the SDK ends the response.

    ``drop(stream_id)`` ends a followed stream the way ``close_sse_stream`` ends a registered one, so the client
    must resume again (``--drop-every``). The standalone GET stream has no reply, so its replay still returns.
    """

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency  # seconds each write takes, as with a store over the network
        self._events: list[tuple[StreamId, EventId, JSONRPCMessage | None]] = []
        self._position: dict[EventId, int] = {}
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._drops: set[StreamId] = set()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        if self.latency:
            await asyncio.sleep(self.latency)
        event_id = f"ev-{next(self._ids)}"
        self._position[event_id] = len(self._events)
        self._events.append((stream_id, event_id, message))
        self._wake()
        return event_id

    def drop(self, stream_id: StreamId) -> None:
        """End the replay that follows ``stream_id``, if one does."""
        self._drops.add(stream_id)
        self._wake()

    async def replay_events_after(
        self, last_event_id: EventId, send_callback: EventCallback
    ) -> StreamId | None:
        start = self._position.get(last_event_id)
        if start is None:
            return None
        stream_id = self._events[start][0]
        self._drops.discard(stream_id)
        index = start + 1
        while True:
            while index < len(self._events):
                sid, event_id, message = self._events[index]
                index += 1
                if sid != stream_id or message is None:
                    continue
                await send_callback(EventMessage(message, event_id))
                if isinstance(message, JSONRPCResponse | JSONRPCError) and str(message.id) == stream_id:
                    return None  # the reply is out: the response ends here
            if stream_id == GET_STREAM_KEY:
                return stream_id
            if stream_id in self._drops:
                self._drops.discard(stream_id)
                raise anyio.ClosedResourceError  # what the SDK expects when a stream is closed on purpose
            await self._changed.wait()


class StaticTokenVerifier:
    """Accepts exactly one bearer token."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def verify_token(self, token: str) -> AccessToken | None:
        if token != self.token:
            return None
        return AccessToken(token=token, client_id="streamrt-tests", scopes=[])


def build_server(args: argparse.Namespace, port: int, store: MemoryEventStore | None) -> MCPServer:
    auth = None
    verifier = None
    if args.token:
        url = f"http://127.0.0.1:{port}"
        auth = AuthSettings(issuer_url=url, resource_server_url=f"{url}/mcp")  # type: ignore[arg-type]
        verifier = StaticTokenVerifier(args.token)
    mcp = MCPServer("streamrt-test", token_verifier=verifier, auth=auth, log_level="WARNING")

    @mcp.tool()
    async def count(steps: int, ctx: Context, delay: float = 0.0) -> dict[str, int]:
        """Report progress steps, log each, return the sum."""
        for i in range(1, steps + 1):
            await ctx.report_progress(i, steps, f"step {i}")
            await ctx.info(f"step {i}")
            if args.drop_every and i % args.drop_every == 0 and i < steps:
                await ctx.close_sse_stream()
                if store is not None:
                    store.drop(ctx.request_id)
            if delay:
                await asyncio.sleep(delay)
        return {"steps": steps, "sum": steps * (steps + 1) // 2}

    @mcp.tool()
    async def fail(message: str) -> str:
        """Always a tool error."""
        raise ToolError(message)

    @mcp.tool()
    async def echo(text: str) -> str:
        """Plain text back."""
        return text

    return mcp


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--drop-every", type=int, default=0)
    parser.add_argument("--retry-ms", type=int, default=None)
    parser.add_argument("--json-response", action="store_true")
    parser.add_argument("--token", default=None)
    parser.add_argument("--no-event-store", action="store_true")
    parser.add_argument("--store-latency-ms", type=float, default=0.0)
    args = parser.parse_args()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    store = None if args.no_event_store else MemoryEventStore(args.store_latency_ms / 1000)
    mcp = build_server(args, port, store)
    app = mcp.streamable_http_app(
        json_response=args.json_response,
        event_store=store,
        retry_interval=args.retry_ms,
    )
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            await serving
            return
        await asyncio.sleep(0.01)
    sys.stdout.write(f"READY {port}\n")
    sys.stdout.flush()
    await serving


if __name__ == "__main__":
    asyncio.run(main())
