"""A host program for the push crash test: feeds chunks with ``push`` and prints each acknowledged one.

``python push_host.py DB N WIDTH``: resumes stream ``pushed`` from the store if it is there (feeding on from its
stored ``seq``), or starts it; then pushes 1..N, printing ``ack K`` once chunk K is durable; ends the input and exits.
Each acknowledgement is padded to WIDTH bytes, so the host cannot run far ahead of the test reading them
(tests/persist/pacing.py).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from streamrt.errors import SnapshotNotFoundError
from streamrt.runtime.persist import Persister, restore
from streamrt.runtime.provider import Provider
from streamrt.store import open_store
from streamrt.values import Keyword

STATE = Keyword("state")
SUM, N, LAST = Keyword("sum"), Keyword("n"), Keyword("last")


def add(state: Any, chunk: int) -> dict[Keyword, Any]:
    return {STATE: {SUM: state[SUM] + chunk, N: state[N] + 1, LAST: chunk}}


async def main(db: str, total: int, width: int) -> None:
    async with open_store(db) as store, Provider() as p:
        persister = Persister(store)
        persister.attach(p)
        sid = p.start(add, stream_id="pushed", initial_state={SUM: 0, N: 0, LAST: None}, processor_name="add")
        record = p.record(sid)
        try:
            snap = await store.get(sid)
        except SnapshotNotFoundError:
            await persister.claim(sid)
        else:
            await persister.claim(sid, snap.version)
            restore(record, snap)
            if record.queue:
                p._schedule(p._get(sid))
        persister.track(record)
        for value in range(record.seq + 1, total + 1):
            await p.push(sid, value)
            durable = persister.durable(sid)
            if durable is not None:
                await durable
            sys.stdout.write(f"ack {value} ".ljust(width, ".") + "\n")
            sys.stdout.flush()
        p.end_input(sid)
        await p.wait(sid)
        await persister.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
