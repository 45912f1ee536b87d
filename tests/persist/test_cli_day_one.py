"""What a user meets on the first day with a store: ``| head``, a supervisor's restarts, a stream that paused
itself, ``delete`` and ``prune``. Real processes, real pipes, real SQLite files."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from streamrt.cli import main
from streamrt.store import open_store

pytestmark = pytest.mark.timeout(120)

BIG = """
(defn count-up [state chunk]
  (let [total (+ (:total state 0) (:n chunk))]
    {:state {:total total} :output {:n (:n chunk) :total total}}))

(mcp-stream "big.jsonl" count-up {:total 0} {:stream-id "big"})
"""

PAUSING = """
(defn p [state chunk]
  (if (= (:n chunk) 3)
    {:state state :action :pause :output {:paused-at 3}}
    {:state state :output (:n chunk)}))
(mcp-stream "big.jsonl" p {} {:stream-id "pz"})
"""

LINES = 3000


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "big.jsonl").write_text("".join(json.dumps({"n": i}) + "\n" for i in range(1, LINES + 1)))
    (tmp_path / "big.rtfs").write_text(BIG)
    (tmp_path / "pause.rtfs").write_text(PAUSING)
    return tmp_path


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def shell(command: str, cwd: Path) -> tuple[int, str, str]:
    """``command`` through bash, as a user types it; returns the exit code of streamrt (the pipeline's first)."""
    done = subprocess.run(
        ["bash", "-c", f'{command}; exit "${{PIPESTATUS[0]}}"'],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
        env={**os.environ, "STREAMRT": f"{sys.executable} -m streamrt"},
    )
    return done.returncode, done.stdout, done.stderr


async def status_of(db: Path, sid: str) -> str:
    async with open_store(str(db)) as store:
        return (await store.get(sid)).status


@pytest.mark.skipif(shutil.which("head") is None, reason="needs head")
def test_head_closes_stdout_and_the_same_command_continues_the_stream(folder: Path) -> None:
    command = "$STREAMRT run big.rtfs --store s.db | head -2"
    code, out, err = shell(command, folder)
    assert code == 141, err
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [1, 2]
    # nothing on stderr but the closing summary
    lines = err.splitlines()
    assert lines[0].startswith("stream big: active; processed "), err
    assert lines[1:] == ["streamrt run: output closed; 1 stream(s) left unfinished and resumable"], err
    assert asyncio.run(status_of(folder / "s.db", "big")) == "active"

    # again: it says it resumes, and the outputs are numbered on from where the first run stopped
    code, out, err = shell(command, folder)
    assert code == 141, err
    first = json.loads(out.splitlines()[0])
    assert first["seq"] > 2 and first["output"]["n"] == first["seq"]
    assert "streamrt run: resuming stream big from" in err and "Traceback" not in err

    # and to its end
    code, out, err = shell("$STREAMRT run big.rtfs --store s.db", folder)
    assert code == 0, err
    seqs = [json.loads(line)["seq"] for line in out.splitlines()]
    assert seqs == list(range(seqs[0], LINES + 1)) and seqs[0] > first["seq"]
    assert json.loads(out.splitlines()[-1])["output"] == {"n": LINES, "total": LINES * (LINES + 1) // 2}
    assert f"stream big: completed; processed {LINES}, outputs {LINES}" in err


def test_head_without_a_store_is_quiet_too(folder: Path) -> None:
    code, out, err = shell("$STREAMRT run big.rtfs | head -1", folder)
    assert code == 141, err
    assert len(out.splitlines()) == 1
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err
    assert "left unfinished (run without --store: nothing to resume)" in err


def test_a_store_command_piped_into_head_is_quiet(folder: Path) -> None:
    assert cli("run", str(folder / "big.rtfs"), "--store", str(folder / "s.db"))[0] == 0
    code, out, err = shell("$STREAMRT inspect big --store s.db | head -1", folder)
    assert (code, out.strip(), err) == (0, "{", "")


def test_an_error_stream_is_finished_too_and_run_again_exits_1(folder: Path) -> None:
    (folder / "bad.rtfs").write_text(
        '(defn f [s c] (if (= (:n c) 2) (+ 1 "x") s))\n(mcp-stream "big.jsonl" f)\n'
    )
    code, _, err = cli("run", str(folder / "bad.rtfs"), "--store", str(folder / "s.db"))
    assert code == 1, err
    code, out, err = cli("run", str(folder / "bad.rtfs"), "--store", str(folder / "s.db"))
    assert (code, out) == (1, "")
    assert "stream f-1: error; processed 2" in err and "finished before this run" in err


def run_until_paused(folder: Path, db: Path) -> None:
    """``streamrt run pause.rtfs --store DB`` until the stream pauses itself, then Ctrl-C."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamrt", "run", "pause.rtfs", "--store", str(db)],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if json.loads(line)["output"] == {"paused-at": 3}:
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "stream pz: paused; processed 3" in err


@pytest.mark.parametrize("command", ["resume", "run"])
def test_a_person_resumes_a_stream_that_paused_itself(folder: Path, command: str) -> None:
    db = folder / "p.db"
    run_until_paused(folder, db)
    assert asyncio.run(status_of(db, "pz")) == "paused"
    target = "pz" if command == "resume" else str(folder / "pause.rtfs")
    code, out, err = cli(command, target, "--store", str(db), "--unpause")
    assert code == 0, err
    assert "stream pz was paused; --unpause resumes it" in err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["seq"] for line in lines] == list(range(4, LINES + 1))
    assert lines[0]["output"] == 4
    assert f"stream pz: completed; processed {LINES}" in err


def test_resuming_a_paused_stream_without_unpause_says_how(folder: Path) -> None:
    db = folder / "p.db"
    run_until_paused(folder, db)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamrt", "resume", "pz", "--store", str(db)],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        hint = proc.stderr.readline()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "stream pz is paused and waits for a resume directive" in hint and "--unpause" in hint


# --- delete and prune ------------------------------------------------------------------------------------------


def _age(db: Path, sid: str, seconds: float) -> None:
    """Make a stored stream look last written ``seconds`` ago (the store stamps updated_at itself)."""
    connection = sqlite3.connect(db)
    try:
        with connection:
            connection.execute(
                "UPDATE streamrt_snapshots SET updated_at = updated_at - ? WHERE stream_id = ?",
                (seconds, sid),
            )
    finally:
        connection.close()


def stored(db: Path) -> dict[str, str]:
    code, out, err = cli("list", "--store", str(db))
    assert code == 0, err
    return {row["stream_id"]: row["status"] for row in json.loads(out)}


@pytest.fixture
def three(folder: Path) -> Path:
    db = folder / "s.db"
    for sid in ("old", "new"):
        run = (
            "run",
            str(folder / "big.rtfs"),
            "--store",
            str(db),
            "--stream-id",
            sid,
            "--snapshot-every",
            "1000",
        )
        assert cli(*run)[0] == 0
    run_until_paused(folder, db)  # pz, paused: resumable
    _age(db, "old", 10 * 86400)
    _age(db, "pz", 10 * 86400)
    return db


def test_prune_finished_older_than(three: Path) -> None:
    assert stored(three) == {"old": "completed", "new": "completed", "pz": "paused"}
    code, out, err = cli("prune", "--finished", "--older-than", "7d", "--store", str(three), "--dry-run")
    assert (code, out.split()) == (0, ["old"]), err
    assert set(stored(three)) == {"old", "new", "pz"}
    code, out, err = cli("prune", "--finished", "--older-than", "7d", "--store", str(three))
    assert (code, out.split()) == (0, ["old"]), err
    assert stored(three) == {"new": "completed", "pz": "paused"}
    # a paused stream is never finished, however old
    code, out, _ = cli("prune", "--finished", "--older-than", "0s", "--store", str(three))
    assert (code, out.split()) == (0, ["new"])
    assert stored(three) == {"pz": "paused"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["prune"], "say what to prune: --finished", id="no-selector"),
        pytest.param(
            ["prune", "--finished", "--older-than", "a week"], "--older-than: expected", id="bad-age"
        ),
        pytest.param(["delete", "ghost"], "holds no stream 'ghost'", id="unknown-id"),
    ],
)
def test_delete_and_prune_refuse_mistakes(three: Path, argv: list[str], message: str) -> None:
    code, out, err = cli(*argv, "--store", str(three))
    assert (code, out) == (2, "")
    assert message in err and "Traceback" not in err
    assert set(stored(three)) == {"old", "new", "pz"}


def test_delete_removes_a_stream_and_its_dead_letters(three: Path) -> None:
    code, out, err = cli("delete", "pz", "new", "--store", str(three))
    assert (code, out.split()) == (0, ["pz", "new"]), err
    assert set(stored(three)) == {"old"}
    code, _, err = cli("dead-letters", "pz", "--store", str(three))
    assert code == 2 and "holds no stream 'pz'" in err


def test_delete_refuses_a_running_stream(three: Path) -> None:
    async def hold() -> None:
        async with open_store(str(three)) as store:
            assert await store.claim("pz", "elsewhere:1:x", 60)

    asyncio.run(hold())
    code, _, err = cli("delete", "pz", "--store", str(three))
    assert code == 2
    assert "stream 'pz' is running (its lease is held by elsewhere:1:x)" in err
    assert "pz" in stored(three)


def test_completion_knows_the_new_commands() -> None:
    out = io.StringIO()
    assert main(["completion", "bash"], out=out) == 0
    for word in ("delete", "prune", "--older-than", "--unpause", "--restart"):
        assert word in out.getvalue()
