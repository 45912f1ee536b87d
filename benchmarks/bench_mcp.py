"""MCP throughput: chunks per second from a stdio MCP tool through the ``mcp+stdio:`` source, against a bare MCP SDK
client reading the same tool.

Run from the repository root::

    .venv/bin/python benchmarks/bench_mcp.py [--steps 10000] [--pairs 5]

The server is ``benchmarks/mcp_progress_server.py`` (the official Python SDK over stdio): its ``progress`` tool
reports ``--steps`` progress notifications as fast as it can, then returns. Each pair runs, back to back and in
alternating order:

(a) the bare SDK client: ``stdio_client`` + ``ClientSession.call_tool`` with a ``progress_callback`` that counts;
(b) :class:`streamrt.sources.mcp_stdio.McpStdioSource` read to the end (every notification becomes a chunk with its
    metadata and continuation, the result too).

A second series runs both against ``benchmarks/mcp_firehose_server.py``, a peer that writes the notifications as
fast as the pipe takes them, which shows the clients' own costs (the SDK's server is the slower side above).

Both launch the server and initialize first; the clock runs from the first progress notification to the result,
so what is compared is the streaming, not the start of a Python process. The median of the pairs' ratios (b)/(a)
is the figure (target >= 0.7x); a load spike hits both halves of a pair.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from contextlib import aclosing
from pathlib import Path

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from streamrt.sources.mcp_stdio import McpStdioSource

SERVER = Path(__file__).resolve().with_name("mcp_progress_server.py")
FIREHOSE = Path(__file__).resolve().with_name("mcp_firehose_server.py")


async def bare_client(steps: int, server: Path = SERVER) -> float:
    """(a): seconds from the first progress notification to the result, with the SDK's client alone."""
    params = StdioServerParameters(command=sys.executable, args=[str(server)])
    first: list[float] = []
    seen = 0

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        nonlocal seen
        if not first:
            first.append(time.perf_counter())
        seen += 1

    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.call_tool("progress", {"steps": steps}, progress_callback=on_progress)
        end = time.perf_counter()
    assert seen == steps, seen
    return end - first[0]


async def stdio_source(steps: int, server: Path = SERVER) -> float:
    """(b): the same, as chunks of the mcp+stdio source."""
    uri = f"mcp+stdio:{sys.executable}?args={server}&tool=progress&arguments=%7B%22steps%22%3A{steps}%7D"
    source = McpStdioSource(uri)
    start = 0.0
    chunks = 0
    async with source, aclosing(source.items()) as items:
        async for _ in items:
            if not chunks:
                start = time.perf_counter()
            chunks += 1
        end = time.perf_counter()
    assert chunks == steps + 1, chunks  # every progress step, then the result
    return end - start


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    await bare_client(100)  # warm the page cache and the imports
    for server, what in ((SERVER, "the Python SDK's server"), (FIREHOSE, "a firehose peer (client side only)")):
        print(f"-- {args.steps:,} progress steps from {what}: {server.name}", flush=True)
        await pairs(args.steps, args.pairs, server)


async def pairs(steps: int, count: int, server: Path) -> None:
    ratios, rates_a, rates_b = [], [], []
    for i in range(count):
        if i % 2:
            b = await stdio_source(steps, server)
            a = await bare_client(steps, server)
        else:
            a = await bare_client(steps, server)
            b = await stdio_source(steps, server)
        rates_a.append(steps / a)
        rates_b.append(steps / b)
        ratios.append(a / b)
        print(f"pair {i + 1}: (a) {steps / a:>9,.0f}/s  (b) {steps / b:>9,.0f}/s  ratio {a / b:.2f}x", flush=True)
    print(f"(a) bare SDK client        : {statistics.median(rates_a):>9,.0f} progress notifications/s (median)")
    print(f"(b) mcp+stdio source       : {statistics.median(rates_b):>9,.0f} chunks/s (median)")
    print(f"ratio (b)/(a), median pair : {statistics.median(ratios):.2f}x  (target >= 0.70x)")


if __name__ == "__main__":
    asyncio.run(main())
