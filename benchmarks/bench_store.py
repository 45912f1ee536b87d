"""Snapshot persistence speed, against the disk's ceiling.

Run from the repository root::

    .venv/bin/python benchmarks/bench_store.py [--chunks 20000] [--streams 10000] [--repeats 3] [--pairs 8]
                                               [--store-url postgresql://...]

(a) raw ``sqlite3``, WAL mode, ``synchronous=NORMAL``: one small row updated and committed per chunk, the ceiling
    for anything that commits once per chunk on this disk;
(b) a stream through the provider under the per-chunk policy on SQLite (a count-and-sum processor), fed with one
    ``push_many``, as a ratio of (a) (target >= 0.7x). Group commit: the stream's snapshots are committed back to
    back, each with its latest state, so the number of transactions is printed too;
(b2) the strict path: one ``await push`` per chunk, each waiting until the chunk is committed
     (``Persister.durable``), i.e. one transaction per chunk for a lone producer; and 100 such producers at once,
     whose waits share transactions;
(c) a stream of 50 x ``--chunks`` chunks (1,000,000 by default: a run of about half a second, long enough for
    the ratio to settle) with a snapshot every 1,000 chunks on SQLite, as a ratio of the same run on the in-memory
    store (target >= 0.8x). The runs go in ``--pairs`` interleaved pairs, SQLite first in odd pairs and memory first in
    even ones, and the figure is the median of the per-pair ratios (with their range): on a shared machine the
    same code measured twice in a row can differ by 15-40%, far more than the difference being measured, and
    only runs taken side by side are comparable. The best rate of each side is printed too;
(c2) the same SQLite run against ``push_many`` on a provider with no store at all, in ``--pairs`` interleaved pairs
     likewise: what a store with snapshots every 1,000 chunks costs a bulk producer;
(d) resuming 10,000 snapshotted streams from SQLite into one provider with ``resume_streams`` (one read, one
    lease claim per 1,000 streams), leases included (target < 1 s).

Every other figure is the best of ``--repeats`` runs, each in a fresh database in a temporary folder. ``--store-url`` runs
(b), (b2), (c) and (d) against that store instead of a SQLite file (each run uses fresh stream ids).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from streamrt.lang.script import load_script
from streamrt.runtime.persist import Persister, SnapshotPolicy
from streamrt.runtime.provider import Provider
from streamrt.runtime.resume import resume_streams
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
INITIAL = {COUNT: 0, SUM: 0}


def count_and_sum(state: dict[Keyword, Any], chunk: dict[Keyword, Any]) -> dict[Keyword, Any]:
    return {STATE: {COUNT: state[COUNT] + 1, SUM: state[SUM] + chunk[VALUE]}}


def raw_sqlite(path: Path, chunks: int) -> float:
    """Chunks per second: one small row updated and committed per chunk."""
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


class Rate(float):
    """Chunks per second, with the transactions the run took."""

    transactions: int = 0


def _rate(chunks: int, elapsed: float, persister: Persister) -> Rate:
    rate = Rate(chunks / elapsed)
    rate.transactions = persister.transactions
    return rate


async def without_store(chunks: int) -> Rate:
    """Chunks per second for :func:`through_provider`'s run on a provider with no store (nothing persisted)."""
    data = [{VALUE: i} for i in range(chunks)]
    async with Provider() as p:
        sid = p.start(count_and_sum, stream_id=f"bench-{uuid.uuid4().hex[:8]}", initial_state=INITIAL)
        start = time.perf_counter()
        await p.push_many(sid, data)
        p.end_input(sid)
        await p.wait(sid)
        elapsed = time.perf_counter() - start
        assert p.record(sid).state[COUNT] == chunks
    return Rate(chunks / elapsed)


