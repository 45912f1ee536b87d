"""The crash test: ``streamrt run`` killed with SIGKILL at random points and resumed each time.

State must come out exactly as in one uninterrupted run, and the outputs, with repeats dropped by their ``seq``,
must equal that run's outputs: none missing, none out of order.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from streamrt.errors import SnapshotNotFoundError
from streamrt.runtime.persist import GROUP_BATCH
from streamrt.store import open_store
from tests.persist.pacing import LEAD, LINE_BYTES, spawn_paced

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

LINES = 1500
KILLS = 9
#: the most output lines read before a kill; each run gets at most this many plus LEAD lines further
MOST_READ = 150
INTERVAL = 50
# Every output carries LINE_BYTES of padding, so the child cannot run more than LEAD lines ahead of the lines read
# (tests/persist/pacing.py): each planned kill lands before the input runs out, however loaded the machine.
SCRIPT = """
(defn add [state chunk]
  (let [s (+ (:sum state) (:v chunk))]
    {:state {:sum s :n (inc (:n state)) :last (:v chunk)} :output {:sum s :v (:v chunk) :pad "PAD"}}))
(mcp-stream "jsonl:data.jsonl" add {:sum 0 :n 0 :last nil} {:stream-id "crashy"})
""".replace("PAD", "x" * LINE_BYTES)
CLI = "import sys; from streamrt.cli import entry; sys.argv[0] = 'streamrt'; entry()"


def streamrt(*argv: str, paced: bool = False) -> subprocess.Popen[str]:
    if paced:
        return spawn_paced([sys.executable, "-c", CLI, *argv], env=dict(os.environ))
    return subprocess.Popen(
        [sys.executable, "-c", CLI, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def finish(proc: subprocess.Popen[str], first: str = "") -> tuple[int, str, str]:
    """Read the rest of the output and the exit code.

    The rest is read through the same buffered file ``readline`` used: ``communicate`` reads the raw descriptor
    and would skip lines ``readline`` had already buffered, which looks exactly like lost outputs.
    """
    assert proc.stdout is not None and proc.stderr is not None
    try:
        out = proc.stdout.read()
        err = proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    return proc.returncode, first + out, err


def complete_lines(text: str) -> list[dict[str, Any]]:
    """The output lines a consumer saw: a line cut off by the kill (no newline yet) was never delivered."""
    return [json.loads(line) for line in text.split("\n")[:-1] if line]


def dedupe(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a consumer keeps: an output the first time its seq goes past the last one seen."""
    seen = 0
    kept = []
    for o in outputs:
        if o["seq"] > seen:
            assert o["seq"] == seen + 1, f"gap: seq {o['seq']} after {seen}"
            kept.append(o)
            seen = o["seq"]
    return kept


@pytest.fixture
def script(tmp_path: Path) -> Path:
    (tmp_path / "data.jsonl").write_text("".join(json.dumps({"v": i}) + "\n" for i in range(1, LINES + 1)))
    path = tmp_path / "crash.rtfs"
    path.write_text(SCRIPT)
    return path


def inspect(db: Path) -> dict[str, Any]:
    code, report, err = finish(streamrt("inspect", "crashy", "--store", str(db)))
    assert code == 0, err
    return json.loads(report)  # type: ignore[no-any-return]


def committed_output_seq(db: Path) -> int | None:
    """The output seq of the stream's committed snapshot (None: nothing committed yet), read in this process.

    Between kills the store is read here rather than by ``streamrt inspect`` / ``list``: each would be another
    interpreter start, ten per test, which is most of the test's time on a loaded machine. The final state is still
    read by ``streamrt inspect``, as a user would.
    """

    async def read() -> int | None:
        async with open_store(str(db)) as store:
            try:
                return (await store.get("crashy")).output_seq
            except SnapshotNotFoundError:
                return None

    return asyncio.run(read())


def uninterrupted(script: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    db = script.parent / "clean.db"
    code, out, err = finish(streamrt("run", str(script), "--store", str(db)))
    assert code == 0, err
    return complete_lines(out), inspect(db)


def crash_loop(
    script: Path, extra: list[str], seed: int
) -> tuple[list[dict[str, Any]], dict[str, Any], int, list[int]]:
    """Run, kill at a random point, resume, kill, ... then let the last resume finish.

    Also returns, for each kill after the first snapshot, how many outputs had been emitted past the committed
    snapshot (the ones resume repeats); never negative, or an output would have been lost.
    """
    assert KILLS * (MOST_READ + LEAD) < LINES, "a run could reach the end of the input before its kill"
    rng = random.Random(seed)
    db = script.parent / f"crash-{seed}.db"
    seen: list[dict[str, Any]] = []
    lags: list[int] = []
    kills = 0
    stored = False
    while True:
        if stored:
            proc = streamrt("resume", "crashy", "--store", str(db), paced=True)
        else:
            proc = streamrt("run", str(script), "--store", str(db), *extra, paced=True)
        first = ""
        if kills < KILLS:
            # kill once a random number of output lines has come out: KILLS x (MOST_READ + LEAD) < LINES, so
            # all of them land
            assert proc.stdout is not None
            for _ in range(rng.randint(1, MOST_READ)):
                line = proc.stdout.readline()
                first += line
                if not line:
                    break
            if first:
                proc.send_signal(signal.SIGKILL)
        code, out, err = finish(proc, first)
        seen.extend(complete_lines(out))
        if code != -signal.SIGKILL:
            assert code == 0, err
            assert "Traceback" not in err
            return seen, inspect(db), kills, lags
        kills += 1
        output_seq = committed_output_seq(db)
        if stored:
            assert output_seq is not None
            lag = max(o["seq"] for o in seen) - output_seq
            assert lag >= 0, "the store holds outputs nobody saw: they were lost"
            lags.append(lag)
        # killed before its first snapshot was committed, the store holds nothing: `run` again
        stored = output_seq is not None


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "state": report["state"],
        "status": report["status"],
        "seq": report["seq"],
        "output_seq": report["output_seq"],
        "processed": report["stats"]["processed"],
        "outputs": report["stats"]["outputs"],
        "continuation": report["continuation"],
    }


def test_sigkill_and_resume_per_chunk_snapshots(script: Path) -> None:
    expected_outputs, expected_report = uninterrupted(script)
    assert len(expected_outputs) == LINES
    seen, report, kills, lags = crash_loop(script, [], seed=4)
    assert kills == KILLS
    assert comparable(report) == comparable(expected_report)
    assert report["state"] == {"sum": LINES * (LINES + 1) // 2, "n": LINES, "last": LINES}
    assert dedupe(seen) == expected_outputs
    # group commit: a stream runs at most two batches past its last committed snapshot, so a kill repeats the
    # outputs of at most that many chunks (one output per chunk here)
    assert lags and max(lags) <= 2 * GROUP_BATCH, lags
    assert len(seen) - len(expected_outputs) <= kills * 2 * GROUP_BATCH


def test_sigkill_and_resume_interval_snapshots(script: Path) -> None:
    expected_outputs, expected_report = uninterrupted(script)
    seen, report, kills, lags = crash_loop(script, ["--snapshot-every", str(INTERVAL)], seed=11)
    assert kills == KILLS
    assert comparable(report) == comparable(expected_report)
    assert dedupe(seen) == expected_outputs
    # a stream goes past an interval's end only once the previous interval's snapshot is committed, so a kill
    # repeats at most two intervals' outputs (one output per chunk here)
    assert lags and max(lags) <= 2 * INTERVAL, lags
    assert len(seen) - len(expected_outputs) <= kills * 2 * INTERVAL
