"""Resuming several streams at once: the CLI forms, all-or-nothing, and the snapshot's source-failed flag."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgpack
import pytest

from streamrt.cli import main
from streamrt.lang.script import load_script
from streamrt.runtime.persist import Persister
from streamrt.runtime.provider import Provider
from streamrt.runtime.resume import resume_streams
from streamrt.sources.base import Chunk, Item, Source
from streamrt.store import Snapshot, open_store
from streamrt.store.codec import encode_snapshot
from streamrt.values import Keyword

pytestmark = pytest.mark.timeout(30)

NAMES = ("a", "b", "c")
SCRIPT = "(defn add [state chunk] {:state {:sum (+ (:sum state) (:v chunk)) :n (inc (:n state))} :output (:v chunk)})\n"
STREAMS = "".join(f'(mcp-stream "jsonl:{n}.jsonl" add {{:sum 0 :n 0}} {{:stream-id "{n}"}})\n' for n in NAMES)
LINES = 12
K_SUM, K_N = Keyword("sum"), Keyword("n")


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def lines(text: str, start: int, stop: int) -> str:
    return "".join(json.dumps({"v": i}) + "\n" for i in range(start, stop))


@pytest.fixture
def half_run(tmp_path: Path) -> tuple[Path, Path]:
    """Three streams that processed 5 of their 12 lines and then 'died' (active, input not ended) in a SQLite file."""
    script = tmp_path / "three.rtfs"
    script.write_text(SCRIPT + STREAMS)
    for n in NAMES:
        (tmp_path / f"{n}.jsonl").write_text(lines("", 1, 6))
    db = tmp_path / "s.db"
    code, _, err = cli("run", str(script), "--store", str(db))
    assert code == 0, err
    for n in NAMES:
        (tmp_path / f"{n}.jsonl").write_text(lines("", 1, LINES + 1))
    asyncio.run(_revive(db))
    return script, db


async def _revive(db: Path) -> None:
    async with open_store(str(db)) as store:
        for n in NAMES:
            snap = await store.get(n)
            version = snap.version
            snap.status, snap.input_ended = "active", False
            await store.put(snap, expected_version=version)


def report(db: Path, stream_id: str) -> dict[str, Any]:
    code, out, err = cli("inspect", stream_id, "--store", str(db))
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def resumed_outputs(out: str) -> dict[str, list[Any]]:
    got: dict[str, list[Any]] = {}
    for line in out.splitlines():
        record = json.loads(line)
        got.setdefault(record["stream"], []).append(record["output"])
    return got


def test_several_ids_then_all_resume_in_one_process(half_run: tuple[Path, Path]) -> None:
    script, db = half_run
    code, out, err = cli("resume", "a", "b", "--store", str(db))
    assert code == 0, err
    assert resumed_outputs(out) == {"a": list(range(6, 13)), "b": list(range(6, 13))}
    for n in ("a", "b"):
        assert report(db, n)["state"] == {"sum": sum(range(1, 13)), "n": 12}
        assert report(db, n)["status"] == "completed"
    assert report(db, "c")["status"] == "active"
    # --all brings back what is still resumable: only c (a and b completed)
    code, out, err = cli("resume", "--all", "--store", str(db), "--script", str(script))
    assert code == 0, err
    assert resumed_outputs(out) == {"c": list(range(6, 13))}
    assert report(db, "c")["status"] == "completed"
    code, out, err = cli("resume", "--all", "--store", str(db))
    assert (code, out) == (0, "")
    assert "no resumable streams" in err


def test_the_older_form_with_a_positional_script_still_works(half_run: tuple[Path, Path]) -> None:
    script, db = half_run
    code, out, err = cli("resume", "b", str(script), "--store", str(db))
    assert code == 0, err
    assert resumed_outputs(out) == {"b": list(range(6, 13))}


def test_the_design_form_with_the_script_after_the_options_works(
    half_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    script, db = half_run
    code, out, err = cli("resume", "b", "--store", str(db), str(script))
    assert code == 0, err
    assert resumed_outputs(out) == {"b": list(range(6, 13))}
    code, _, _ = cli("resume", "b", "--store", str(db), "--bogus")
    assert code == 2 and "unrecognized arguments: --bogus" in capsys.readouterr().err  # argparse's own stderr


def test_one_missing_id_is_a_clear_error_and_nothing_resumes(half_run: tuple[Path, Path]) -> None:
    _, db = half_run
    before = {n: report(db, n) for n in NAMES}
    code, out, err = cli("resume", "a", "ghost", "b", "--store", str(db))
    assert code == 2
    assert "no snapshot of stream 'ghost'" in err and "Traceback" not in err
    assert out == ""
    assert {n: report(db, n) for n in NAMES} == before

    async def leases() -> list[Any]:
        async with open_store(str(db)) as store:
            return [await store.lease(n) for n in NAMES]

    assert asyncio.run(leases()) == [None, None, None]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param([], "name the streams to resume", id="nothing-named"),
        pytest.param(["--all", "a"], "takes no IDs", id="all-and-ids"),
        pytest.param(
            ["a", "b", "--source", "jsonl:x.jsonl"], "--source replaces the source of one", id="source"
        ),
    ],
)
def test_bad_resume_command_lines(half_run: tuple[Path, Path], argv: list[str], message: str) -> None:
    _, db = half_run
    code, out, err = cli("resume", *argv, "--store", str(db))
    assert code == 2
    assert message in err and out == "" and "Traceback" not in err


class _Failing(Source):
    """Delivers two chunks, then its connection breaks for good."""

    kind = "jsonl"

    async def items(self) -> AsyncIterator[Item]:
        yield Chunk({Keyword("v"): 1})
        yield Chunk({Keyword("v"): 2})
        raise ConnectionResetError("peer went away")


async def test_the_source_failed_flag_round_trips_and_drives_resume(tmp_path: Path) -> None:
    data = tmp_path / "more.jsonl"
    data.write_text(lines("", 3, 6))
    path = tmp_path / "add.rtfs"
    path.write_text(SCRIPT)
    script = load_script(path=path)
    url = str(tmp_path / "f.db")
    async with open_store(url) as store:
        async with Provider() as p:
            persister = Persister(store)
            p.attach_persistence(persister)
            await persister.claim("f")
            p.start(
                script.processor("add"),
                stream_id="f",
                initial_state={K_SUM: 0, K_N: 0},
                processor_name="add",
                source=_Failing(f"jsonl:{data}"),
            )
            await p.wait("f")
            await persister.close()
        snap = await store.get("f")
        assert snap.status == "error" and snap.source_failed is True
        assert snap.status_message is not None and "peer went away" in snap.status_message
        # the flag, not the message, says why: a message of any shape still resumes
        version = snap.version
        snap.status_message = "lost"
        await store.put(snap, expected_version=version)
        async with Provider() as p:
            persister = Persister(store)
            p.attach_persistence(persister)
            resumed = await resume_streams(p, persister, None, script)
            assert [s.stream_id for s in resumed] == ["f"]
            await p.wait("f")
            assert p.record("f").status.value == "completed"
            await persister.close()
        final = await store.get("f")
        assert (final.status, final.source_failed) == ("completed", False)


def _as_format_2(snap: Snapshot) -> bytes:
    """The snapshot as streamrt wrote it before format 3: no source_failed field (nor format 4's receive times,
    nor format 5's timers)."""
    header = struct.Struct("!4sHII")
    fields = msgpack.unpackb(encode_snapshot(snap)[header.size :], strict_map_key=False)
    payload = msgpack.packb(fields[:-3])
    return header.pack(b"SRTS", 2, len(payload), zlib.crc32(payload)) + payload


@pytest.mark.parametrize(("message_names_source", "resumed"), [(True, True), (False, False)])
def test_an_old_format_snapshot_still_resumes_by_its_message(
    half_run: tuple[Path, Path], message_names_source: bool, resumed: bool
) -> None:
    _, db = half_run

    async def read(sid: str) -> Snapshot:
        async with open_store(str(db)) as store:
            return await store.get(sid)

    snap = asyncio.run(read("a"))
    assert snap.source_uri is not None
    snap.status = "error"
    snap.status_message = (
        f"source {snap.source_uri}: boom" if message_names_source else "processor add failed"
    )
    connection = sqlite3.connect(db)
    with connection:
        connection.execute(
            "UPDATE streamrt_snapshots SET blob = ? WHERE stream_id = 'a'", (_as_format_2(snap),)
        )
    connection.close()
    old = asyncio.run(read("a"))
    assert (old.format_version, old.source_failed) == (2, None)
    code, out, err = cli("resume", "--all", "--store", str(db))
    assert code == 0, err
    assert ("a" in resumed_outputs(out)) is resumed
    assert report(db, "a")["status"] == ("completed" if resumed else "error")


async def test_a_processor_error_while_draining_a_failed_source_is_not_a_source_failure(
    tmp_path: Path,
) -> None:
    path = tmp_path / "add.rtfs"
    path.write_text(SCRIPT)
    script = load_script(path=path)
    async with open_store("memory:") as store, Provider() as p:
        persister = Persister(store)
        p.attach_persistence(persister)
        await persister.claim("g")
        # no :sum in the state: the first chunk fails in the processor, after the source has given up
        p.start(
            script.processor("add"), stream_id="g", processor_name="add", source=_Failing("jsonl:none.jsonl")
        )
        await p.wait("g")
        await persister.close()
        snap = await store.get("g")
        assert snap.status == "error" and "expected a number" in (snap.status_message or "")
        assert snap.source_failed is False
