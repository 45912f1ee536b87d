"""A stream whose source gave up (retries exhausted) ends in :error and stays resumable from its snapshot.

Runs ``streamrt run`` and ``streamrt resume`` in-process (:func:`run_script`) against a real SSE server with a
SQLite store: the server goes away mid-stream, comes back on the same port, and the resumed stream continues from the
snapshot's ``Last-Event-ID`` with nothing lost and nothing delivered twice.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest

from streamrt.cli.exits import EXIT_ERROR, EXIT_OK
from streamrt.cli.run import run_script
from streamrt.lang.script import load_script
from streamrt.runtime.persist import Persister
from streamrt.runtime.provider import Provider
from streamrt.runtime.resume import resume_stream
from streamrt.sources import open_source
from streamrt.store import open_store
from streamrt.values import Keyword
from tests.sources.provider_helpers import health_becomes, until
from tests.sources.sse_server import Event, Plan, SseTestServer

pytestmark = pytest.mark.timeout(60)

K = Keyword

SCRIPT = """
(defn record [state chunk]
  (if (= (:seq chunk) (:fail-at state))
    (:no-such-key 42)
    {:state (assoc state :seen (conj (:seen state) (:seq chunk))) :output (:seq chunk)}))

(mcp-stream "feed.placeholder" record {:seen [] :fail-at FAIL_AT}
  {:stream-id "feed" :retry {:max-attempts 3 :initial 0.01 :maximum 0.02}})
"""


def numbered(n: int) -> list[Event]:
    return [Event(json.dumps({"seq": i}), id=str(i)) for i in range(1, n + 1)]


def write_script(folder: Path, fail_at: int = 0) -> Path:
    path = folder / "feed.rtfs"
    path.write_text(SCRIPT.replace("FAIL_AT", str(fail_at)))
    return path


def output_seqs(out: io.StringIO) -> list[tuple[int, Any]]:
    return [(line["seq"], line["output"]) for line in map(json.loads, out.getvalue().splitlines())]


async def test_exhausted_retries_then_streamrt_resume_continues_from_last_event_id(tmp_path: Path) -> None:
    script = write_script(tmp_path)
    store = f"sqlite:///{tmp_path / 'streams.db'}"
    out, err = io.StringIO(), io.StringIO()
    async with SseTestServer(Plan(events=numbered(10), stall_after=4)) as first:
        run = asyncio.create_task(run_script(script, source_uri=first.url, store_url=store, out=out, err=err))
        await until(lambda: len(out.getvalue().splitlines()) == 4, what="four outputs")
    assert await asyncio.wait_for(run, timeout=20) == EXIT_ERROR, err.getvalue()
    assert output_seqs(out) == [(i, i) for i in range(1, 5)]
    assert "gave up after 3 attempts: ConnectError" in err.getvalue()

    async with open_store(store) as snapshots:
        snap = await snapshots.get("feed")
    assert (snap.status, snap.continuation, snap.source_uri) == ("error", {"last_event_id": "4"}, first.url)
    assert snap.status_message is not None and snap.status_message.startswith(f"source {first.url}: ")
    assert snap.state[Keyword("seen")] == (1, 2, 3, 4) and snap.queue == []

    out, err = io.StringIO(), io.StringIO()
    async with SseTestServer(Plan(events=numbered(10)), port=first.port) as second:
        code = await asyncio.wait_for(
            run_script(None, resume_id="feed", store_url=store, out=out, err=err), 20
        )
    assert code == EXIT_OK, err.getvalue()
    assert output_seqs(out) == [(i, i) for i in range(5, 11)], "nothing lost, nothing twice"
    assert [r.get("last-event-id") for r in second.requests] == ["4"]
    async with open_store(store) as snapshots:
        snap = await snapshots.get("feed")
    assert (snap.status, snap.status_message) == ("completed", None)
    assert snap.state[Keyword("seen")] == tuple(range(1, 11))
    assert snap.stats["processed"] == 10 and snap.stats["errors"] == 1


async def test_a_processor_error_is_not_reopened_by_resume(tmp_path: Path) -> None:
    script = write_script(tmp_path, fail_at=3)
    store = f"sqlite:///{tmp_path / 'streams.db'}"
    out, err = io.StringIO(), io.StringIO()
    async with SseTestServer(Plan(events=numbered(10))) as server:
        code = await run_script(script, source_uri=server.url, store_url=store, out=out, err=err)
        assert code == EXIT_ERROR
        requests = len(server.requests)
        async with open_store(store) as snapshots, Provider() as p:
            persister = Persister(snapshots)
            p.attach_persistence(persister)
            snap = await resume_stream(p, persister, "feed", load_script(path=script))
            assert snap.status == "error"
            assert p.record("feed").status.value == "error"
            assert p.inspect("feed")["source"] is None
            await persister.close()
        assert len(server.requests) == requests, "the source of a stream whose processor failed stays closed"
    assert output_seqs(out) == [(1, 1), (2, 2)]


async def test_a_snapshot_taken_while_draining_after_a_source_failure_reopens_the_source(
    tmp_path: Path,
) -> None:
    """Paused when the source gave up: the queued chunks wait, and a snapshot then resumes into the source again."""
    script = load_script(path=write_script(tmp_path))
    store = f"sqlite:///{tmp_path / 'streams.db'}"
    policy = {K("max-attempts"): 2, K("initial"): 0.01, K("maximum"): 0.02}
    async with (
        SseTestServer(Plan(events=numbered(10), stall_after=6)) as first,
        open_store(store) as snapshots,
        Provider() as p,
    ):
        persister = Persister(snapshots, processor_hash=script.source_hash)
        p.attach_persistence(persister)
        source = open_source(first.url, options={K("retry"): policy})
        sid = p.start(
            script.processor("record"),
            stream_id="feed",
            initial_state={K("seen"): (), K("fail-at"): 0},
            processor_name="record",
            source=source,
            options={K("retry"): policy},
        )
        p.pause(sid)
        await persister.claim(sid)
        await until(lambda: p.record(sid).seq == 6, what="six chunks queued")
        await first.close_clients()
        await health_becomes(source.health, lambda h: h.state == "failed")
        p.checkpoint(sid)
        await persister.flush()
        await persister.close(final=False)  # the process dies here, paused, with six chunks queued
    async with open_store(store) as snapshots:
        snap = await snapshots.get("feed")
    assert (snap.status, len(snap.queue), snap.continuation) == ("paused", 6, {"last_event_id": "6"})

    async with (
        SseTestServer(Plan(events=numbered(10)), port=first.port) as second,
        open_store(store) as snapshots,
        Provider() as p,
    ):
        persister = Persister(snapshots)
        p.attach_persistence(persister)
        await resume_stream(p, persister, "feed", script)
        p.resume("feed")
        await asyncio.wait_for(p.wait("feed"), timeout=10)
        record = p.record("feed")
        await persister.close()
    assert record.status.value == "completed"
    assert record.state[K("seen")] == tuple(range(1, 11))
    assert [r.get("last-event-id") for r in second.requests] == ["6"]
