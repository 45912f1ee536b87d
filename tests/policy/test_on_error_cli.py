"""``:on-error`` from a script's ``mcp-stream`` options through ``streamrt run``, and ``streamrt dead-letters``
reading a real SQLite store file, across a resume."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest

from streamrt.cli import main
from streamrt.store import open_store

pytestmark = pytest.mark.timeout(30)

SCRIPT = """
(defn add [state chunk]
  (if (= (:v chunk) 13)
    (/ (:v chunk) 0)
    (let [s (+ (:sum state) (:v chunk))] {:state {:sum s} :output {:sum s}})))

(defn report [state] {:output {:total (:sum state)}})

(mcp-stream "jsonl:data.jsonl" add {:sum 0}
  {:stream-id "adder" :on-end "report" :on-error POLICY
   :input-schema [:map [:v :int] [:note {:optional true} :string]]
   :output-schema [:or [:map [:sum :int]] [:map [:total :int]]]})
"""

DATA = [{"v": 1}, {"v": "two"}, {"v": 13}, {"v": 2, "note": "fine"}, {"v": 3, "note": 4}, {"v": 4}]
GOOD_TOTAL = 1 + 2 + 4


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def dead_letters(stream_id: str, db: Path) -> tuple[int, list[dict[str, Any]], str]:
    """``streamrt dead-letters ID --store DB`` through the command line."""
    code, out, err = cli("dead-letters", stream_id, "--store", str(db))
    return code, [json.loads(line) for line in out.splitlines()], err


def project(tmp_path: Path, policy: str, data: list[Any] = DATA) -> Path:
    script = tmp_path / "add.rtfs"
    script.write_text(SCRIPT.replace("POLICY", policy), encoding="utf-8")
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(d) + "\n" for d in data), encoding="utf-8")
    return script


def outputs(out: str) -> list[Any]:
    return [json.loads(line)["output"] for line in out.splitlines()]


def test_run_with_fail_stops_at_the_first_bad_chunk(tmp_path: Path) -> None:
    code, out, err = cli("run", str(project(tmp_path, ":fail")))
    assert code == 1
    assert outputs(out) == [{"sum": 1}]
    assert (
        "stream adder: error; processed 2, outputs 1, dropped 4, errors 1; stream adder: chunk 2 does not match "
        ':input-schema at [:v]: expected :int, found "two" (a string)'
    ) in err


def test_run_with_skip_goes_on_and_counts(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    code, out, err = cli("run", str(project(tmp_path, ":skip")), "--store", str(db))
    assert code == 0, err
    assert outputs(out) == [{"sum": 1}, {"sum": 3}, {"sum": 7}, {"total": GOOD_TOTAL}]
    assert "errors 3 (3 skipped, 0 of them dead-lettered)" in err
    code, report, err = cli("inspect", "adder", "--store", str(db))
    assert code == 0, err
    stats = json.loads(report)["stats"]
    assert (stats["processed"], stats["skipped"], stats["errors"], stats["dead_lettered"]) == (6, 3, 3, 0)
    code, letters, err = dead_letters("adder", db)
    assert (code, letters) == (0, [])


def test_run_with_dead_letter_keeps_them_in_the_store(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    code, out, err = cli("run", str(project(tmp_path, ":dead-letter")), "--store", str(db))
    assert code == 0, err
    assert outputs(out) == [{"sum": 1}, {"sum": 3}, {"sum": 7}, {"total": GOOD_TOTAL}]
    code, letters, err = dead_letters("adder", db)
    assert code == 0, err
    assert [(d["stream"], d["seq"], d["chunk"]) for d in letters] == [
        ("adder", 2, {"v": "two"}),
        ("adder", 3, {"v": 13}),
        ("adder", 5, {"v": 3, "note": 4}),
    ]
    assert letters[0]["error"] == (
        'stream adder: chunk 2 does not match :input-schema at [:v]: expected :int, found "two" (a string)'
    )
    assert letters[1]["error"].startswith("chunk 3: ") and "division by zero" in letters[1]["error"]
    assert "at [:note]: expected :string, found 4 (an integer)" in letters[2]["error"]
    assert [d["meta"]["line"] for d in letters] == [2, 3, 5]
    assert all(d["meta"]["stream-id"] == "adder" and d["meta"]["source"] == "jsonl" for d in letters)
    assert all(isinstance(d["created_at"], float) for d in letters)


def test_dead_letters_survive_a_resume(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    script = project(tmp_path, ":dead-letter", DATA[:3])
    code, _, err = cli("run", str(script), "--store", str(db))
    assert code == 0, err
    asyncio.run(_reactivate(db, "adder"))  # as if that run had died rather than ended
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DATA), encoding="utf-8")
    code, out, err = cli("resume", "adder", "--store", str(db))
    assert code == 0, err
    assert outputs(out) == [{"sum": 3}, {"sum": 7}, {"total": GOOD_TOTAL}]
    code, letters, err = dead_letters("adder", db)
    assert [d["seq"] for d in letters] == [2, 3, 5], "the first run's dead letters are still there"
    code, report, err = cli("inspect", "adder", "--store", str(db))
    stats = json.loads(report)["stats"]
    assert (stats["skipped"], stats["dead_lettered"]) == (3, 3), "the counters came back with the snapshot"


async def _reactivate(db: Path, stream_id: str) -> None:
    async with open_store(str(db)) as store:
        snap = await store.get(stream_id)
        version = snap.version
        snap.status = "active"
        snap.status_message = None
        snap.input_ended = False
        await store.put(snap, expected_version=version)


def test_dead_letters_of_an_unknown_stream_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    code, _, err = cli("run", str(project(tmp_path, ":skip")), "--store", str(db))
    assert code == 0, err
    code, letters, err = dead_letters("nope", db)
    assert code == 2 and letters == []
    assert err.startswith("streamrt dead-letters: the store ") and str(db) in err
    assert err.strip().endswith("holds no stream 'nope'")


def test_a_malformed_schema_option_is_reported_at_the_mcp_stream_line(tmp_path: Path) -> None:
    script = tmp_path / "bad.rtfs"
    script.write_text(
        '(defn f [s c] s)\n\n(mcp-stream "jsonl:data.jsonl" f {} {:input-schema [:map [:v :integer]]})\n',
        encoding="utf-8",
    )
    (tmp_path / "data.jsonl").write_text("{}\n", encoding="utf-8")
    code, out, err = cli("run", str(script))
    assert code == 2 and out == ""
    assert f"{script}:3:1: " in err
    assert ":input-schema: malformed schema [:map [:v :integer]]: unknown type :integer" in err
    assert "Traceback" not in err


def test_dead_letters_is_a_cli_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = cli("dead-letters", "--help")  # argparse prints its help on sys.stdout
    assert code == 0 and "--store" in capsys.readouterr().out
