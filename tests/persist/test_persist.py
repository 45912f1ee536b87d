"""Snapshot policies, snapshot/restore, resume and the store commands (``resume``, ``inspect``, ``list``)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest

from streamrt.cli import main
from streamrt.errors import ProcessorChangedError, SnapshotNotFoundError, UsageError
from streamrt.lang.script import load_script
from streamrt.runtime.capture import snapshot_of
from streamrt.runtime.loops import loops_for
from streamrt.runtime.machine import Status
from streamrt.runtime.persist import Persister, SnapshotPolicy, parse_policy
from streamrt.runtime.provider import Provider
from streamrt.runtime.resume import resume_stream
from streamrt.runtime.spec import StreamSpec
from streamrt.runtime.stream import Program, StreamRecord
from streamrt.store import MemoryStore, open_store
from streamrt.store.codec import decode_snapshot, encode_snapshot
from streamrt.values import Keyword, LSet

pytestmark = pytest.mark.timeout(30)

K = Keyword

SUM = """
(defn add [state chunk] (let [s (+ (:sum state) (:v chunk))] {:state {:sum s :n (inc (:n state))} :output {:sum s}}))
(mcp-stream "jsonl:data.jsonl" add {:sum 0 :n 0} {:stream-id "summer"})
"""


def write_data(folder: Path, n: int) -> Path:
    path = folder / "data.jsonl"
    path.write_text("".join(json.dumps({"v": i}) + "\n" for i in range(1, n + 1)))
    return path


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def outputs(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line]


@pytest.fixture
def script(tmp_path: Path) -> Path:
    write_data(tmp_path, 40)
    path = tmp_path / "sum.rtfs"
    path.write_text(SUM)
    return path


def add(state: Any, chunk: Any) -> dict[Keyword, Any]:
    return {K("state"): state + chunk}


# --- policies ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "policy"),
    [
        (None, SnapshotPolicy(chunks=1)),
        ("1", SnapshotPolicy(chunks=1)),
        ("50", SnapshotPolicy(chunks=50)),
        ("250ms", SnapshotPolicy(chunks=None, ms=250.0)),
        ("2s", SnapshotPolicy(chunks=None, ms=2000.0)),
    ],
)
def test_parse_policy(text: str | None, policy: SnapshotPolicy) -> None:
    assert parse_policy(text) == policy


@pytest.mark.parametrize("text", ["0", "-3", "1.5", "fast", "0ms", ""])
def test_parse_policy_refuses_nonsense(text: str) -> None:
    with pytest.raises(UsageError, match="--snapshot-every"):
        parse_policy(text)


# --- snapshot and restore --------------------------------------------------------------------------------------


async def test_paused_stream_with_20_queued_chunks_comes_back_the_same() -> None:
    async with MemoryStore() as store:
        async with Provider() as p:
            persister = Persister(store)
            p.attach_persistence(persister)
            sid = p.start(add, stream_id="s", initial_state=0, queue_capacity=32)
            await persister.claim(sid)
            for i in range(5):
                await p.push(sid, i)
            await p.settle(sid)
            p.pause(sid)
            for i in range(100, 120):
                await p.push(sid, i, {K("line"): i})
            p.checkpoint(sid)
            await persister.close()
        snap = await store.get("s")
        assert snap.status == "paused"
        assert snap.state == sum(range(5))
        assert [chunk for chunk, _ in snap.queue] == list(range(100, 120))
        assert [meta[K("line")] for _, meta in snap.queue] == list(range(100, 120))
        assert (snap.seq, snap.stats["processed"]) == (25, 5)

        async with Provider() as p2:
            sid = p2.restore(snap, add)
            rec = p2.record(sid)
            assert rec.status is Status.PAUSED
            assert [(seq, chunk) for seq, chunk, _, _ in rec.queue] == [(6 + i, 100 + i) for i in range(20)]
            p2.resume(sid)
            await p2.settle(sid)
            assert rec.state == sum(range(5)) + sum(range(100, 120))
            assert rec.processed == 25


def stamps(state: Any, chunk: Any, meta: dict[Keyword, Any]) -> dict[Keyword, Any]:
    """Keeps each chunk's ``:received-at``."""
    return {K("state"): (*state, (chunk, meta[K("received-at")]))}


