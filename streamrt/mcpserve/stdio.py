"""``streamrt mcp``: the MCP face over stdio, for a client that launches streamrt as a command.

Standard output is the protocol channel, so nothing else may write there: logs go to stderr, and a source that
would read stdin (``-``) is refused whatever the flags say.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Final

from streamrt.mcpserve.server import build_server, opened
from streamrt.serve import ServeConfig, StreamService

__all__ = ["STDIO_CLIENT", "serve_stdio"]

STDIO_CLIENT: Final = "stdio"
"""Who owns the streams started over stdio (one client: whoever launched the process); kept in the store, so a
later ``streamrt mcp --store`` on the same store sees them again."""


async def serve_stdio(config: ServeConfig) -> None:
    """Open the service, serve MCP on stdin/stdout until the client closes stdin, close the service."""
    from mcp.server.stdio import stdio_server  # the SDK's stdio transport: only when serving

    service = StreamService(config)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    if task is not None:
        # a client that closed stdin sends SIGTERM after a grace period (the MCP spec's shutdown): stop serving and
        # close the service all the same, so the last snapshots and events are written
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        async with opened(service) as subscriptions:
            server = build_server(service, lambda ctx: STDIO_CLIENT, subscriptions)
            async with stdio_server() as (read, write):
                await server.run(read, write, server.create_initialization_options())
    except asyncio.CancelledError:
        if task is None or not task.cancelling():
            raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
