"""The SSE source against a fault-injecting SSE server on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest

from streamrt.errors import SourceAuthError, SourceError
from streamrt.sources import Chunk, ChunkFault, Control, Item, open_source
from streamrt.sources.retry import RetryPolicy
from streamrt.sources.sse import SseSource
from streamrt.values import Keyword
from tests.sources.helpers import drain, generator
from tests.sources.sse_server import Event, Plan, SseTestServer

FAST = RetryPolicy(max_attempts=5, max_elapsed=10.0, initial=0.01, maximum=0.05)
PATIENT = RetryPolicy(max_attempts=5, max_elapsed=10.0, initial=0.01, maximum=1.0)
"""Honours server-requested waits up to a second (the policy's maximum caps them)."""
SEQ = Keyword("seq")
ID = Keyword("id")
EVENT = Keyword("event")


def numbered(n: int, *, prefix: str = "") -> list[Event]:
    return [Event(json.dumps({"seq": i}), id=f"{prefix}{i}") for i in range(1, n + 1)]


def seqs(items: list[Item]) -> list[int]:
    return [item.value[SEQ] for item in items if isinstance(item, Chunk)]


async def test_events_become_chunks_with_metadata_and_continuation() -> None:
    plan = Plan(
        events=[Event('{"seq": 1, "tags": ["a"]}', id="1", event="reading"), Event("plain text", id="2")]
    )
    async with SseTestServer(plan) as server:
        items = await drain(SseSource(server.url, retry=FAST))
    first, second = items
    assert isinstance(first, Chunk) and isinstance(second, Chunk)
    assert first.value == {SEQ: 1, Keyword("tags"): ("a",)}
    assert first.meta == {EVENT: "reading", ID: "1", Keyword("source"): "sse"}
    assert second.value == "plain text" and second.meta[EVENT] == "message"
    assert second.continuation == {"last_event_id": "2"}
    assert server.requests[0]["accept"] == "text/event-stream"


@pytest.mark.parametrize("mode", ["close", "reset"])
async def test_drops_reconnect_with_last_event_id_and_deliver_each_event_once(mode: Any) -> None:
    plan = Plan(events=numbered(20), drop_after=[3, 0, 5, 4], drop_mode=mode, garbage=True)
    async with SseTestServer(plan) as server:
        source = SseSource(server.url, retry=FAST)
        items = await drain(source)
    assert seqs(items) == list(range(1, 21))
    assert [r.get("last-event-id") for r in server.requests] == [None, "3", "3", "8", "12"]
    assert source.health.reconnects == 4
    assert source.health.state == "ended"


async def test_replayed_events_after_reconnect_are_skipped() -> None:
    plan = Plan(events=numbered(12, prefix="ev-"), drop_after=[5, 4], replay_overlap=3)
    async with SseTestServer(plan) as server:
        items = await drain(SseSource(server.url, retry=FAST))
    assert seqs(items) == list(range(1, 13))


async def test_server_ignoring_last_event_id_does_not_cause_duplicates_with_numeric_ids() -> None:
    plan = Plan(events=numbered(10), drop_after=[4, 7], ignore_last_event_id=True)
    async with SseTestServer(plan) as server:
        items = await drain(SseSource(server.url, retry=FAST))
    assert seqs(items) == list(range(1, 11))
    assert len(server.requests) == 3


async def test_resume_from_continuation_sends_last_event_id() -> None:
    plan = Plan(events=numbered(8), end="hang")
    async with SseTestServer(plan) as server:
        first = await drain(SseSource(server.url, retry=FAST), limit=5)
        cont = first[-1].continuation
        assert cont == {"last_event_id": "5"}
        plan.end = "event"
        rest = await drain(SseSource(server.url, cont, retry=FAST))
    assert seqs(first) + seqs(rest) == list(range(1, 9))
    assert server.requests[1]["last-event-id"] == "5"


async def test_non_json_multiline_and_empty_events() -> None:
    plan = Plan(events=[Event("not { json", id="1"), Event("", id="2"), Event("line one\nline two", id="3")])
    async with SseTestServer(plan) as server:
        items = await drain(SseSource(server.url, retry=FAST))
    assert [i.value for i in items if isinstance(i, Chunk)] == ["not { json", "line one\nline two"]
    assert [i.meta[ID] for i in items] == ["1", "3"]


async def test_control_events_are_directives_not_data() -> None:
    plan = Plan(
        events=[
            Event('{"seq": 1}', id="1"),
            Event('{"action": "pause"}', id="2", event="control"),
            Event('{"action": "explode"}', id="3", event="control"),
            Event('{"action": "pause"}', id="4"),
        ]
    )
    async with SseTestServer(plan) as server:
        items = await drain(SseSource(server.url, retry=FAST))
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["Chunk", "Control", "ChunkFault", "Chunk"]
    control = items[1]
    assert isinstance(control, Control) and control.action is Keyword("pause")
    assert isinstance(items[2], ChunkFault) and "explode" in items[2].message
    assert isinstance(items[3], Chunk) and items[3].value == {Keyword("action"): "pause"}


async def test_server_retry_field_sets_the_reconnect_delay() -> None:
    events = [Event('{"seq": 1}', id="1", retry_ms=250), *numbered(4)[1:]]
    plan = Plan(events=events, drop_after=[1, 0, 0])
    async with SseTestServer(plan) as server:
        items = await drain(SseSource(server.url, retry=PATIENT))
    assert seqs(items) == [1, 2, 3, 4]
    gaps = [b - a for a, b in zip(server.request_times, server.request_times[1:], strict=False)]
    assert len(gaps) == 3
    assert all(gap >= 0.24 for gap in gaps), gaps


async def test_503_with_retry_after_is_honoured() -> None:
    plan = Plan(events=numbered(3), statuses=[(503, {"Retry-After": "0.3"}), (429, {"Retry-After": "0"})])
    async with SseTestServer(plan) as server:
        source = SseSource(server.url, retry=PATIENT)
        items = await drain(source)
    assert seqs(items) == [1, 2, 3]
    assert len(server.requests) == 3
    assert server.request_times[1] - server.request_times[0] >= 0.29
    assert source.health.reconnects == 2
    assert "HTTP 429" in (source.health.last_error or "")


@pytest.mark.parametrize("header", ["86400", "Wed, 21 Oct 2099 07:28:00 GMT"])
async def test_retry_after_of_a_day_is_capped_by_the_policy(header: str) -> None:
    plan = Plan(events=numbered(2), statuses=[(503, {"Retry-After": header})])
    policy = RetryPolicy(max_attempts=3, max_elapsed=10.0, initial=0.01, maximum=0.3)
    async with SseTestServer(plan) as server:
        source = SseSource(server.url, retry=policy)
        reconnecting: list[tuple[float | None, str | None]] = []
        source.health.watch(
            lambda h: reconnecting.append((h.retry_in, h.last_error)) if h.state == "reconnecting" else None
        )
        items = await asyncio.wait_for(drain(source), timeout=10)
    assert seqs(items) == [1, 2]
    assert 0.29 <= server.request_times[1] - server.request_times[0] < 3
    [(retry_in, error)] = reconnecting
    assert retry_in == 0.3
    assert error is not None and "HTTP 503" in error and "waiting 0.3s (retry policy cap)" in error


async def test_retry_field_of_a_day_is_capped_by_the_policy() -> None:
    events = [Event('{"seq": 1}', id="1", retry_ms=86_400_000), *numbered(3)[1:]]
    plan = Plan(events=events, drop_after=[1])
    async with SseTestServer(plan) as server:
        source = SseSource(server.url, retry=FAST)
        items = await asyncio.wait_for(drain(source), timeout=10)
    assert seqs(items) == [1, 2, 3]
    assert (
        source.health.last_error is not None
        and "waiting 0.05s (retry policy cap)" in source.health.last_error
    )


async def test_heartbeats_keep_a_quiet_stream_alive() -> None:
    plan = Plan(events=numbered(2), gap=0.6, heartbeat=0.05)
    async with SseTestServer(plan) as server:
        source = SseSource(server.url, retry=FAST, read_timeout=0.4)
        items = await drain(source)
    assert seqs(items) == [1, 2]
    assert len(server.requests) == 1 and source.health.reconnects == 0


async def test_silence_past_the_read_timeout_reconnects_without_loss() -> None:
    plan = Plan(events=numbered(4), stall_after=2)
    async with SseTestServer(plan) as server:
        source = SseSource(server.url, retry=FAST, read_timeout=0.15)
        items = await drain(source)
    assert seqs(items) == [1, 2, 3, 4]
    assert server.requests[1]["last-event-id"] == "2"
    assert source.health.reconnects >= 1
    assert "ReadTimeout" in (source.health.last_error or "")


async def test_204_ends_the_stream() -> None:
    plan = Plan(events=numbered(4), end="204")
    async with SseTestServer(plan) as server:
        source = SseSource(server.url, retry=FAST)
        items = await drain(source)
    assert seqs(items) == [1, 2, 3, 4]
    assert server.requests[-1]["last-event-id"] == "4"
    assert source.health.state == "ended"


async def test_bad_token_is_a_clear_auth_error_without_the_token() -> None:
    secret = "s3cr3t-token-value"
    plan = Plan(events=numbered(1), token="right-token")
    async with SseTestServer(plan) as server:
        source = open_source(server.url, env={"STREAMRT_MCP_STREAM_BEARER_TOKEN": secret})
        with pytest.raises(SourceAuthError) as info:
            await drain(source)  # type: ignore[arg-type]
    assert "401" in str(info.value)
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert server.requests[0]["authorization"] == f"Bearer {secret}"
    assert len(server.requests) == 1
    assert source.health.state == "failed"
    assert secret not in json.dumps(source.describe())


async def test_right_token_is_accepted() -> None:
    plan = Plan(events=numbered(2), token="right-token")
    async with SseTestServer(plan) as server:
        source = open_source(server.url, env={"CCOS_MCP_STREAM_BEARER_TOKEN": "right-token"})
        items = await drain(source)  # type: ignore[arg-type]
    assert seqs(items) == [1, 2]


async def test_give_up_after_max_attempts_names_the_cause() -> None:
    plan = Plan(events=numbered(1), statuses=[(503, {})] * 10)
    async with SseTestServer(plan) as server:
        source = SseSource(server.url, retry=RetryPolicy(max_attempts=3, initial=0.01, maximum=0.02))
        with pytest.raises(SourceError, match=r"gave up after 3 attempts: RetryableStatus: HTTP 503"):
            await drain(source)
    assert len(server.requests) == 3
    assert source.health.state == "failed" and source.health.reconnects == 2


async def test_connection_refused_is_retried_then_fails() -> None:
    async with SseTestServer(Plan()) as server:
        url = server.url
    source = SseSource(url, retry=RetryPolicy(max_attempts=2, initial=0.01, maximum=0.01))
    with pytest.raises(SourceError, match="ConnectError"):
        await drain(source)


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        pytest.param(Plan(statuses=[(404, {})]), "HTTP 404", id="not-found"),
        pytest.param(
            Plan(events=numbered(1), content_type="text/plain"), "not an event stream", id="content-type"
        ),
    ],
)
async def test_permanent_errors_are_not_retried(plan: Plan, message: str) -> None:
    async with SseTestServer(plan) as server:
        with pytest.raises(SourceError, match=message):
            await drain(SseSource(server.url, retry=FAST))
    assert len(server.requests) == 1


