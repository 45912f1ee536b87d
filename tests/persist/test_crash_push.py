"""The per-chunk guarantee for host-pushed chunks: a chunk acknowledged as durable survives SIGKILL.

A host program (``push_host.py``) pushes 1..N and prints ``ack K`` once chunk K is durable. It is killed with
SIGKILL at random points and restarted; each restart feeds on from the stream's stored ``seq``. After every kill
the store must hold every acknowledged chunk, and at the end the state must be that of one uninterrupted run:
every chunk applied exactly once.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from streamrt.store import open_store
from tests.persist.pacing import LEAD, LINE_BYTES, spawn_paced

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

HOST = Path(__file__).with_name("push_host.py")
TOTAL = 600
KILLS = 6
#: the most acknowledgements read before a kill; the host pads each to LINE_BYTES, so it cannot get more than LEAD
#: chunks further than that before the kill lands (tests/persist/pacing.py)
MOST_READ = 80


def host(db: Path) -> subprocess.Popen[str]:
    return spawn_paced([sys.executable, str(HOST), str(db), str(TOTAL), str(LINE_BYTES)])


def stored(db: Path) -> tuple[int, dict[str, int | None]]:
    async def read() -> tuple[int, dict[str, int | None]]:
        async with open_store(str(db)) as store:
            snap = await store.get("pushed")
        return snap.seq, {k.name: v for k, v in snap.state.items()}

    return asyncio.run(read())


def test_acknowledged_pushes_survive_sigkill(tmp_path: Path) -> None:
    assert KILLS * (MOST_READ + LEAD) < TOTAL, "a run could push every chunk before its kill"
    rng = random.Random(7)
    db = tmp_path / "push.db"
    kills = 0
    while True:
        proc = host(db)
        assert proc.stdout is not None and proc.stderr is not None
        acked = 0
        try:
            if kills < KILLS:
                for _ in range(rng.randint(5, MOST_READ)):
                    line = proc.stdout.readline()
                    if not line:
                        break
                    acked = int(line.split()[1])
                proc.send_signal(signal.SIGKILL)
            rest = proc.stdout.read()
            err = proc.stderr.read()
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        acked = max([acked, *(int(line.split()[1]) for line in rest.splitlines() if line)])
        if code == -signal.SIGKILL:
            kills += 1
            seq, _ = stored(db)
            assert seq >= acked, f"chunk {acked} was acknowledged, but the store holds only {seq} chunks"
            continue
        assert code == 0, err
        break
    assert kills == KILLS
    seq, state = stored(db)
    assert seq == TOTAL
    assert state == {"sum": TOTAL * (TOTAL + 1) // 2, "n": TOTAL, "last": TOTAL}