async def through_provider(store: SnapshotStore, chunks: int, policy: SnapshotPolicy) -> Rate:
    """Chunks per second for one stream fed ``chunks`` chunks with one push_many, snapshotted under ``policy``."""
    data = [{VALUE: i} for i in range(chunks)]
    async with store, Provider() as p:
        persister = Persister(store, policy)
        p.attach_persistence(persister)
        sid = p.start(count_and_sum, stream_id=f"bench-{uuid.uuid4().hex[:8]}", initial_state=INITIAL)
        persister.track(p.record(sid))
        start = time.perf_counter()
        await p.push_many(sid, data)
        p.end_input(sid)
        await p.wait(sid)
        await persister.close()
        elapsed = time.perf_counter() - start
        snap = await store.get(sid)
        assert snap.state[COUNT] == chunks and snap.status == "completed"
    return _rate(chunks, elapsed, persister)


async def durable_pushes(store: SnapshotStore, chunks: int, producers: int) -> Rate:
    """Chunks per second when each of ``producers`` streams gets ``await push`` + ``await durable`` per chunk."""
    async with store, Provider() as p:
        persister = Persister(store)
        p.attach_persistence(persister)
        run = uuid.uuid4().hex[:8]
        ids = [
            p.start(count_and_sum, stream_id=f"push-{run}-{i}", initial_state=INITIAL)
            for i in range(producers)
        ]
        for sid in ids:
            persister.track(p.record(sid))
        per = chunks // producers

        async def produce(sid: str) -> None:
            for i in range(per):
                await p.push(sid, {VALUE: i})
                durable = persister.durable(sid)
                if durable is not None:
                    await durable

        start = time.perf_counter()
        await asyncio.gather(*(produce(sid) for sid in ids))
        elapsed = time.perf_counter() - start
        await p.settle()
        await persister.close()
        for sid in ids[:3]:
            assert (await store.get(sid)).state[COUNT] == per
    return _rate(per * producers, elapsed, persister)


async def resume_many(url: str, folder: Path, streams: int) -> tuple[float, float]:
    """Seconds to write ``streams`` snapshots, then to resume them all (leases claimed) with resume_streams."""
    script_path = folder / "bench.rtfs"
    script_path.write_text(SCRIPT)
    script = load_script(path=script_path)
    run = uuid.uuid4().hex[:8]
    ids = [f"r-{run}-{i:05d}" for i in range(streams)]
    async with open_store(url) as store:
        snaps = [
            Snapshot(
                stream_id=sid,
                processor="count-and-sum",
                processor_hash=script.source_hash,
                state={COUNT: i, SUM: i * 2},
                initial_state=INITIAL,
                status="paused",
                queue=[({VALUE: 1}, {})],
                seq=i + 1,
                queue_capacity=32,
            )
            for i, sid in enumerate(ids)
        ]
        start = time.perf_counter()
        await store.put_many([(s, None) for s in snaps])
        written = time.perf_counter() - start

    async with open_store(url) as store, Provider() as p:
        persister = Persister(store)
        p.attach_persistence(persister)
        start = time.perf_counter()
        await resume_streams(p, persister, ids, script)
        elapsed = time.perf_counter() - start
        assert len(p.stream_ids()) == streams
        assert p.record(ids[7]).state == {COUNT: 7, SUM: 14}
        lease = await store.lease(ids[-1])
        assert lease is not None and lease.owner == persister.owner
        await persister.close(final=False)
    return written, elapsed


def best(repeats: int, run: Callable[[Path], Coroutine[Any, Any, Rate]]) -> Rate:
    results: list[Rate] = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(asyncio.run(run(Path(tmp))))
    return max(results)


