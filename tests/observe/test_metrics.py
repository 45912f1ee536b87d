"""Prometheus metrics of a provider, read in-process from a registry: counters, gauges, histograms, labels."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from streamrt.errors import UsageError
from streamrt.observe.metrics import METRICS, instrument
from streamrt.runtime.contract import result
from streamrt.runtime.persist import Persister
from streamrt.runtime.provider import Provider
from streamrt.sources.base import Chunk, Item, Source
from streamrt.store import MemoryStore

from ..runtime.helpers import FakeClock

pytestmark = pytest.mark.timeout(20)


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def echo(state: Any, chunk: Any) -> Any:
    if chunk == "bad":
        raise ValueError("bad chunk")
    return result(state, output=chunk)


async def test_counters_match_what_was_sent() -> None:
    registry = CollectorRegistry()
    async with Provider() as p:
        instrument(p, registry)
        a = p.start(echo, stream_id="a", processor_name="echo")
        b = p.start(echo, stream_id="b", processor_name="echo")
        c = p.start(lambda s, ch: s, stream_id="c", processor_name="sink")
        await p.push_many(a, range(700))
        await p.push_many(b, [1, 2, "bad", 4, 5])  # fails at the third; two chunks discarded
        await p.push_many(c, range(300))
        await p.settle()
        assert value(registry, "streamrt_chunks_processed_total", processor="echo") == 703
        assert value(registry, "streamrt_outputs_total", processor="echo") == 702
        assert value(registry, "streamrt_errors_total", processor="echo") == 1
        assert value(registry, "streamrt_chunks_dropped_total", processor="echo") == 2
        assert value(registry, "streamrt_chunks_processed_total", processor="sink") == 300
        assert value(registry, "streamrt_outputs_total", processor="sink") == 0
        assert value(registry, "streamrt_streams", processor="echo", status="active") == 1
        assert value(registry, "streamrt_streams", processor="echo", status="error") == 1
        assert value(registry, "streamrt_streams", processor="sink", status="active") == 1
        assert value(registry, "streamrt_streams", processor="sink", status="paused") == 0
        # no stream label unless asked for
        assert value(registry, "streamrt_chunks_processed_total", processor="echo", stream_id="a") is None


async def test_queue_depth_and_backpressure_while_paused() -> None:
    registry = CollectorRegistry()
    async with Provider(default_queue_capacity=4) as p:
        instrument(p, registry)
        sid = p.start(echo, stream_id="p", processor_name="echo")
        p.pause(sid)
        for i in range(4):
            await p.push(sid, i)
        assert value(registry, "streamrt_queue_depth", processor="echo") == 4
        assert value(registry, "streamrt_queue_capacity", processor="echo") == 4
        assert value(registry, "streamrt_streams", processor="echo", status="paused") == 1
        waiting = asyncio.ensure_future(p.push(sid, 99))  # waits for room: backpressure
        await asyncio.sleep(0.05)
        assert not waiting.done()
        assert value(registry, "streamrt_producers_waiting", processor="echo") == 1
        # a wait is added to the counter when it ends
        assert value(registry, "streamrt_backpressure_wait_seconds_total", processor="echo") == 0
        p.resume(sid)
        await waiting
        await p.settle(sid)
        assert value(registry, "streamrt_queue_depth", processor="echo") == 0
        assert value(registry, "streamrt_producers_waiting", processor="echo") == 0
        wait = value(registry, "streamrt_backpressure_wait_seconds_total", processor="echo")
        assert wait is not None and wait >= 0.04
        assert value(registry, "streamrt_chunks_processed_total", processor="echo") == 5


async def test_latency_is_observed_once_per_batch_not_per_chunk() -> None:
    registry = CollectorRegistry()
    async with Provider() as p:
        instrument(p, registry)
        sid = p.start(echo, stream_id="a", processor_name="echo")
        await p.push_many(sid, range(6400))
        p.end_input(sid)
        await p.wait(sid)
    count = value(registry, "streamrt_chunk_latency_seconds_count", processor="echo")
    assert count is not None and 1 <= count <= 6400 / 32
    assert value(registry, "streamrt_chunk_latency_seconds_bucket", processor="echo", le="+Inf") == count


async def test_per_stream_labels_only_when_asked() -> None:
    registry = CollectorRegistry()
    async with Provider() as p:
        instrument(p, registry, per_stream=True)
        for sid in ("a", "b"):
            p.start(echo, stream_id=sid, processor_name="echo")
        await p.push_many("a", range(3))
        await p.push_many("b", range(5))
        await p.settle()
    assert value(registry, "streamrt_chunks_processed_total", processor="echo", stream_id="a") == 3
    assert value(registry, "streamrt_chunks_processed_total", processor="echo", stream_id="b") == 5
    assert value(registry, "streamrt_streams", processor="echo", stream_id="b", status="completed") == 0
    assert value(registry, "streamrt_chunks_processed_total", processor="echo") is None
    count = value(registry, "streamrt_chunk_latency_seconds_count", processor="echo", stream_id="b")
    assert count is not None and count >= 1


async def test_every_documented_metric_is_exposed() -> None:
    registry = CollectorRegistry()
    async with MemoryStore() as store, Provider() as p:
        instrument(p, registry)
        persister = Persister(store)
        p.attach_persistence(persister)
        sid = p.start(echo, stream_id="a", processor_name="echo")
        await persister.claim(sid)
        await p.push_many(sid, range(10))
        await p.settle(sid)
        await persister.close()
        text = generate_latest(registry).decode()
    for name, what in METRICS.items():
        kind = what.split(":")[0]
        assert f"# TYPE {name} {kind}" in text, name
    # pending snapshots of one stream supersede each other, so count what the persister says it committed
    assert persister.writes >= 2
    assert value(registry, "streamrt_snapshots_written_total", processor="echo") == persister.writes
    assert value(registry, "streamrt_snapshot_write_seconds_count") == persister.transactions


class Reconnecting(Source):
    kind = "flaky"

    async def items(self) -> AsyncIterator[Item]:
        for _ in range(3):
            self.health.reconnects += 1
            self.health.set("reconnecting", "dropped")
        self.health.set("connected")
        yield Chunk(1)


async def test_source_reconnects_are_counted() -> None:
    registry = CollectorRegistry()
    async with Provider() as p:
        instrument(p, registry)
        sid = p.start(echo, stream_id="live", source=Reconnecting("flaky:x"), processor_name="echo")
        await p.wait(sid)
        assert value(registry, "streamrt_source_reconnects_total", processor="echo") == 3


async def test_one_provider_per_registry_and_close_detaches() -> None:
    registry = CollectorRegistry()
    async with Provider() as p, Provider() as q:
        metrics = instrument(p, registry)
        with pytest.raises(UsageError, match="already has metrics"):
            instrument(p, CollectorRegistry())
        with pytest.raises(UsageError, match="its own CollectorRegistry"):
            instrument(q, registry)
        metrics.close()
        assert metrics not in p.observers
        assert generate_latest(registry) == b""
        instrument(q, registry)  # the names are free again


async def test_latency_lands_in_the_right_bucket() -> None:
    clock = FakeClock(1000.0)
    registry = CollectorRegistry()
    async with Provider(clock=clock) as p:
        instrument(p, registry)
        sid = p.start(echo, stream_id="a", processor_name="echo")
        await p.push_many(sid, range(10))  # accepted at 1000.0, processed when the worker runs
        clock.now = 1000.003
        await p.settle(sid)

    def bucket(le: str) -> float | None:
        return value(registry, "streamrt_chunk_latency_seconds_bucket", processor="echo", le=le)

    assert (bucket("0.001"), bucket("0.005"), bucket("30.0"), bucket("+Inf")) == (0, 1, 1, 1)
    assert value(registry, "streamrt_chunk_latency_seconds_count", processor="echo") == 1
    assert value(registry, "streamrt_chunk_latency_seconds_sum", processor="echo") == pytest.approx(0.003)
