"""The cluster's failover time and overhead, on the harness's topology (tests/cluster/harness.py) on loopback.

Run from the repository root (needs redis-server and haproxy: .ci/ensure-redis.sh, .ci/ensure-haproxy.sh)::

    .venv/bin/python benchmarks/bench_cluster.py [--store-url postgresql://...] [--kills 20] [--lease-ttl 2]
                                                 [--streams 60] [--chunks 100] [--batch 10]

(a) failover: three nodes; one probe stream gets a chunk every 50 ms through the load balancer and is followed
    by a subscriber. Its owner is SIGKILLed ``--kills`` times (each killed node is started again in the background);
    the figure is the time from the kill to the first output of the new owner at the subscriber, p50 and max.
    Target: the lease TTL + 1 s.
(b) throughput: ``--streams`` streams of ``--chunks`` chunks pushed in batches of ``--batch`` through the load
    balancer to three nodes, then to one node alone, and the baseline: the same pushes to a plain ``streamrt
    serve`` without ``--cluster`` on the same store. Chunks per second from the first push to the last answer
    (a 202 means the chunks are in a committed snapshot). Each is printed as a ratio of the baseline; on a
    two-core machine three nodes cannot be faster than one, so the figure is the cluster's overhead.
(c) Redis round trips per chunk in (b): Redis's own count of commands (``INFO stats``) over the run, divided by
    the chunks (leases, renewals, event appends, the log's XREAD, pushes' idempotency records, rebalancing).

The store is ``--store-url`` (PostgreSQL, as in production) or, without it, Redis itself (``redis://``, a prefix of
its own; there is then no plain-serve baseline, since a plain server keeps its event log in a SQL store, and the
one-node cluster is the baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.cluster.harness import TALLY, Cluster, Proc, find_binary, flags, free_port, request  # noqa: E402

__all__ = ["main"]


async def owner_index(cluster: Cluster, sid: str) -> int | None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(cluster.redis_url)
    try:
        holder = await client.get(f"streamrt:lease:{sid}")
        if holder is None:
            return None
        url = await client.get(b"streamrt:node:" + holder)
    finally:
        await client.aclose()
    if url is None:
        return None
    port = int(url.decode().rsplit(":", 1)[1])
    return cluster.ports.index(port)


async def failover(cluster: Cluster, kills: int) -> list[float]:
    """Seconds from each kill of the probe stream's owner to the first output of its next owner."""
    base = cluster.url
    outputs: list[tuple[float, int]] = []
    acked: list[tuple[float, int]] = []
    stop = asyncio.Event()
    async with httpx.AsyncClient(timeout=30) as client, httpx.AsyncClient(timeout=None) as sse:
        await request(client, "POST", f"{base}/streams", json={"processor": "tally", "id": "probe"})

        async def feed() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                await request(
                    client,
                    "POST",
                    f"{base}/streams/probe/chunks",
                    json=[1],
                    headers={"Idempotency-Key": f"c{n}"},
                )
                acked.append((time.monotonic(), n))
                await asyncio.sleep(0.05)

        async def follow() -> None:
            import json

            last = 0
            while not stop.is_set():
                with contextlib.suppress(httpx.HTTPError):
                    headers = {"Last-Event-ID": str(last)} if last else {}
                    async with sse.stream("GET", f"{base}/streams/probe/events", headers=headers) as response:
                        event_id = None
                        async for line in response.aiter_lines():
                            if line.startswith("id:"):
                                event_id = int(line[3:])
                            elif line.startswith("data:") and event_id is not None:
                                data = json.loads(line[5:])
                                last = event_id
                                if "seq" in data and "value" in data:
                                    outputs.append((time.monotonic(), data["seq"]))
                await asyncio.sleep(0.05)

        tasks = [asyncio.create_task(feed()), asyncio.create_task(follow())]
        times: list[float] = []
        restarts: list[threading.Thread] = []
        try:
            while len(outputs) < 5:
                await asyncio.sleep(0.05)
            for _ in range(kills):
                victim = await owner_index(cluster, "probe")
                while victim is None:
                    await asyncio.sleep(0.05)
                    victim = await owner_index(cluster, "probe")
                for thread in restarts:  # at least two nodes up before the next kill
                    await asyncio.to_thread(thread.join)
                restarts.clear()
                killed_at = time.monotonic()
                cluster.kill(victim)
                # Chunk k+1 after the last one acknowledged before the kill may have been processed by the victim;
                # chunk k+2 was sent only after k+1's answer came, after the kill: its output is the new owner's.
                before = max(n for t, n in acked if t < killed_at)
                while not [t for t, seq in outputs if seq >= before + 2]:
                    await asyncio.sleep(0.01)
                first = min(t for t, seq in outputs if seq >= before + 2)
                times.append(first - killed_at)
                print(f"  kill {len(times)}: node{victim}, {times[-1]:.2f} s", flush=True)

                def restart(i: int = victim) -> None:
                    cluster.restart(i)
                    cluster.wait_ready(i)

                thread = threading.Thread(target=restart)
                thread.start()
                restarts.append(thread)
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for thread in restarts:
                thread.join()
    return times


