"""An MCP server on the official Python SDK, over stdio, for benchmarks/bench_mcp.py: ``progress(steps)`` reports
``steps`` progress notifications as fast as it can, then returns ``{"steps": steps}``."""

from __future__ import annotations

from mcp.server.mcpserver import Context, MCPServer

mcp = MCPServer("streamrt-bench", log_level="WARNING")


@mcp.tool()
async def progress(steps: int, ctx: Context) -> dict[str, int]:
    """Report progress 1..steps."""
    for i in range(1, steps + 1):
        await ctx.report_progress(i, steps)
    return {"steps": steps}


if __name__ == "__main__":
    mcp.run("stdio")
