"""Source health in ``Provider.inspect``, field by field, while a real SSE server drops out and comes back."""

from __future__ import annotations

import asyncio
import json

import pytest

from streamrt.runtime.provider import Provider
from streamrt.sources.base import SourceHealth
from streamrt.sources.retry import RetryPolicy
from streamrt.sources.sse import SseSource
from tests.sources.provider_helpers import Recorder, health_becomes, until
from tests.sources.sse_server import Event, Plan, SseTestServer

pytestmark = pytest.mark.timeout(60)


def numbered(n: int) -> list[Event]:
    return [Event(json.dumps({"seq": i}), id=str(i)) for i in range(1, n + 1)]


async def test_inspect_shows_connected_reconnecting_and_connected_again() -> None:
    patient = RetryPolicy(max_attempts=0, max_elapsed=30.0, initial=0.02, maximum=0.1)
    recorder = Recorder()
    first = SseTestServer(Plan(events=numbered(10), stall_after=4))  # sends 1..4, then goes quiet
    async with Provider() as p:
        async with first:
            source = SseSource(first.url, retry=patient)
            sid = p.start(recorder, source=source)
            await until(lambda: p.record(sid).processed == 4, what="four chunks")
            health = p.inspect(sid)["source"]["health"]
            assert health["state"] == "connected"
            assert (health["reconnects"], health["last_error"], health["retry_in"]) == (0, None, None)
            assert p.inspect(sid)["source"]["last_event_id"] == "4"
        # The server is gone: the drop, then refused connections, each followed by a wait.
        await health_becomes(
            source.health, lambda h: h.state == "reconnecting" and "ConnectError" in (h.last_error or "")
        )
        health = p.inspect(sid)["source"]["health"]
        assert health["state"] == "reconnecting"
        assert health["reconnects"] >= 2, "the drop and at least one refused attempt"
        assert "ConnectError" in health["last_error"]
        assert 0 <= health["retry_in"] <= 0.1
        assert p.record(sid).status.value == "active", "a source that is retrying does not fail the stream"

        async with SseTestServer(Plan(events=numbered(10), end="hang"), port=first.port) as second:
            await health_becomes(source.health, lambda h: h.state == "connected")
            await until(lambda: p.record(sid).processed == 10, what="the rest of the events")
            health = p.inspect(sid)["source"]["health"]
            reconnects = health["reconnects"]
            assert (health["state"], health["retry_in"]) == ("connected", None)
            assert "ConnectError" in health["last_error"], "the last error is kept as history"
            assert second.requests[0]["last-event-id"] == "4"
            p.stop(sid)
        await p.wait(sid)
        assert p.inspect(sid)["source"]["health"]["state"] == "closed"
        assert p.inspect(sid)["source"]["health"]["reconnects"] == reconnects
    assert recorder.seen == list(range(1, 11))


async def test_exhausted_retries_fail_the_stream_with_the_cause() -> None:
    policy = RetryPolicy(max_attempts=3, max_elapsed=10.0, initial=0.01, maximum=0.02)
    recorder = Recorder()
    states: list[str] = []
    async with Provider() as p:
        async with SseTestServer(Plan(events=numbered(10), stall_after=3)) as server:
            source = SseSource(server.url, retry=policy)
            source.health.watch(lambda h: states.append(h.state))
            sid = p.start(recorder, source=source)
            await until(lambda: p.record(sid).processed == 3, what="three chunks")
        await asyncio.wait_for(p.wait(sid), timeout=10)
        report = p.inspect(sid)
    assert report["status"] == "error"
    message = report["message"]
    assert message.startswith(f"source {server.url}: ")
    assert "gave up after 3 attempts: ConnectError" in message
    health = report["source"]["health"]
    assert health["state"] == "failed" and health["last_error"] in message
    assert health["reconnects"] == 3, "the drop, then two waits between the three failed attempts"
    assert states[0] == "connected" and states[-1] == "failed" and "reconnecting" in states
    assert recorder.seen == [1, 2, 3]
    assert report["continuation"] == {"last_event_id": "3"}


async def test_chunks_queued_when_the_source_fails_are_processed_first() -> None:
    """A source failure is the end of the input: what it delivered is processed, in order, then :error."""
    policy = RetryPolicy(max_attempts=2, max_elapsed=10.0, initial=0.01, maximum=0.02)
    recorder = Recorder()
    async with Provider() as p:
        async with SseTestServer(Plan(events=numbered(10), stall_after=6)) as server:
            source = SseSource(server.url, retry=policy)
            sid = p.start(recorder, source=source)
            p.pause(sid)
            await until(lambda: p.record(sid).seq == 6, what="six chunks queued")
        await health_becomes(source.health, lambda h: h.state == "failed")
        record = p.record(sid)
        assert (record.status.value, len(record.queue)) == ("paused", 6), "nothing discarded yet"
        p.resume(sid)
        await asyncio.wait_for(p.wait(sid), timeout=10)
    assert recorder.seen == [1, 2, 3, 4, 5, 6]
    assert (record.status.value, record.dropped, record.processed) == ("error", 0, 6)
    assert record.message is not None and "gave up after 2 attempts" in record.message


def test_health_watchers_see_every_change_until_unwatched() -> None:
    health = SourceHealth()
    seen: list[tuple[str, float | None]] = []
    unwatch = health.watch(lambda h: seen.append((h.state, h.retry_in)))
    health.set("reconnecting", "HTTP 503", retry_in=1.5)
    health.set("connected")
    unwatch()
    health.set("failed", "gave up")
    assert seen == [("reconnecting", 1.5), ("connected", None)]
    assert health.as_dict()["last_error"] == "gave up" and health.as_dict()["retry_in"] is None


def test_health_repr_shows_neither_secrets_nor_watchers() -> None:
    health = SourceHealth(secrets=("hunter2",))
    health.watch(lambda h: None)
    health.set("failed", "401 for token hunter2")
    shown = repr(health) + repr(health.__rich_repr__())
    assert "hunter2" not in shown and "lambda" not in shown and "watchers" not in shown
    assert "state='failed'" in repr(health) and "last_error='401 for token [redacted]'" in repr(health)
    # a live record: equal to itself only
    assert health == health and health != SourceHealth(secrets=("hunter2",))
