"""Events per second through the SSE source, against a plain httpx-sse read loop of the same server.

Run from the repository root::

    .venv/bin/python benchmarks/bench_sources.py [--events 200000] [--size 64] [--rounds 3]

A subprocess serves ``--events`` pre-encoded JSON events on loopback (``tests/sources/sse_server.py``). Each round
reads the whole stream three times: (a) a plain loop (``aconnect_sse`` + ``aiter_sse`` + ``json.loads`` per event),
the ceiling; (a') the same loop producing language values (``from_json_text``), i.e. the same output as the source;
(b) :class:`streamrt.sources.sse.SseSource` into a no-op consumer (JSON parsed into language values, ids
tracked for exactly-once). The best round of each is reported with the ratio (target: (b) >= 0.7x (a)).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from httpx_sse import aconnect_sse

from streamrt.jsoncodec import from_json_text
from streamrt.sources import Chunk
from streamrt.sources.sse import SseSource

ROOT = Path(__file__).resolve().parent.parent


async def plain_loop(url: str) -> int:
    """The ceiling: what a hand-written httpx-sse consumer does."""
    count = 0
    timeout = httpx.Timeout(10.0, read=60.0)
    async with httpx.AsyncClient(timeout=timeout) as client, aconnect_sse(client, "GET", url) as events:
        async for event in events.aiter_sse():
            if event.event == "end":
                break
            json.loads(event.data)
            count += 1
    return count


async def plain_loop_values(url: str) -> int:
    """The plain loop producing what the source produces: JSON parsed into language values."""
    count = 0
    timeout = httpx.Timeout(10.0, read=60.0)
    async with httpx.AsyncClient(timeout=timeout) as client, aconnect_sse(client, "GET", url) as events:
        async for event in events.aiter_sse():
            if event.event == "end":
                break
            from_json_text(event.data)
            count += 1
    return count


async def through_source(url: str) -> int:
    """The same stream through the SSE source, into a no-op consumer."""
    count = 0
    async with SseSource(url) as source:
        async for item in source.items():
            if isinstance(item, Chunk):
                count += 1
    return count


async def timed(label: str, reader: Callable[[str], Awaitable[int]], url: str, expected: int) -> float:
    start = time.perf_counter()
    got = await reader(url)
    elapsed = time.perf_counter() - start
    if got != expected:
        raise SystemExit(f"{label}: read {got} events, expected {expected}")
    return got / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=64, help="padding characters per event")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.sources.sse_server",
            "--events",
            str(args.events),
            "--size",
            str(args.size),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        if not url.startswith("http://"):
            raise SystemExit("the SSE server did not start")
        plain: list[float] = []
        values: list[float] = []
        ours: list[float] = []
        for _ in range(args.rounds):
            plain.append(await timed("plain httpx-sse", plain_loop, url, args.events))
            values.append(await timed("plain httpx-sse, values", plain_loop_values, url, args.events))
            ours.append(await timed("SseSource", through_source, url, args.events))
    finally:
        server.terminate()
        server.wait(timeout=10)

    best_plain, best_ours = max(plain), max(ours)
    print(
        f"events: {args.events} x ~{args.size + 30} bytes, best of {args.rounds} rounds, Python {sys.version.split()[0]}"
    )
    print(f"(a) plain httpx-sse loop : {best_plain:12,.0f} events/s  (json.loads per event)")
    print(f"(a') same, language values: {max(values):11,.0f} events/s  (values.from_json_text per event)")
    print(f"(b) SseSource            : {best_ours:12,.0f} events/s")
    print(f"ratio (b)/(a)            : {best_ours / best_plain:12.2f}x  (target >= 0.70x)")
    print(f"ratio (b)/(a')           : {best_ours / max(values):12.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
