"""MCP throughput, both ends: outputs per second through ``stream.watch`` against the same outputs from the HTTP
API's event stream; and chunks per second from a stdio MCP tool through the ``mcp+stdio:`` source, against a bare
MCP SDK client reading the same tool.

Run from the repository root::

    .venv/bin/python benchmarks/bench_mcp.py [--outputs 5000] [--steps 10000] [--pairs 5]

**Part 1, the server face.** ``benchmarks/mcp_serve_runner.py`` runs ``streamrt serve`` with the MCP face in a
process of its own (SQLite store, no auth). A stream of ``benchmarks/bench_outputs.rtfs`` is fed ``--outputs``
chunks and completes, so its event log holds that many outputs. Each pair then reads all of them, back to back and
in alternating order: (c) ``GET /streams/{id}/events`` with httpx-sse, counting output events until the stream's
end; (d) ``stream.watch`` from the official Python SDK's client over Streamable HTTP, counting progress
notifications (one per output) until the result, which holds every output too. Ratio (d)/(c), median of the pairs.

**Part 2, the stdio source.**
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
import subprocess
import sys
import tempfile
import time
from contextlib import aclosing
from pathlib import Path

import httpx
import httpx2
from httpx_sse import aconnect_sse
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from streamrt.sources.mcp_stdio import McpStdioSource

HERE = Path(__file__).resolve().parent
SERVER = HERE / "mcp_progress_server.py"
RUNNER = HERE / "mcp_serve_runner.py"
OUTPUTS_SCRIPT = HERE / "bench_outputs.rtfs"
FIREHOSE = HERE / "mcp_firehose_server.py"


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


async def sse_events(base: str, stream_id: str, outputs: int) -> float:
    """(c): seconds to read every output event of the stream from the HTTP API's event stream."""
    seen = 0
    async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=120)) as client:
        start = time.perf_counter()
        async with aconnect_sse(client, "GET", f"{base}/streams/{stream_id}/events") as source:
            async for event in source.aiter_sse():
                if event.event == "output":
                    seen += 1
        end = time.perf_counter()
    assert seen == outputs, seen
    return end - start


async def mcp_watch(base: str, stream_id: str, outputs: int) -> float:
    """(d): seconds for stream.watch to report every output (and return them all), SDK client over HTTP."""
    seen = 0

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        nonlocal seen
        seen += 1

    http = httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=120))
    async with (
        http,
        streamable_http_client(f"{base}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        start = time.perf_counter()
        result = await session.call_tool(
            "stream.watch", {"stream_id": stream_id}, progress_callback=on_progress
        )
        end = time.perf_counter()
    assert seen == outputs and len(result.structured_content["outputs"]) == outputs, seen  # type: ignore[index]
    return end - start


async def server_face(outputs: int, count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [sys.executable, str(RUNNER), str(OUTPUTS_SCRIPT), str(Path(tmp) / "bench.db")],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("READY "), line
            base = f"http://127.0.0.1:{line.split()[1]}"
            async with httpx.AsyncClient(timeout=60) as client:
                await client.post(f"{base}/streams", json={"processor": "echo-n", "id": "bench"})
                for first in range(0, outputs, 1000):
                    batch = [
                        {"n": n, "last": n == outputs - 1} for n in range(first, min(first + 1000, outputs))
                    ]
                    pushed = await client.post(f"{base}/streams/bench/chunks", json=batch)
                    assert pushed.status_code < 300, pushed.text
                while (await client.get(f"{base}/streams/bench")).json()["status"] != "completed":
                    await asyncio.sleep(0.05)
            await mcp_watch(base, "bench", outputs)  # warm both paths once
            await sse_events(base, "bench", outputs)
            ratios, rates_c, rates_d = [], [], []
            for i in range(count):
                if i % 2:
                    d = await mcp_watch(base, "bench", outputs)
                    c = await sse_events(base, "bench", outputs)
                else:
                    c = await sse_events(base, "bench", outputs)
                    d = await mcp_watch(base, "bench", outputs)
                rates_c.append(outputs / c)
                rates_d.append(outputs / d)
                ratios.append(c / d)
                print(
                    f"pair {i + 1}: (c) {outputs / c:>9,.0f}/s  (d) {outputs / d:>9,.0f}/s  ratio {c / d:.2f}x",
                    flush=True,
                )
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"(c) HTTP API event stream  : {statistics.median(rates_c):>9,.0f} outputs/s (median)")
    print(f"(d) MCP stream.watch       : {statistics.median(rates_d):>9,.0f} outputs/s (median)")
    print(f"ratio (d)/(c), median pair : {statistics.median(ratios):.2f}x")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outputs", type=int, default=5_000)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--only", choices=("server", "stdio"), help="run one part")
    args = parser.parse_args()
    if args.only != "stdio":
        print(
            f"-- {args.outputs:,} outputs of a finished stream, read whole, HTTP API SSE vs MCP stream.watch"
        )
        await server_face(args.outputs, args.pairs)
    if args.only == "server":
        return
    await bare_client(100)  # warm the page cache and the imports
    for server, what in (
        (SERVER, "the Python SDK's server"),
        (FIREHOSE, "a firehose peer (client side only)"),
    ):
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
        print(
            f"pair {i + 1}: (a) {steps / a:>9,.0f}/s  (b) {steps / b:>9,.0f}/s  ratio {a / b:.2f}x",
            flush=True,
        )
    print(
        f"(a) bare SDK client        : {statistics.median(rates_a):>9,.0f} progress notifications/s (median)"
    )
    print(f"(b) mcp+stdio source       : {statistics.median(rates_b):>9,.0f} chunks/s (median)")
    print(f"ratio (b)/(a), median pair : {statistics.median(ratios):.2f}x  (target >= 0.70x)")


if __name__ == "__main__":
    asyncio.run(main())
