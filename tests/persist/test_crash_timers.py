"""Timers survive SIGKILL: a real host process with a SQLite store is killed with its timers pending, and the
resumed process runs each of them once: the one whose time passed while nothing ran at once, the other when due.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streamrt.store import open_store
from tests.persist.timer_host import LATER, SOON

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

HOST = Path(__file__).with_name("timer_host.py")


def host(db: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HOST), str(db), mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def stored_timers(db: Path) -> dict[str, float]:
    async def read() -> dict[str, float]:
        async with open_store(str(db)) as store:
            snap = await store.get("timed")
            return {name.name: due for name, due in snap.timers}

    return asyncio.run(read())


def test_timers_survive_sigkill_and_run_once_after_resume(tmp_path: Path) -> None:
    db = tmp_path / "timers.sqlite"
    first = host(db, "start")
    try:
        assert first.stdout is not None
        line = first.stdout.readline()
        assert line.startswith("timers "), (line, first.stderr.read() if first.poll() is not None else "")
        due = {name: float(at) for name, at in (part.split("=") for part in line.split()[1:])}
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        rest = first.stdout.read()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        first.stdout.close()  # type: ignore[union-attr]
        first.stderr.close()  # type: ignore[union-attr]
    assert "fired" not in rest, "killed before any timer was due"
    assert due["later"] - due["soon"] == pytest.approx((LATER - SOON) / 1000, abs=0.01)
    assert stored_timers(db) == due, "the timers are in the committed snapshot"

    # resume only once :soon is late (its time passed while no process ran) and :later is not yet due
    time.sleep(max(due["soon"] + 0.3 - time.time(), 0))
    assert time.time() < due["later"] - 1.0
    second = host(db, "resume")
    out, err = second.communicate(timeout=30)
    assert second.returncode == 0, err
    lines = out.splitlines()
    resumed = float(lines[0].split()[1])
    fired = [line.split() for line in lines[1:]]
    assert [f[1] for f in fired] == ["soon", "later"], out
    (_, _, soon_time, soon_at), (_, _, later_time, later_at) = fired
    # each chunk carries the time it was due for; the late one ran at once, the other not before its time
    assert int(soon_time) == round(due["soon"] * 1000) and int(later_time) == round(due["later"] * 1000)
    assert float(soon_at) - resumed < 0.5
    assert float(later_at) >= due["later"] - 0.005
    assert stored_timers(db) == {}, "run once: nothing left to run again"
