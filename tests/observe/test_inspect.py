"""Inspect, field by field: ``Provider.inspect`` and the ``:mcp.stream.inspect`` capability."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streamrt.lang.script import load_script
from streamrt.runtime.contract import result
from streamrt.runtime.provider import Provider
from streamrt.values import Keyword

from ..runtime.helpers import FakeClock, ScriptedSource

pytestmark = pytest.mark.timeout(20)

K = Keyword


def tally(state: Any, chunk: Any) -> Any:
    if chunk == "bad":
        raise ValueError("bad chunk")
    return result({K("n"): state[K("n")] + 1}, output=chunk)


async def test_one_stream_in_detail() -> None:
    clock = FakeClock(1000.0)
    async with Provider(clock=clock, default_queue_capacity=5) as p:
        sid = p.start(tally, stream_id="t", initial_state={K("n"): 0}, processor_name="tally")
        await p.push_many(sid, [1, 2, 3])
        clock.now = 1000.25
        await p.settle(sid)
        p.pause(sid)
        await p.push(sid, 4, {K("line"): 9})
        await p.push(sid, 5)
        report = p.inspect(sid, include_state=True, include_queue=True)
    stats = report.pop("stats")
    activity = report.pop("activity")
    assert report == {
        "stream_id": "t",
        "processor": "tally",
        "status": "paused",
        "message": None,
        "seq": 5,
        "output_seq": 3,
        "queue_capacity": 5,
        "queue_depth": 2,
        "input_ended": False,
        "source": None,
        "continuation": None,
        "options": {},
        "state": {K("n"): 3},
        "initial_state": {K("n"): 0},
        "queue": [
            {"seq": 4, "received_at": 1000.25, "chunk": 4, "meta": {K("line"): 9}},
            {"seq": 5, "received_at": 1000.25, "chunk": 5, "meta": {}},
        ],
    }
    assert stats["processed"] == 3
    assert stats["queued"] == 2
    assert stats["dropped"] == 0
    assert stats["errors"] == 0
    assert stats["outputs"] == 3
    assert stats["last_latency"] == pytest.approx(0.25)
    assert stats["last_event_time"] == 1000.25
    assert stats["queue_high_watermark"] == 3
    assert stats["backpressure_wait"] == 0.0
    assert activity == {
        "processing": False,
        "producers_waiting": 0,
        "snapshot_in_flight": False,
        "source_reading": False,
        "queue_full": False,
    }


async def test_error_message_state_left_out_by_default_and_summary() -> None:
    async with Provider() as p:
        ok = p.start(tally, stream_id="ok", initial_state={K("n"): 0}, processor_name="tally")
        bad = p.start(tally, stream_id="bad", initial_state={K("n"): 0}, processor_name="tally")
        await p.push_many(ok, [1, 2])
        await p.push_many(bad, [1, "bad", 3, 4])
        await p.settle()
        detail = p.inspect(bad)
        summary = p.inspect()
    assert (detail["status"], detail["message"]) == ("error", "chunk 2: ValueError: bad chunk")
    assert "state" not in detail and "queue" not in detail
    assert (detail["stats"]["errors"], detail["stats"]["dropped"]) == (1, 2)
    assert summary["total"] == 2 and summary["closed"] is False
    assert summary["by_status"] == {
        "active": 1, "paused": 0, "completed": 0, "stopped": 0, "cancelled": 0, "error": 1,
    }  # fmt: skip
    assert summary["totals"] == {"processed": 4, "queued": 0, "dropped": 2, "errors": 1, "outputs": 3}
    row = summary["streams"]["bad"]
    assert row["status"] == "error" and row["message"] == "chunk 2: ValueError: bad chunk"
    assert (row["processed"], row["queued"], row["dropped"], row["errors"], row["outputs"]) == (2, 0, 2, 1, 1)
    assert row["queue_capacity"] == 32 and row["last_event_time"] is not None


async def test_what_a_stuck_stream_is_waiting_for() -> None:
    async with Provider(default_queue_capacity=2) as p:
        sid = p.start(tally, stream_id="s", initial_state={K("n"): 0})
        p.pause(sid)
        await p.push_many(sid, [1, 2])
        blocked = asyncio.ensure_future(p.push(sid, 3))
        await asyncio.sleep(0)
        activity = p.inspect(sid)["activity"]
        assert activity["queue_full"] is True
        assert activity["producers_waiting"] == 1
        p.resume(sid)
        await blocked


async def test_source_health_is_shown() -> None:
    async with Provider() as p:
        source = ScriptedSource([], finite=True)
        sid = p.start(tally, stream_id="src", initial_state={K("n"): 0}, source=source)
        await p.wait(sid)
        report = p.inspect(sid)
    assert report["source"]["uri"] == "scripted:test"
    assert report["source"]["kind"] == "scripted"
    health = report["source"]["health"]
    assert health["state"] in ("ended", "closed", "idle")
    assert health["reconnects"] == 0 and health["last_error"] is None


async def test_the_capability_gives_the_same_fields_in_kebab_case() -> None:
    text = """
    (defn tally [state chunk] {:state {:n (inc (:n state))} :output chunk})
    (def sid (mcp-stream "host" tally {:n 0} {:stream-id "cap" :queue-capacity 7}))
    (call :mcp.stream.pause {:stream-id sid})
    (defn look [] (call :mcp.stream.inspect {:stream-id sid :include-state true}))
    (defn everything [] (call :mcp.stream.inspect {}))
    (defn queued [] (call :mcp.stream.inspect {:stream-id sid :include-queue true}))
    """
    async with Provider() as p:
        script = load_script(text, capabilities=p.capabilities())
        await p.push_many("cap", [10, 20])
        info = script.processor("look")()
        summary = script.processor("everything")()
        with_queue = script.processor("queued")()
    assert K("queue") not in info
    assert [(e[K("seq")], e[K("chunk")]) for e in with_queue[K("queue")]] == [(1, 10), (2, 20)]
    assert K("state") not in with_queue
    assert info[K("stream-id")] == "cap"
    assert info[K("processor")] == "tally"
    assert info[K("status")] == "paused"
    assert info[K("message")] is None
    assert info[K("queue-capacity")] == 7
    assert info[K("queue-depth")] == 2
    assert info[K("state")] == {K("n"): 0}
    assert info[K("initial-state")] == {K("n"): 0}
    stats = info[K("stats")]
    assert (stats[K("processed")], stats[K("queued")], stats[K("dropped")]) == (0, 2, 0)
    assert (stats[K("errors")], stats[K("outputs")], stats[K("queue-high-watermark")]) == (0, 0, 2)
    assert stats[K("last-latency")] is None and stats[K("backpressure-wait")] == 0.0
    assert info[K("activity")][K("queue-full")] is False
    assert summary[K("total")] == 1
    assert summary[K("by-status")][K("paused")] == 1
    assert summary[K("totals")][K("queued")] == 2
    assert summary[K("streams")]["cap"][K("queue-capacity")] == 7
