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
from streamrt.runtime.persist import Persister
from streamrt.runtime.provider import Provider
from streamrt.store import SnapshotStore, open_store
from streamrt.values import Keyword

STATE = Keyword("state")
SUM, N, LAST = Keyword("sum"), Keyword("n"), Keyword("last")


def add(state: Any, chunk: int) -> dict[Keyword, Any]:
    return {STATE: {SUM: state[SUM] + chunk, N: state[N] + 1, LAST: chunk}}


async def main(db: str, total: int, width: int) -> None:
    async with open_store(db) as store:
        persister = Persister(store)
        async with Provider(persistence=persister) as p:
            await feed(p, persister, store, total, width)


async def feed(p: Provider, persister: Persister, store: SnapshotStore, total: int, width: int) -> None:
    """Resume or start the stream, then push on from its stored ``seq``, acknowledging each durable chunk."""
    initial = {SUM: 0, N: 0, LAST: None}
    try:
        snap = await store.get("pushed")
    except SnapshotNotFoundError:
        await persister.claim("pushed")
        sid = p.start(add, stream_id="pushed", initial_state=initial, processor_name="add")
    else:
        await persister.claim("pushed", snap.version)
        sid = p.restore(snap, add)
    for value in range(p.record(sid).seq + 1, total + 1):
        await p.push(sid, value)  # returns once the chunk is in a committed snapshot
        sys.stdout.write(f"ack {value} ".ljust(width, ".") + "\n")
        sys.stdout.flush()
    p.end_input(sid)
    await p.wait(sid)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
