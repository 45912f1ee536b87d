"""Structured lifecycle logs: one record per event, fields by name, JSON and text formats, no cost when off."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from streamrt.errors import UsageError
from streamrt.observe import logs
from streamrt.observe.logs import configure_logging, unconfigure_logging
from streamrt.runtime.contract import result
from streamrt.runtime.persist import Persister
from streamrt.runtime.provider import Provider
from streamrt.sources.base import Chunk, Item, Source
from streamrt.store import MemoryStore
from streamrt.values import Keyword

pytestmark = pytest.mark.timeout(20)


def records(buf: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def pause_at_3(state: Any, chunk: Any) -> Any:
    return result(state + 1, action="pause" if chunk == 3 else None)


async def test_lifecycle_records_field_by_field(json_log: io.StringIO) -> None:
    async with Provider() as p:
        sid = p.start(pause_at_3, stream_id="s1", initial_state=0, processor_name="pauser")
        await p.push_many(sid, [1, 2, 3, 4, 5])
        await p.settle(sid)
        p.resume(sid)
        await p.settle(sid)
        p.end_input(sid)
        await p.wait(sid)
    got = records(json_log)
    assert [(r["event"], r["action"], r["status"]) for r in got] == [
        ("start", "start", "active"),
        ("directive", "pause", "paused"),
        ("directive", "resume", "active"),
        ("status", "end", "completed"),
    ]
    start, pause, resume, end = got
    assert start["logger"] == "streamrt.stream"
    assert start["level"] == "info"
    assert start["stream_id"] == "s1"
    assert start["processor"] == "pauser"
    assert (start["seq"], start["processed"], start["accepted"]) == (0, 0, 0)
    assert start["message"] == "stream s1 started: processor pauser, fed by the host, queue capacity 32"
    assert start["ts"].endswith("Z") and "T" in start["ts"]
    # the pause came from chunk 3; all five chunks had been accepted, so 4 and 5 were queued behind it
    assert (pause["seq"], pause["processed"], pause["accepted"]) == (3, 3, 5)
    assert pause["message"] == "stream s1: pause, now paused"
    assert (resume["seq"], resume["processed"], resume["accepted"]) == (3, 3, 5)
    assert (end["seq"], end["processed"], end["accepted"], end["level"]) == (5, 5, 5, "info")
    assert end["message"] == "stream s1 completed: its input ended"


def boom(state: Any, chunk: Any) -> Any:
    if chunk == 2:
        raise ValueError("no twos")
    return state


async def test_error_record_carries_the_message(json_log: io.StringIO) -> None:
    async with Provider() as p:
        sid = p.start(boom, stream_id="bad", processor_name="boom")
        await p.push_many(sid, [1, 2, 3])
        await p.wait(sid)
    [_, error] = records(json_log)
    assert error["event"] == "error"
    assert error["level"] == "error"
    assert error["action"] == "fail"
    assert error["status"] == "error"
    assert error["error"] == "chunk 2: ValueError: no twos"
    assert error["message"] == "stream bad failed: chunk 2: ValueError: no twos"
    assert error["processed"] == 2


async def test_host_directive_that_changes_nothing_is_debug(json_log: io.StringIO) -> None:
    async with Provider() as p:
        sid = p.start(boom, stream_id="s")
        p.resume(sid)  # already active: a no-op
        p.checkpoint(sid)
    got = records(json_log)[1:]
    assert [(r["level"], r["action"], r["status"], r["message"]) for r in got] == [
        ("debug", "resume", "active", "stream s: resume (stays active)"),
        ("debug", "checkpoint", "active", "stream s: checkpoint (stays active)"),
    ]


async def test_no_per_chunk_records_at_info() -> None:
    buf = io.StringIO()
    handler = configure_logging("info", "json", buf)
    try:
        async with Provider() as p:
            sid = p.start(lambda s, c: s, stream_id="quiet")
            await p.push_many(sid, range(5000))
            p.end_input(sid)
            await p.wait(sid)
    finally:
        unconfigure_logging(handler)
    assert [r["event"] for r in records(buf)] == ["start", "status"]


async def test_nothing_is_formatted_when_the_level_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr("streamrt.runtime.engine.log_transition", lambda *a: calls.append("called"))
    handler = configure_logging("warning", "json", io.StringIO())
    try:
        async with Provider() as p:
            sid = p.start(pause_at_3, stream_id="s", initial_state=0)
            await p.push_many(sid, [1, 2, 3])
            await p.settle(sid)
            p.resume(sid)
            p.cancel(sid)
    finally:
        unconfigure_logging(handler)
    assert calls == []
    # and at INFO the same run does call it (the guard is what kept it out)
    handler = configure_logging("info", "json", io.StringIO())
    try:
        async with Provider() as p:
            sid = p.start(pause_at_3, stream_id="s", initial_state=0)
            p.cancel(sid)
    finally:
        unconfigure_logging(handler)
    assert calls == ["called"]


async def test_snapshot_records_at_debug(json_log: io.StringIO) -> None:
    async with MemoryStore() as store, Provider() as p:
        persister = Persister(store)
        p.attach_persistence(persister)
        sid = p.start(lambda s, c: result(s + c), stream_id="snap", initial_state=0, processor_name="adder")
        await persister.claim(sid)
        await p.push(sid, 5)
        await p.settle(sid)
        await persister.close()
    snaps = [r for r in records(json_log) if r["event"] == "snapshot"]
    assert snaps, "no snapshot record"
    first = snaps[0]
    assert (first["logger"], first["level"], first["stream_id"]) == ("streamrt.snapshot", "debug", "snap")
    assert (first["seq"], first["processed"], first["status"]) == (1, 1, "active")
    assert first["processor"] == "adder"
    assert first["write_seconds"] >= 0


class Flaky(Source):
    """Reports one reconnect through its health, the way a reconnecting source does, then yields a chunk."""

    kind = "flaky"

    async def items(self) -> AsyncIterator[Item]:
        self.health.set("connected")
        self.health.reconnects += 1
        self.health.set("reconnecting", "ConnectError: refused", retry_in=0.5)
        self.health.set("connected")
        yield Chunk(1, {Keyword("line"): 1})


async def test_reconnect_record(json_log: io.StringIO) -> None:
    async with Provider() as p:
        sid = p.start(lambda s, c: s, stream_id="live", source=Flaky("flaky://user:secret@host/feed"))
        await p.wait(sid)
    [rec] = [r for r in records(json_log) if r["event"] == "reconnect"]
    assert (rec["logger"], rec["level"], rec["stream_id"]) == ("streamrt.source", "warning", "live")
    assert (rec["reconnects"], rec["retry_in"], rec["error"]) == (1, 0.5, "ConnectError: refused")
    assert rec["status"] == "active"
    assert "secret" not in json_log.getvalue()
    assert rec["message"] == (
        "stream live: source flaky://***@host/feed reconnecting (reconnect 1, next attempt in 0.5s): "
        "ConnectError: refused"
    )


def test_text_format_appends_the_fields() -> None:
    record = logging.makeLogRecord(
        {"name": "streamrt.stream", "levelno": 20, "levelname": "INFO", "msg": "stream a: pause, now paused"}
    )
    for key, value in {
        "event": "directive",
        "stream_id": "a",
        "seq": 4,
        "action": "pause",
        "status": "paused",
    }.items():
        setattr(record, key, value)
    text = logs.TextFormatter().format(record)
    assert text.endswith(
        "INFO streamrt.stream: stream a: pause, now paused "
        "[event=directive stream_id=a seq=4 action=pause status=paused]"
    )


def test_bad_level_or_format_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown log level 'loud'"):
        configure_logging("loud")
    with pytest.raises(UsageError, match="unknown log format 'xml'"):
        configure_logging("info", "xml")  # type: ignore[arg-type]


def test_unconfigure_restores_the_level() -> None:
    root = logging.getLogger("streamrt")
    before = root.level
    handler = configure_logging("debug", "text", io.StringIO())
    assert root.level == logging.DEBUG and handler in root.handlers
    unconfigure_logging(handler)
    assert root.level == before and handler not in root.handlers