async def throughput(base: str, streams: int, chunks: int, batch: int, tag: str) -> float:
    """Chunks per second, every stream's chunks pushed (and acknowledged) through ``base``."""
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64)) as client:
        ids = [f"{tag}-{i}" for i in range(streams)]
        for sid in ids:
            await request(client, "POST", f"{base}/streams", json={"processor": "tally", "id": sid})
        started = time.perf_counter()

        async def one(sid: str) -> None:
            for b in range(0, chunks, batch):
                got = await request(
                    client,
                    "POST",
                    f"{base}/streams/{sid}/chunks",
                    json=list(range(b, min(b + batch, chunks))),
                    headers={"Idempotency-Key": f"{sid}-{b}"},
                )
                assert got.status_code == 202, got.text

        await asyncio.gather(*(one(sid) for sid in ids))
        return streams * chunks / (time.perf_counter() - started)


def redis_commands(url: str) -> int:
    import redis

    client = redis.Redis.from_url(url)
    try:
        return int(client.info("stats")["total_commands_processed"])
    finally:
        client.close()


def plain_serve(root: Path, store_url: str) -> tuple[Proc, str]:
    """A plain ``streamrt serve`` (no --cluster) on ``store_url``: the baseline."""
    port = free_port()
    options = flags(
        store=store_url,
        host="127.0.0.1",
        port=port,
        push_timeout=10,
        max_streams=100_000,
        max_subscribers=100_000,
        max_pushes_per_minute=10_000_000,
    )
    proc = Proc(
        "plain",
        [sys.executable, "-m", "streamrt", "serve", str(TALLY), "--no-auth", *options],
        root / "plain.log",
    )
    proc.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return proc, url
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the plain server did not start:\n{proc.tail()}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store-url", help="the snapshot store (default: the cluster's Redis)")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--lease-ttl", type=float, default=2.0)
    parser.add_argument("--streams", type=int, default=60)
    parser.add_argument("--chunks", type=int, default=100)
    parser.add_argument("--batch", type=int, default=10)
    args = parser.parse_args(argv)
    redis_bin = find_binary("redis-server", "STREAMRT_REDIS_SERVER")
    haproxy_bin = find_binary("haproxy", "STREAMRT_HAPROXY")
    if redis_bin is None or haproxy_bin is None:
        sys.exit("bench_cluster: needs redis-server and haproxy (.ci/ensure-redis.sh, .ci/ensure-haproxy.sh)")

    with tempfile.TemporaryDirectory(prefix="streamrt-bench-cluster-") as tmp:
        root = Path(tmp)
        results: dict[str, Any] = {}
        for nodes in (3, 1):
            cluster = Cluster(
                root / f"c{nodes}",
                args.store_url or "",
                redis_bin,
                haproxy_bin,
                nodes=nodes,
                lease_ttl=args.lease_ttl,
            )
            cluster.root.mkdir()
            try:
                cluster_start(cluster, args.store_url)
                if nodes == 3 and args.kills:
                    print(
                        f"(a) failover, lease TTL {args.lease_ttl:g} s, {args.kills} kills of the probe's owner:"
                    )
                    times = asyncio.run(failover(cluster, args.kills))
                    results["failover"] = times
                before = redis_commands(cluster.redis_url)
                rate = asyncio.run(
                    throughput(cluster.url, args.streams, args.chunks, args.batch, f"n{nodes}")
                )
                after = redis_commands(cluster.redis_url)
                results[nodes] = (rate, (after - before) / (args.streams * args.chunks))
                if nodes == 1 and args.store_url:
                    proc, url = plain_serve(root, cluster.store_url)
                    try:
                        results["plain"] = asyncio.run(
                            throughput(url, args.streams, args.chunks, args.batch, "plain")
                        )
                    finally:
                        proc.stop()
            finally:
                cluster.stop()

    times = results.get("failover") or []
    if times:
        print(
            f"    p50 {statistics.median(times):.2f} s, max {max(times):.2f} s "
            f"(target {args.lease_ttl + 1:g} s: lease TTL + 1 s)"
        )
    what = f"{args.streams} streams x {args.chunks} chunks in batches of {args.batch}"
    print(f"(b) throughput, {what}, store {'PostgreSQL' if args.store_url else 'Redis'}:")
    if "plain" in results:
        plain = results["plain"]
        print(f"    plain streamrt serve (baseline): {plain:,.0f} chunks/s")
    else:  # a plain server keeps its event log in its store, which Redis is not: the one-node cluster is the baseline
        plain = results[1][0]
        print(
            "    (no plain-serve baseline without --store-url postgresql://...: the 1-node cluster is the baseline)"
        )
    for nodes in (1, 3):
        rate, trips = results[nodes]
        print(f"    cluster, {nodes} node{'s' if nodes > 1 else ''}: {rate:,.0f} chunks/s ({rate / plain:.2f}x the baseline)"
              f"; (c) {trips:.2f} Redis commands per chunk")  # fmt: skip


def cluster_start(cluster: Cluster, store_url: str | None) -> None:
    """Start the cluster; without a store URL, snapshots go to its own Redis under a prefix of their own."""
    if store_url is None:
        cluster.redis_port = free_port()
        cluster.store_url = f"redis://127.0.0.1:{cluster.redis_port}/0?prefix=store:"
    cluster.start()


if __name__ == "__main__":
    main()