def paired(
    pairs: int,
    first: Callable[[Path], Coroutine[Any, Any, Rate]],
    second: Callable[[Path], Coroutine[Any, Any, Rate]],
) -> tuple[list[Rate], list[Rate]]:
    """``pairs`` runs of each, side by side, alternating which goes first; each run in a fresh folder."""
    a: list[Rate] = []
    b: list[Rate] = []
    for i in range(pairs):
        order = ((first, a), (second, b)) if i % 2 == 0 else ((second, b), (first, a))
        for run, results in order:
            with tempfile.TemporaryDirectory() as tmp:
                results.append(asyncio.run(run(Path(tmp))))
    return a, b


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=8, help="interleaved (SQLite, memory) pairs for (c)")
    parser.add_argument("--store-url", help="run (b)-(d) against this store instead of a fresh SQLite file")
    args = parser.parse_args(argv)
    n = args.chunks

    def url(folder: Path, name: str) -> str:
        return args.store_url or str(folder / name)

    async def raw(folder: Path) -> Rate:
        return Rate(raw_sqlite(folder / "raw.db", n))

    a = best(args.repeats, raw)
    b = best(args.repeats, lambda f: through_provider(open_store(url(f, "b.db")), n, SnapshotPolicy()))
    b2 = best(args.repeats, lambda f: durable_pushes(open_store(url(f, "b2.db")), n // 4, 1))
    b3 = best(args.repeats, lambda f: durable_pushes(open_store(url(f, "b3.db")), n, 100))
    every = SnapshotPolicy(chunks=1000)
    c_sqls, c_mems = paired(
        args.pairs,
        lambda f: through_provider(open_store(url(f, "c.db")), n * 50, every),
        lambda f: through_provider(open_store("memory:"), n * 50, every),
    )
    ratios = sorted(x / y for x, y in zip(c_sqls, c_mems, strict=True))
    c_sql, c_mem = max(c_sqls), max(c_mems)
    c2_sqls, c2_nones = paired(
        args.pairs,
        lambda f: through_provider(open_store(url(f, "c2.db")), n * 50, every),
        lambda f: without_store(n * 50),
    )
    ratios2 = sorted(x / y for x, y in zip(c2_sqls, c2_nones, strict=True))
    resumes = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            resumes.append(asyncio.run(resume_many(url(folder, "many.db"), folder, args.streams)))
    written, resumed = min(resumes, key=lambda r: r[1])

    where = args.store_url or "SQLite"
    print(f"bench_store: {n} chunks, best of {args.repeats}, store: {where}")
    print(f"(a) raw sqlite3, WAL, one row committed per chunk: {a:12,.0f} chunks/s")
    print(
        f"(b) provider, per-chunk policy, push_many:         {b:12,.0f} chunks/s  = {b / a:.2f}x (a)  "
        f"[target >= 0.7x]  ({b.transactions} transactions)"
    )
    print(
        f"(b2) await push + durable, 1 producer:             {b2:12,.0f} chunks/s  = {b2 / a:.2f}x (a)  "
        f"({b2.transactions} transactions, {n // 4} chunks)"
    )
    print(
        f"     the same, 100 producers at once:              {b3:12,.0f} chunks/s  = {b3 / a:.2f}x (a)  "
        f"({b3.transactions} transactions)"
    )
    print(
        f"(c) provider, snapshot every 1,000 chunks:         {c_sql:12,.0f} chunks/s  (best of {args.pairs}, "
        f"{n * 50} chunks, {c_sql.transactions} transactions)"
    )
    print(
        f"    the same on the in-memory store:               {c_mem:12,.0f} chunks/s  (best of {args.pairs})"
    )
    print(
        f"    SQLite / memory, median of {args.pairs} interleaved pairs: {statistics.median(ratios):.2f}x "
        f"(range {ratios[0]:.2f}-{ratios[-1]:.2f})  [target >= 0.8x]"
    )
    print(
        f"(c2) the same without a store (nothing persisted):  {max(c2_nones):12,.0f} chunks/s  (best of {args.pairs})"
    )
    print(
        f"    SQLite / no store, median of {args.pairs} interleaved pairs: {statistics.median(ratios2):.2f}x "
        f"(range {ratios2[0]:.2f}-{ratios2[-1]:.2f})"
    )
    print(f"(d) {args.streams} snapshots written in one put_many: {written:.3f} s")
    print(f"    resumed with resume_streams, leases claimed:  {resumed:.3f} s  [target < 1 s]")


if __name__ == "__main__":
    main()