async def test_a_paused_consumer_stops_the_reads_and_then_gets_every_event() -> None:
    total = 2000
    pad = "x" * 8000
    plan = Plan(events=[Event(json.dumps({"seq": i, "pad": pad}), id=str(i)) for i in range(1, total + 1)])
    async with SseTestServer(plan, sndbuf=64 * 1024) as server:
        source = SseSource(server.url, retry=FAST)
        async with source:
            items = source.items()
            first = await anext(items)
            # The consumer now pulls nothing: the server must end up blocked on a full socket.
            await asyncio.wait_for(server.blocked.wait(), timeout=10)
            assert server.sent_when_blocked is not None
            assert server.sent_when_blocked < total // 4
            assert source.health.reconnects == 0
            rest = [item async for item in items]
    got = seqs([first, *rest])
    assert got == list(range(1, total + 1))
    assert len(server.requests) == 1


async def test_cancelling_a_reader_blocked_on_a_quiet_stream_is_prompt() -> None:
    plan = Plan(events=numbered(2), end="hang")
    async with SseTestServer(plan) as server:
        source = SseSource(server.url, retry=FAST)
        got: list[Item] = []
        two = asyncio.Event()

        async def reader() -> None:
            async with source, contextlib.aclosing(generator(source)) as items:
                async for item in items:
                    got.append(item)
                    if len(got) == 2:
                        two.set()

        task = asyncio.create_task(reader())
        await asyncio.wait_for(two.wait(), timeout=10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)
    assert seqs(got) == [1, 2]
    assert len(server.requests) == 1


async def test_an_event_without_an_id_has_id_nil_not_the_one_before() -> None:
    plan = Plan(events=[Event('{"seq": 1}', id="a"), Event('{"seq": 2}'), Event('{"seq": 3}', id="c")])
    async with SseTestServer(plan) as server:
        items = await drain(SseSource(server.url, retry=FAST))
    assert [i.meta[ID] for i in items] == ["a", None, "c"]
    assert seqs(items) == [1, 2, 3]
    # where to resume is still the last id the server gave
    assert [i.continuation for i in items] == [
        {"last_event_id": "a"},
        {"last_event_id": "a"},
        {"last_event_id": "c"},
    ]
