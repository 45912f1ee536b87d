"""A host program for the timer crash test: a stream whose timers must outlive its process.

``python timer_host.py DB start``: starts stream ``timed`` with a SQLite store snapshotting every chunk, pushes one
chunk that sets two timers (``:soon`` in SOON ms, ``:later`` in LATER ms), prints ``timers NAME=DUE ...`` once the
chunk is durable, then waits to be killed. ``python timer_host.py DB resume``: restores the stream from the store
and prints ``fired NAME TIME_MS AT`` for each timer run (AT: the wall clock when it ran), until both have run.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from streamrt.meta import KIND, TIMER
from streamrt.runtime.contract import result
from streamrt.runtime.persist import Persister
from streamrt.runtime.provider import Provider
from streamrt.runtime.timers import TIME
from streamrt.store import open_store
from streamrt.values import Keyword

SOON, LATER = 1500, 4000
FIRED = Keyword("fired")


def track(state: Any, chunk: Any, meta: Any) -> Any:
    if meta.get(KIND) == "timer":
        name = chunk[TIMER].name
        print(f"fired {name} {chunk[TIME]} {time.time():.3f}", flush=True)
        return result({FIRED: (*state[FIRED], name)})
    return result(state, timers={Keyword("soon"): SOON, Keyword("later"): LATER})


async def main(db: str, mode: str) -> None:
    async with open_store(db) as store:
        persister = Persister(store)
        async with Provider(persistence=persister) as p:
            if mode == "start":
                await persister.claim("timed")
                sid = p.start(track, stream_id="timed", initial_state={FIRED: ()}, processor_name="track")
                await p.push(sid, {Keyword("v"): 1})  # returns once the chunk is in a committed snapshot
                timers = " ".join(f"{n.name}={due!r}" for n, due in sorted(p.record(sid).timers.items()))
                print(f"timers {timers}", flush=True)
                await asyncio.sleep(3600)
                return
            snap = await store.get("timed")
            await persister.claim("timed", snap.version)
            sid = p.restore(snap, track)
            print(f"resumed {time.time():.3f}", flush=True)
            while len(p.record(sid).state[FIRED]) < 2:
                await asyncio.sleep(0.02)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
