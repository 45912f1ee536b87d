"""A small MCP server on the official MCP Python SDK, spoken to over stdio by the stdio MCP source tests.

Usage: ``python mcp_stdio_server.py`` (the client launches it). It writes ``pid <n>`` on stderr at start, so a test
can check from the logs that the process is gone after its stream ended.

Tools:

- ``count(steps, delay=0, pad=0)``: reports progress ``1..steps`` (total ``steps``, message ``step i``, padded to
  ``pad`` characters) and logs ``step i`` at info level after each, then returns ``{"steps", "sum"}``. With
  ``sent_file`` it writes the number of steps sent so far to that file after each step (the backpressure test reads
  it).
- ``fail(message)``: a tool error (a result with ``isError``).
- ``changes()``: sends ``notifications/tools/list_changed`` and returns ``"changed"``.
- ``crash()``: the server exits with status 3 before answering.
"""

from __future__ import annotations

import os
import sys
import warnings

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPDeprecationWarning

# Context.info is deprecated for the 2026 protocol revision; this server speaks the handshake revisions.
warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

mcp = MCPServer("streamrt-stdio-test", log_level="WARNING")


@mcp.tool()
async def count(
    steps: int, ctx: Context, delay: float = 0.0, pad: int = 0, sent_file: str = ""
) -> dict[str, int]:
    """Report progress steps, log each, return the sum."""
    import anyio

    for i in range(1, steps + 1):
        await ctx.report_progress(i, steps, f"step {i}".ljust(pad))
        await ctx.info(f"step {i}")
        if sent_file:
            with open(sent_file, "w") as f:
                f.write(str(i))
        if delay:
            await anyio.sleep(delay)
    return {"steps": steps, "sum": steps * (steps + 1) // 2}


@mcp.tool()
async def fail(message: str) -> str:
    """Always a tool error."""
    raise ToolError(message)


@mcp.tool()
async def changes(ctx: Context) -> str:
    """Tell the client the tool list changed."""
    await ctx.request_context.session.send_tool_list_changed()
    return "changed"


@mcp.tool()
async def crash() -> str:
    """Exit without a reply."""
    print("crashing on purpose", file=sys.stderr, flush=True)
    os._exit(3)


if __name__ == "__main__":
    print(f"pid {os.getpid()}", file=sys.stderr, flush=True)
    mcp.run("stdio")
