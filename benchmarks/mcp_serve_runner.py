"""``streamrt serve`` with the MCP face for benchmarks/bench_mcp.py, in a process of its own: no auth, loopback, a
free port printed as ``READY <port>`` once it answers. Usage: ``python mcp_serve_runner.py SCRIPT STORE``."""

from __future__ import annotations

import asyncio
import sys

from streamrt.mcpserve.http import create_mcp_app
from streamrt.serve import ApiServer, ServeConfig


async def main() -> None:
    config = ServeConfig(scripts=[sys.argv[1]], store=sys.argv[2], no_auth=True, keep_events=1_000_000)
    server = ApiServer(create_mcp_app(config), "127.0.0.1", 0)
    await server.start()
    print(f"READY {server.port}", flush=True)
    try:
        await server.wait()
    finally:
        await server.stop()


if __name__ == "__main__":
    asyncio.run(main())
