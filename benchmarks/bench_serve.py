"""The server's speed and footprint, each against a baseline measured in the same run.

Run from the repository root::

    .venv/bin/python benchmarks/bench_serve.py [--subscribers 100] [--events 2000] [--chunks 100000]
                                               [--batch 1000] [--idle 500] [--streams 1000] [--repeats 3]

(a) Fan-out: ``--events`` outputs of one stream delivered over SSE to ``--subscribers`` subscribers of a
    ``streamrt serve`` app (uvicorn on loopback, memory store, the events going through the event log), against a
    bare sse-starlette app on the same uvicorn whose generators send the same events (same ids, types and JSON
    data) from memory. Both are timed from the moment the events exist (the push is answered / the bare app is told
    to go) until every subscriber has read the last one; the clients are the same code in both runs. Rate = events
    delivered per second (subscribers x events / seconds); ratio = streamrt / bare (target >= 0.7x). Best of
    ``--repeats``, the two interleaved.
(b) Intake: ``--chunks`` chunks pushed over HTTP as NDJSON in batches of ``--batch`` (one client, one request at a
    time, each awaited; the memory store, a snapshot every ``--batch`` chunks), against ``Provider.push_many`` of the
    same chunks in-process into the same processor, no store; both until the stream has processed them all.
    Reported as a ratio (no target: HTTP, JSON and the event log cost what they cost).
(c) Memory per idle subscriber: ``--idle`` SSE subscriptions held open by a separate client process against a
    stream with no events; the server's allocations (tracemalloc, this process only) before and after, per
    subscriber (target < 50 KB).
(d) Memory per idle stream: ``--streams`` streams started through the service (the same path as POST /streams,
    without the HTTP), each with its owner and feed; the server's allocations per stream.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import textwrap
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from streamrt.lang.script import load_script
from streamrt.runtime import Provider
from streamrt.serve import ApiServer, ClientLimits, ServeConfig, create_app

SCRIPT = Path(__file__).resolve().parent.parent / "tests" / "serve" / "echo.rtfs"


def _config(**changes: Any) -> ServeConfig:
    return ServeConfig(
        scripts=[SCRIPT],
        store="memory:",
        no_auth=True,
        limits=ClientLimits(streams=100_000, subscribers=100_000, pushes_per_minute=1_000_000),
        keep_events=1_000_000,
        **changes,
    )


async def _subscriber(http: httpx.AsyncClient, path: str, want: int, ready: asyncio.Event) -> None:
    seen = 0
    async with http.stream("GET", path) as response:
        ready.set()
        async for part in response.aiter_bytes():
            seen += part.count(b"event: output")
            if seen >= want:
                return


async def _fan_out(url: str, path: str, subscribers: int, events: int, go: Any) -> float:
    """Connect every subscriber, then ``go()``; seconds until all have read ``events`` outputs."""
    limits = httpx.Limits(max_connections=subscribers + 10, max_keepalive_connections=subscribers + 10)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        readies = [asyncio.Event() for _ in range(subscribers)]
        tasks = [asyncio.create_task(_subscriber(http, path, events, r)) for r in readies]
        for r in readies:
            await r.wait()
        await asyncio.sleep(0.2)
        start = time.perf_counter()
        await go(http)
        await asyncio.gather(*tasks)
        return time.perf_counter() - start


async def fan_out_streamrt(subscribers: int, events: int) -> float:
    server = ApiServer(create_app(_config()), "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            sid = (await http.post("/streams", json={"processor": "echo"})).json()["id"]
        body = "\n".join(json.dumps({"i": i, "city": "Oslo"}) for i in range(events)).encode()

        async def go(http: httpx.AsyncClient) -> None:
            r = await http.post(
                f"/streams/{sid}/chunks", content=body, headers={"Content-Type": "application/x-ndjson"}
            )
            assert r.status_code == 202, r.text

        return await _fan_out(server.url, f"/streams/{sid}/events", subscribers, events, go)
    finally:
        await server.stop()


async def fan_out_bare(subscribers: int, events: int) -> float:
    started = asyncio.Event()
    datas = [
        json.dumps({"seq": i + 1, "value": {"i": i, "city": "Oslo"}}, separators=(",", ":"))
        for i in range(events)
    ]

    async def stream(request: Request) -> EventSourceResponse:
        async def gen() -> AsyncIterator[ServerSentEvent]:
            yield ServerSentEvent(retry=1000)
            await started.wait()
            for i, data in enumerate(datas):
                yield ServerSentEvent(data=data, event="output", id=str(i + 1))

        return EventSourceResponse(gen(), ping=15)

    app = Starlette(routes=[Route("/events", stream)])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]

    async def go(http: httpx.AsyncClient) -> None:
        started.set()

    try:
        return await _fan_out(f"http://127.0.0.1:{port}", "/events", subscribers, events, go)
    finally:
        server.should_exit = True
        await task


async def intake_http(chunks: int, batch: int) -> float:
    server = ApiServer(create_app(_config(snapshot_every=str(batch))), "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as http:
            sid = (await http.post("/streams", json={"processor": "echo"})).json()["id"]
            bodies = [
                "\n".join(json.dumps({"i": i}) for i in range(first, min(first + batch, chunks))).encode()
                for first in range(0, chunks, batch)
            ]
            start = time.perf_counter()
            for body in bodies:
                r = await http.post(
                    f"/streams/{sid}/chunks", content=body, headers={"Content-Type": "application/x-ndjson"}
                )
                assert r.status_code == 202, r.text
            while server.service.provider.streams[sid].processed < chunks:
                await asyncio.sleep(0.001)
            return time.perf_counter() - start
    finally:
        await server.stop()


async def intake_in_process(chunks: int) -> float:
    proc = load_script(SCRIPT).processor("echo")
    from streamrt.jsoncodec import from_json

    values = [from_json({"i": i}) for i in range(chunks)]
    async with Provider() as provider:
        sid = provider.start(proc, processor_name="echo")
        start = time.perf_counter()
        await provider.push_many(sid, values)
        await provider.settle(sid)
        return time.perf_counter() - start


_IDLE_CLIENT = textwrap.dedent(
    """
    import asyncio, sys
    async def main(port, path, n):
        held = []
        for _ in range(n):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET {path} HTTP/1.1\\r\\nHost: x\\r\\nAccept: text/event-stream\\r\\n\\r\\n".encode())
            await writer.drain()
            await reader.readuntil(b"retry: ")
            held.append((reader, writer))
        print("held", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
    """
)


async def idle_subscribers(n: int) -> tuple[float, float]:
    """Bytes the server allocates per idle subscriber, and per idle stream (tracemalloc, this process)."""
    server = ApiServer(create_app(_config(heartbeat=3600)), "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            sid = (await http.post("/streams", json={"processor": "echo"})).json()["id"]
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        client = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _IDLE_CLIENT, str(server.port), f"/streams/{sid}/events", str(n),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        assert client.stdout is not None and client.stdin is not None
        assert (await client.stdout.readline()).strip() == b"held"
        await asyncio.sleep(0.5)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        assert server.service.budget.total_subscribers() == n
        client.stdin.write(b"\n")
        await client.stdin.drain()
        await client.wait()
        return (after - before) / n, 0.0
    finally:
        await server.stop()


async def idle_streams(n: int) -> float:
    server = ApiServer(create_app(_config()), "127.0.0.1", 0)
    await server.start()
    try:
        service = server.service
        await service.start("anonymous", "echo")  # warm every lazily built part
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(n):
            view = await service.start("anonymous", "echo")
            service.feed(view.id)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        return (after - before) / n
    finally:
        await server.stop()


async def main(args: argparse.Namespace) -> None:
    print("bench_serve:", " ".join(sys.argv[1:]) or "(defaults)")
    ours: list[float] = []
    bare: list[float] = []
    for _ in range(args.repeats):
        ours.append(await fan_out_streamrt(args.subscribers, args.events))
        bare.append(await fan_out_bare(args.subscribers, args.events))
    delivered = args.subscribers * args.events
    r_ours, r_bare = delivered / min(ours), delivered / min(bare)
    print(
        f"(a) fan-out, {args.subscribers} SSE subscribers x {args.events} events: streamrt {r_ours:,.0f} events/s, "
        f"bare sse-starlette {r_bare:,.0f} events/s, ratio {r_ours / r_bare:.2f}x (target >= 0.7x)"
    )
    http_s = min([await intake_http(args.chunks, args.batch) for _ in range(args.repeats)])
    local_s = min([await intake_in_process(args.chunks) for _ in range(args.repeats)])
    print(
        f"(b) intake, {args.chunks} chunks: HTTP NDJSON batches of {args.batch} {args.chunks / http_s:,.0f} chunks/s, "
        f"push_many in-process {args.chunks / local_s:,.0f} chunks/s, ratio {local_s / http_s:.2f}x"
    )
    tracemalloc.start()
    per_sub, _ = await idle_subscribers(args.idle)
    per_stream = await idle_streams(args.streams)
    tracemalloc.stop()
    print(f"(c) memory per idle subscriber ({args.idle} held open): {per_sub / 1024:.1f} KB (target < 50 KB)")
    print(f"(d) memory per idle stream ({args.streams} started): {per_stream / 1024:.1f} KB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=500)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
