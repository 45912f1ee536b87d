"""``streamrt mcp``: the MCP face over stdio, for a client that launches streamrt as a command.

Standard output is the protocol channel, so nothing else may write there: logs go to stderr, and a source that
would read stdin (``-``) is refused whatever the flags say.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any, Final

from mcp.server.lowlevel import Server

from streamrt.mcpserve.server import build_server, opened
from streamrt.serve import ServeConfig, StreamService

__all__ = ["STDIO_CLIENT", "serve_stdio"]

STDIO_CLIENT: Final = "stdio"
"""Who owns the streams started over stdio (one client: whoever launched the process); kept in the store, so a
later ``streamrt mcp --store`` on the same store sees them again."""


async def serve_stdio(config: ServeConfig) -> None:
    """Open the service, serve MCP on stdin/stdout until the client closes stdin, close the service."""
    service = StreamService(config)
    loop = asyncio.get_running_loop()
    serving: asyncio.Task[None] | None = None

    def stop() -> None:
        # a client that closed stdin sends SIGTERM after a grace period (the MCP spec's shutdown): stop serving, but
        # never cancel the close itself, which writes the last snapshots and events (a SIGKILL comes only later)
        if serving is not None:
            serving.cancel()

    loop.add_signal_handler(signal.SIGTERM, stop)
    try:
        async with opened(service) as subscriptions:
            server = build_server(service, lambda ctx: STDIO_CLIENT, subscriptions)
            serving = asyncio.create_task(_serve(server), name="streamrt-mcp-stdio")
            try:
                await serving
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # this task was cancelled, not only the serving by a SIGTERM
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


async def _serve(server: Server[Any]) -> None:
    from mcp.server.stdio import stdio_server  # the SDK's stdio transport: only when serving

    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())
