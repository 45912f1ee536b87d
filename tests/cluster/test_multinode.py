"""Three ``streamrt serve --cluster`` nodes behind HAProxy, on Redis and PostgreSQL, all on loopback.

Streams are started, pushed and subscribed through the load balancer (round-robin, so most requests land on a node
that does not own the stream and are forwarded, and subscribers read the log on whichever node they reach). While
pushes are in flight: Redis is restarted; one node is SIGKILLed and started again (it rejoins); PostgreSQL is cut off
for 3 s (the nodes reach it through HAProxy); a second node is SIGKILLed.
Then, for every stream:

- its final state is exactly that of an uninterrupted run (each chunk applied once, none lost);
- its subscriber got every event exactly once by id (ids 1, 2, 3, ... across reconnects to any node) and every
  output once, in order, with the value an uninterrupted run gives;
- it was never run by two nodes at once: the fencing token of its last snapshot is the newest token Redis handed
  out for it, and the streams of the killed nodes carry a later token than their first owner's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from streamrt.store import SqlStore
from tests.cluster.harness import Cluster, Run, end, find_binary, push, request, subscribe
from tests.store.conftest import _create_database

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(300)]

STREAMS = 200
BATCHES = 4
BATCH = 4


@pytest.fixture
def binaries(redis_server: object) -> tuple[str, str]:
    redis_bin = find_binary("redis-server", "STREAMRT_REDIS_SERVER")
    haproxy_bin = find_binary("haproxy", "STREAMRT_HAPROXY")
    if redis_bin is None or haproxy_bin is None:
        pytest.skip("redis-server or haproxy is missing (.ci/ensure-redis.sh, .ci/ensure-haproxy.sh)")
    return redis_bin, haproxy_bin


@pytest.fixture
async def store_url(postgres_url: str) -> object:
    url, drop = await _create_database(postgres_url)
    yield url
    await drop()


@contextlib.contextmanager
def running(cluster: Cluster) -> Iterator[Cluster]:
    try:
        cluster.start()
        yield cluster
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()


async def test_three_nodes_two_killed_every_stream_ends_exactly_once(
    binaries: tuple[str, str], store_url: str, tmp_path: Path
) -> None:
    redis_bin, haproxy_bin = binaries
    rng = random.Random(15)
    runs = [Run(f"s{i:03}", [rng.randrange(1, 1000) for _ in range(BATCHES * BATCH)]) for i in range(STREAMS)]
    started = time.monotonic()
    with running(Cluster(tmp_path, store_url, redis_bin, haproxy_bin)) as cluster:
        base = cluster.url
        limits = httpx.Limits(max_connections=STREAMS + 20, max_keepalive_connections=STREAMS + 20)
        async with (
            httpx.AsyncClient(timeout=30, limits=limits) as subscribers,
            httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=48)) as client,
        ):
            for run in runs:
                created = await request(
                    client, "POST", f"{base}/streams", json={"processor": "tally", "id": run.sid}
                )
                assert created.status_code in (201, 409), created.text  # 409: a retried start that had worked
            owners_before = await owners(cluster, runs)
            following = [asyncio.create_task(subscribe(subscribers, base, run)) for run in runs]
            try:
                await drive(cluster, client, base, runs, following)
            finally:
                for task in following:
                    task.cancel()
                await asyncio.gather(*following, return_exceptions=True)
            for run in runs:
                got = await request(client, "GET", f"{base}/streams/{run.sid}")
                assert got.status_code == 200, got.text
                run.final = got.json()
            fences = await redis_fences(cluster, runs)
    took = time.monotonic() - started

    for run in runs:
        expected_outputs = list(itertools.accumulate(run.chunks))
        assert run.final is not None
        assert run.final["status"] == "completed", run.final
        assert run.final["state"] == {"n": len(run.chunks), "sum": sum(run.chunks)}, run.sid
        ids = [event_id for event_id, _, _ in run.events]
        assert ids == list(range(1, len(ids) + 1)), f"{run.sid}: events not once each by id: {ids}"
        outputs = [(data["seq"], data["value"]) for _, kind, data in run.events if kind == "output"]
        assert outputs == list(enumerate(expected_outputs, 1)), run.sid

    async with SqlStore(store_url) as store:
        stored = {row.stream_id: row for row in await store.list()}
    killed = {"node0", "node1"}
    moved = 0
    for run in runs:
        row = stored[run.sid]
        assert row.fence == fences[run.sid], (
            f"{run.sid}: its last snapshot was not written by its newest owner"
        )
        if owners_before[run.sid] in killed:
            assert row.fence >= 2, f"{run.sid}: taken over from a killed node under its first token"
            moved += 1
    assert moved > 0
    print(f"{STREAMS} streams, {sum(len(r.chunks) for r in runs)} chunks, {moved} moved, {took:.1f} s")


async def drive(
    cluster: Cluster,
    client: httpx.AsyncClient,
    base: str,
    runs: list[Run],
    following: list[asyncio.Task[None]],
) -> None:
    """Push every stream's chunks in rounds: Redis is restarted while round 0 is in flight, node 0 killed while
    round 1 is (and started again), PostgreSQL cut off for 3 s while round 2 is, node 1 killed while round 3 is;
    then end every stream and wait for its subscriber to see it end."""

    async def round_of(b: int) -> None:
        await asyncio.gather(
            *(
                push(client, base, run, run.chunks[b * BATCH : (b + 1) * BATCH], f"{run.sid}-{b}")
                for run in runs
            )
        )

    async def later(seconds: float, action: Callable[[], None]) -> None:
        await asyncio.sleep(seconds)
        await asyncio.to_thread(action)

    trouble = asyncio.create_task(later(0.2, cluster.restart_redis))
    await round_of(0)
    await trouble
    trouble = asyncio.create_task(later(0.2, lambda: cluster.kill(0)))
    await round_of(1)
    await trouble
    await asyncio.to_thread(cluster.restart, 0)
    trouble = asyncio.create_task(later(0.2, lambda: cluster.cut_store(3.0)))
    await round_of(2)
    await trouble
    trouble = asyncio.create_task(later(0.2, lambda: cluster.kill(1)))
    await round_of(3)
    await trouble
    await asyncio.gather(*(end(client, base, run) for run in runs))
    await asyncio.wait_for(asyncio.gather(*following), 120)


async def owners(cluster: Cluster, runs: list[Run]) -> dict[str, str]:
    """Which node holds each stream's lease now, by node name (node0, node1, ...)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(cluster.redis_url)
    try:
        names = await client.mget([f"streamrt:lease:{run.sid}" for run in runs])
        urls = {
            (await client.get(key)).decode(): key.decode()
            async for key in client.scan_iter(match="streamrt:node:*")
        }
    finally:
        await client.aclose()
    by_owner = {}
    for key_url, key in urls.items():
        port = int(key_url.rsplit(":", 1)[1])
        by_owner[key.removeprefix("streamrt:node:")] = f"node{cluster.ports.index(port)}"
    return {run.sid: by_owner.get((name or b"").decode(), "?") for run, name in zip(runs, names, strict=True)}


async def redis_fences(cluster: Cluster, runs: list[Run]) -> dict[str, int]:
    """The newest fencing token Redis handed out for each stream."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(cluster.redis_url)
    try:
        tokens = await client.mget([f"streamrt:fence:{run.sid}" for run in runs])
    finally:
        await client.aclose()
    return {run.sid: int(t or 0) for run, t in zip(runs, tokens, strict=True)}
