"""Snapshot persistence speed, against the disk's ceiling.

Run from the repository root::

    .venv/bin/python benchmarks/bench_store.py [--chunks 20000] [--streams 10000] [--repeats 3]

(a) raw ``sqlite3``, WAL mode, ``synchronous=NORMAL``: one small row inserted and committed per chunk, the ceiling
    for anything that commits once per chunk on this disk;
(b) a stream through the provider with a snapshot after every chunk on SQLite (a count-and-sum processor), as a
    ratio of (a) (target >= 0.7x);
(c) the same stream with a snapshot every 1,000 chunks on SQLite, as a ratio of the same run on the in-memory store
    (target >= 0.8x);
(d) resuming 10,000 snapshotted streams from SQLite into one provider (target < 1 s), with and without claiming
    their leases.

Each figure is the best of ``--repeats`` runs, in a fresh database in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from streamrt.lang.script import load_script
from streamrt.runtime.persist import Persister, SnapshotPolicy
from streamrt.runtime.provider import Provider
from streamrt.runtime.resume import resume_stream
from streamrt.store import Snapshot, SnapshotStore, open_store
from streamrt.values import Keyword

__all__ = ["main"]

COUNT = Keyword("count")
SUM = Keyword("sum")
VALUE = Keyword("value")
STATE = Keyword("state")
SCRIPT = (
    "(defn count-and-sum [state chunk] {:count (inc (:count state)) :sum (+ (:sum state) (:value chunk))})\n"
)


def count_and_sum(state: dict[Keyword, Any], chunk: dict[Keyword, Any]) -> dict[Keyword, Any]:
    return {STATE: {COUNT: state[COUNT] + 1, SUM: state[SUM] + chunk[VALUE]}}


def raw_sqlite(path: Path, chunks: int) -> float:
    """Chunks per second: one small row inserted and committed per chunk."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE t (stream_id TEXT PRIMARY KEY, seq INTEGER, blob BLOB)")
    db.execute("INSERT INTO t VALUES ('s', 0, x'00')")
    blob = bytes(64)
    start = time.perf_counter()
    for i in range(chunks):
        db.execute("BEGIN")
        db.execute("UPDATE t SET seq = ?, blob = ? WHERE stream_id = 's'", (i, blob))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return chunks / elapsed


async def through_provider(store: SnapshotStore, chunks: int, policy: SnapshotPolicy) -> float:
    """Chunks per second for one stream fed ``chunks`` chunks, snapshotted under ``policy``."""
    data = [{VALUE: i} for i in range(chunks)]
    async with store, Provider() as p:
        persister = Persister(store, policy)
        persister.attach(p)
        sid = p.start(count_and_sum, stream_id="bench", initial_state={COUNT: 0, SUM: 0})
        persister.track(p.record(sid))
        start = time.perf_counter()
        await p.push_many(sid, data)
        p.end_input(sid)
        await p.wait(sid)
        await persister.close()
        elapsed = time.perf_counter() - start
        snap = await store.get(sid)
        assert snap.state[COUNT] == chunks and snap.status == "completed"
    return chunks / elapsed


async def resume_many(folder: Path, streams: int) -> tuple[float, float, float]:
    """Seconds to write ``streams`` snapshots, then to resume them all without and with leases."""
    script_path = folder / "bench.rtfs"
    script_path.write_text(SCRIPT)
    script = load_script(str(script_path))
    url = str(folder / "many.db")
    async with open_store(url) as store:
        snaps = [
            Snapshot(
                stream_id=f"s{i:05d}",
                processor="count-and-sum",
                processor_hash=script.source_hash,
                state={COUNT: i, SUM: i * 2},
                initial_state={COUNT: 0, SUM: 0},
                status="paused",
                queue=[({VALUE: 1}, {})],
                seq=i + 1,
                queue_capacity=32,
            )
            for i in range(streams)
        ]
        start = time.perf_counter()
        await store.put_many([(s, None) for s in snaps])
        written = time.perf_counter() - start

    async def resume_all(lease: bool) -> float:
        async with open_store(url) as store, Provider() as p:
            persister = Persister(store)
            persister.attach(p)
            if not lease:
                persister.claim = _no_claim  # type: ignore[method-assign]
            start = time.perf_counter()
            for i in range(streams):
                await resume_stream(p, persister, f"s{i:05d}", script)
            elapsed = time.perf_counter() - start
            assert len(p.stream_ids()) == streams
            assert p.record("s00007").state == {COUNT: 7, SUM: 14}
            await persister.close(final=False)
        return elapsed

    return written, await resume_all(False), await resume_all(True)


async def _no_claim(stream_id: str, version: int | None = None) -> None:
    return None


def best(repeats: int, run: Callable[[Path], Coroutine[Any, Any, float]]) -> float:
    results: list[float] = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(asyncio.run(run(Path(tmp))))
    return max(results)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    n = args.chunks

    async def raw(folder: Path) -> float:
        return raw_sqlite(folder / "raw.db", n)

    a = best(args.repeats, raw)
    b = best(args.repeats, lambda f: through_provider(open_store(str(f / "b.db")), n, SnapshotPolicy()))
    every = SnapshotPolicy(chunks=1000)
    c_sql = best(args.repeats, lambda f: through_provider(open_store(str(f / "c.db")), n * 10, every))
    c_mem = best(args.repeats, lambda f: through_provider(open_store("memory:"), n * 10, every))
    with tempfile.TemporaryDirectory() as tmp:
        written, plain, leased = asyncio.run(resume_many(Path(tmp), args.streams))

    print(f"bench_store: {n} chunks, best of {args.repeats}")
    print(f"(a) raw sqlite3, WAL, one row committed per chunk: {a:12,.0f} chunks/s")
    print(
        f"(b) provider, snapshot every chunk, SQLite:        {b:12,.0f} chunks/s  = {b / a:.2f}x (a)  [target >= 0.7x]"
    )
    print(f"(c) provider, snapshot every 1,000 chunks, SQLite: {c_sql:12,.0f} chunks/s  ({n * 10} chunks)")
    print(
        f"    the same on the in-memory store:               {c_mem:12,.0f} chunks/s  -> {c_sql / c_mem:.2f}x  [target >= 0.8x]"
    )
    print(f"(d) {args.streams} snapshots written in one put_many: {written:.3f} s")
    print(f"    resumed into one provider, without leases:    {plain:.3f} s  [target < 1 s]")
    print(f"    resumed with a lease claimed per stream:      {leased:.3f} s")


if __name__ == "__main__":
    main()