class Ticks:
    """A provider clock that moves one second per reading."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.mark.parametrize("recorded", [True, False], ids=["format-4", "before-format-4"])
async def test_queued_chunks_keep_their_received_at_across_a_resume(recorded: bool) -> None:
    async with MemoryStore() as store:
        async with Provider(clock=Ticks(1000.0)) as p:
            persister = Persister(store)
            p.attach_persistence(persister)
            sid = p.start(stamps, stream_id="s", initial_state=())
            p.pause(sid)
            for chunk in "abc":
                p.push_nowait(sid, chunk)
            await persister.close()
        snap = await store.get("s")
        assert snap.queue_received_at == [1001.0, 1002.0, 1003.0]
        if not recorded:
            snap.queue_received_at = None  # what a format 3 snapshot reads as

        async with Provider(clock=Ticks(3999.0)) as p2:
            sid = p2.restore(snap, stamps)  # the restore reads the clock once: 4000.0
            rec = p2.record(sid)
            p2.resume(sid)
            await p2.settle(sid)
        expected = [1001.0, 1002.0, 1003.0] if recorded else [4000.0] * 3
        assert rec.state == tuple(zip("abc", expected, strict=True))


async def test_per_chunk_policy_commits_the_latest_state_of_every_stream() -> None:
    async with MemoryStore() as store:
        async with Provider() as p:
            persister = Persister(store)
            p.attach_persistence(persister)
            ids = [p.start(add, stream_id=f"s{i}", initial_state=0) for i in range(3)]
            for sid in ids:
                await p.push_many(sid, range(10))
            await p.settle()
            await persister.close()
        for sid in ids:
            snap = await store.get(sid)
            assert (snap.state, snap.stats["processed"]) == (45, 10)
        # group commit: the streams' snapshots share transactions, and later chunks supersede earlier ones
        assert persister.writes >= len(ids)
        assert persister.transactions < persister.writes


async def test_interval_policy_writes_less_often() -> None:
    async with MemoryStore() as store:
        async with Provider() as p:
            persister = Persister(store, parse_policy("100"))
            p.attach_persistence(persister)
            sid = p.start(add, stream_id="s", initial_state=0)
            await p.push_many(sid, range(1000))
            p.end_input(sid)
            await p.wait(sid)
            await persister.close()
        snap = await store.get("s")
        assert (snap.state, snap.status) == (sum(range(1000)), "completed")
        assert 10 <= persister.writes <= 13


def test_snapshot_of_records_where_to_resume() -> None:
    spec = StreamSpec.parse({K("endpoint"): "jsonl:x"})
    rec = StreamRecord(
        "s",
        Program(add, name="add", takes_meta=False, loops=loops_for(False, None, None)),
        initial_state=7,
        spec=spec,
    )
    rec.continuation = {"line": 3, "offset": 10}
    snap = snapshot_of(rec, processor_hash="abc", source_uri="jsonl:/x", script_path="/s.rtfs")
    assert (snap.processor, snap.processor_hash, snap.source_uri) == ("add", "abc", "jsonl:/x")
    assert snap.continuation == {"line": 3, "offset": 10}
    assert snap.options == {K("endpoint"): "jsonl:x", K("script"): "/s.rtfs"}
    assert (snap.state, snap.status) == (7, "active")


def test_snapshot_keeps_options_that_are_callable_values_and_drops_functions() -> None:
    """Keywords and sets can be called (``(:k m)``, ``(#{:a} x)``) but are data; a function option cannot be
    stored and is left out."""
    tags = LSet([K("hot"), "x"])
    options = {K("tags"): tags, K("on-error"): K("skip"), K("callback"): print, K("check"): add}
    program = Program(add, name="add", takes_meta=False, loops=loops_for(False, None, None))
    rec = StreamRecord("s", program, initial_state=0, spec=StreamSpec.parse(options))
    snap = snapshot_of(rec)
    assert snap.options == {K("tags"): tags, K("on-error"): K("skip")}
    back = decode_snapshot(encode_snapshot(snap), stream_id="s")
    assert back.options[K("tags")] == tags and type(back.options[K("tags")]) is LSet


# --- resume ----------------------------------------------------------------------------------------------------


async def test_resume_missing_stream_is_a_clear_error(script: Path) -> None:
    async with MemoryStore() as store, Provider() as p:
        persister = Persister(store)
        loaded = load_script(path=script)
        with pytest.raises(SnapshotNotFoundError, match="nope"):
            await resume_stream(p, persister, "nope", loaded)


def run_partially(script: Path, db: Path, lines: int) -> None:
    """A run that stops after ``lines`` lines: the data file is cut short, then restored to its full length."""
    data = script.parent / "data.jsonl"
    full = data.read_text()
    data.write_text("".join(full.splitlines(keepends=True)[:lines]))
    code, _out, err = cli("run", str(script), "--store", str(db))
    assert code == 0, err
    data.write_text(full)


async def _set_status(db: Path, stream_id: str, status: str) -> None:
    """Make a finished run's snapshot look like that of a run that died before its input ended."""
    async with open_store(str(db)) as store:
        snap = await store.get(stream_id)
        version = snap.version
        snap.status = status
        snap.input_ended = False
        await store.put(snap, expected_version=version)


def test_resume_continues_a_jsonl_stream_after_the_last_processed_line(script: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    run_partially(script, db, 15)
    asyncio.run(_set_status(db, "summer", "active"))  # a run that died rather than ended
    code, out, err = cli("resume", "summer", "--store", str(db))
    assert code == 0, err
    lines = outputs(out)
    assert [o["seq"] for o in lines] == list(range(16, 41))
    assert lines[0]["output"] == {"sum": sum(range(1, 17))}
    assert lines[-1]["output"] == {"sum": sum(range(1, 41))}
    code, out, _ = cli("inspect", "summer", "--store", str(db))
    report = json.loads(out)
    assert report["state"] == {"sum": sum(range(1, 41)), "n": 40}
    assert report["status"] == "completed"


def test_changed_processor_is_refused_unless_accepted(script: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    run_partially(script, db, 10)
    asyncio.run(_set_status(db, "summer", "active"))
    script.write_text(SUM.replace("(inc (:n state))", "(+ 10 (:n state))"))
    code, out, err = cli("resume", "summer", "--store", str(db))
    assert code == 2
    assert "changed since the snapshot" in err and "--accept-changed-processor" in err
    assert "Traceback" not in err and out == ""
    code, out, err = cli("resume", "summer", "--store", str(db), "--accept-changed-processor")
    assert code == 0, err
    code, out, _ = cli("inspect", "summer", "--store", str(db))
    assert json.loads(out)["state"] == {"sum": sum(range(1, 41)), "n": 10 + 30 * 10}


def test_changed_processor_error_from_python(script: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    run_partially(script, db, 5)
    other = tmp_path / "other.rtfs"
    other.write_text(SUM + "\n")

    async def attempt() -> None:
        async with open_store(str(db)) as store, Provider() as p:
            await resume_stream(p, Persister(store), "summer", load_script(path=other))

    with pytest.raises(ProcessorChangedError, match="summer"):
        asyncio.run(attempt())


def test_cli_resume_of_missing_stream(script: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    run_partially(script, db, 3)
    code, out, err = cli("resume", "ghost", "--store", str(db))
    assert code == 2
    assert "no snapshot of stream 'ghost'" in err and "Traceback" not in err
    assert out == ""


@pytest.mark.parametrize("command", ["list", "inspect", "resume"])
def test_unopenable_store_is_a_clear_error(tmp_path: Path, command: str) -> None:
    argv = [command] + (["x"] if command == "resume" else []) + ["--store", str(tmp_path / "no" / "such.db")]
    code, out, err = cli(*argv)
    assert code == 2
    assert "does not exist" in err and "Traceback" not in err
    assert out == ""


def test_run_again_resumes_a_stream_the_store_holds(script: Path, tmp_path: Path) -> None:
    """Under a supervisor the same command runs again: a resumable stream goes on where it stopped."""
    db = tmp_path / "s.db"
    run_partially(script, db, 15)
    asyncio.run(_set_status(db, "summer", "active"))  # a run that died rather than ended
    code, out, err = cli("run", str(script), "--store", str(db))
    assert code == 0, err
    assert "resuming stream summer from" in err and "processed 15" in err
    lines = outputs(out)
    assert [line["seq"] for line in lines] == list(range(16, 41))
    assert lines[-1]["output"] == {"sum": sum(range(1, 41))}


def test_run_again_of_a_finished_stream_reports_it(script: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    run_partially(script, db, 40)
    code, out, err = cli("run", str(script), "--store", str(db))
    assert (code, out) == (0, "")
    assert "stream summer: completed; processed 40, outputs 40" in err
    assert "finished before this run" in err


def test_run_restart_starts_a_stored_stream_over(script: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    run_partially(script, db, 15)
    code, out, err = cli("run", str(script), "--store", str(db), "--restart")
    assert code == 0, err
    assert "restarting stream summer" in err
    lines = outputs(out)
    assert [line["seq"] for line in lines] == list(range(1, 41))
    assert lines[-1]["output"] == {"sum": sum(range(1, 41))}


def test_restart_needs_a_store(script: Path) -> None:
    code, _, err = cli("run", str(script), "--restart")
    assert code == 2 and "--restart" in err and "needs run --store" in err


def test_snapshot_every_needs_a_store(script: Path) -> None:
    code, _, err = cli("run", str(script), "--snapshot-every", "10")
    assert code == 2 and "needs --store" in err


# --- list and inspect ------------------------------------------------------------------------------------------


def test_list_and_inspect_field_by_field(script: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    code, out, err = cli("run", str(script), "--store", str(db), "--snapshot-every", "7")
    assert code == 0, err
    code, out, err = cli("list", "--store", str(db))
    assert code == 0, err
    [row] = json.loads(out)
    assert (row["stream_id"], row["processor"], row["status"], row["seq"]) == (
        "summer",
        "add",
        "completed",
        40,
    )
    assert row["version"] >= 40 // 7
    assert isinstance(row["updated_at"], float)

    code, out, err = cli("inspect", "summer", "--store", str(db))
    assert code == 0, err
    r = json.loads(out)
    assert r["stream_id"] == "summer" and r["processor"] == "add" and r["status"] == "completed"
    assert r["message"] is None
    assert (r["seq"], r["output_seq"], r["queue_depth"], r["queue_capacity"]) == (40, 40, 0, 32)
    assert r["source"] == {"uri": "jsonl:" + str(tmp_path / "data.jsonl"), "kind": "jsonl"}
    assert r["input_ended"] is True
    assert r["continuation"]["line"] == 40
    assert r["options"]["script"] == str(script.resolve())
    assert "stream-id" not in r["options"]  # the stream's own id, not one of its options
    assert r["stats"]["processed"] == 40 and r["stats"]["outputs"] == 40 and r["stats"]["errors"] == 0
    assert r["state"] == {"sum": 820, "n": 40} and r["initial_state"] == {"sum": 0, "n": 0}
    assert r["version"] == row["version"]
    assert len(r["processor_hash"]) == 64

    code, out, _ = cli("inspect", "summer", "--store", str(db), "--no-state", "--queue")
    r = json.loads(out)
    assert "state" not in r and r["queue"] == []
    code, out, _ = cli("inspect", "--store", str(db))
    assert [x["stream_id"] for x in json.loads(out)] == ["summer"]


async def test_inspect_from_a_store_uses_the_field_names_of_a_live_stream() -> None:
    """The same stream, inspected live and from its snapshot: the same fields, in the report, its stats and its
    queue; the store adds only what it keeps (version, times, the processor's hash)."""
    from streamrt.jsoncodec import to_json
    from streamrt.store.cli import describe_snapshot

    async with MemoryStore() as store:
        async with Provider() as p:
            persister = Persister(store)
            p.attach_persistence(persister)
            sid = p.start(add, stream_id="s", initial_state=0, queue_capacity=8)
            await persister.claim(sid)
            await p.push(sid, 1, {K("line"): 1})
            await p.settle(sid)
            p.pause(sid)
            await p.push(sid, 2, {K("line"): 2})
            p.checkpoint(sid)
            await p.settle(sid)
            live = to_json(p.inspect(sid, include_state=True, include_queue=True))
            await persister.close()
        stored = describe_snapshot(await store.get("s"), include_state=True, include_queue=True)
    assert set(stored) == (set(live) - {"activity"}) | {
        "processor_hash",
        "version",
        "created_at",
        "updated_at",
    }
    assert list(stored["stats"]) == list(live["stats"])
    assert (
        [set(e) for e in stored["queue"]]
        == [set(e) for e in live["queue"]]
        == [{"seq", "received_at", "chunk", "meta"}]
    )
    for field in (
        "stream_id",
        "status",
        "seq",
        "output_seq",
        "queue_depth",
        "queue_capacity",
        "input_ended",
        "state",
    ):
        assert stored[field] == live[field], field
    assert stored["queue"] == live["queue"]
    assert {k: stored["stats"][k] for k in ("processed", "queued", "outputs")} == {
        k: live["stats"][k] for k in ("processed", "queued", "outputs")
    }
