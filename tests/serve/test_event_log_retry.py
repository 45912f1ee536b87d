"""A durable event log whose database refuses: writes are tried again after growing waits (not every 20 ms) until
they go through, each event written once; a failed prune (retention) does not write its batch a second time.

The database refuses for real: a trigger on ``streamrt_events`` (SQLite and PostgreSQL) aborts inserts or deletes
until it is dropped. The waits themselves are :class:`BatchWriter`'s own logic, checked with a fake write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from streamrt.errors import StoreOperationError
from streamrt.serve import SqlEventLog
from streamrt.serve.batching import BatchWriter
from streamrt.serve.sqllog import log_url
from streamrt.sources.retry import RetryPolicy

FAST = RetryPolicy(initial=0.005, maximum=0.02)

_SQLITE_REFUSE = (
    "CREATE TRIGGER refuse BEFORE {op} ON streamrt_events BEGIN SELECT RAISE(ABORT, 'refused'); END"
)
_PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ "
    "LANGUAGE plpgsql"
)
_PG_REFUSE = "CREATE TRIGGER refuse BEFORE {op} ON streamrt_events FOR EACH ROW EXECUTE FUNCTION refuse()"


async def _sql(url: str, *statements: str) -> list[int]:
    """Run ``statements`` on the log's database; the ids of stream ``s``'s events afterwards."""
    engine = create_async_engine(log_url(url))
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(text(statement))
            rows = await conn.execute(
                text("SELECT id FROM streamrt_events WHERE stream_id = 's' ORDER BY id")
            )
            return [int(r[0]) for r in rows]
    finally:
        await engine.dispose()


def _refuse(url: str, op: str) -> list[str]:
    if url.startswith("postgresql"):
        return [_PG_FUNCTION, _PG_REFUSE.format(op=op)]
    return [_SQLITE_REFUSE.format(op=op)]


def _allow(url: str) -> str:
    return "DROP TRIGGER refuse ON streamrt_events" if url.startswith("postgresql") else "DROP TRIGGER refuse"


async def _flush_until_written(log: SqlEventLog) -> None:
    """Flush, again if a write that failed before the database came back is reported (at most 50 tries)."""
    for _ in range(50):
        try:
            await asyncio.wait_for(log.flush(), 10)
            return
        except StoreOperationError:
            continue
    raise AssertionError("the log never wrote its events")


async def test_a_log_whose_writes_are_refused_writes_each_event_once_when_they_are_accepted(
    durable_store: str,
) -> None:
    log = SqlEventLog(durable_store, retry=FAST)
    await log.open()
    try:
        await _sql(durable_store, *_refuse(durable_store, "INSERT"))
        log.append("s", "output", '{"seq":1}', seq=1)
        with pytest.raises(StoreOperationError, match="refused"):
            await asyncio.wait_for(log.flush(), 10)
        await _sql(durable_store, _allow(durable_store))
        log.append("s", "output", '{"seq":2}', seq=2)
        await _flush_until_written(log)
        assert await _sql(durable_store) == [1, 2]
    finally:
        await log.close()


async def test_a_failed_prune_does_not_write_its_batch_again(
    durable_store: str, caplog: pytest.LogCaptureFixture
) -> None:
    log = SqlEventLog(durable_store, keep_events=2, retry=FAST)
    await log.open()
    try:
        await _sql(durable_store, *_refuse(durable_store, "DELETE"))
        for seq in range(1, 5):
            log.append("s", "output", f'{{"seq":{seq}}}', seq=seq)
        with caplog.at_level(logging.WARNING, logger="streamrt.serve"):
            await asyncio.wait_for(log.flush(), 10)  # written; only the retention failed
        assert "refused" in caplog.text
        assert await _sql(durable_store, _allow(durable_store)) == [1, 2, 3, 4]  # nothing written since
        log.append("s", "output", '{"seq":5}', seq=5)
        await asyncio.wait_for(log.flush(), 10)  # was: the first batch again, refused as duplicates for ever
        assert await _sql(durable_store) == [4, 5]
    finally:
        await log.close()


async def test_the_waits_between_failed_writes_grow_to_the_cap() -> None:
    waits: list[float] = []
    down = [True]
    queued = [True]

    async def write() -> None:
        if down[0]:
            raise OSError("down")
        queued[0] = False

    async def sleep(delay: float) -> None:
        waits.append(delay)
        await asyncio.sleep(0)

    writer = BatchWriter(
        write, lambda: queued[0], interval=0, retry=RetryPolicy(initial=0.1, maximum=0.4), sleep=sleep
    )
    writer.start("test-writer")
    try:
        writer.kick()
        with pytest.raises(OSError, match="down"):  # a flush hears of the failure
            await asyncio.wait_for(writer.flush(), 10)
        while len(waits) < 8:
            await asyncio.sleep(0)
        down[0] = False
        for _ in range(20):
            with contextlib.suppress(OSError):  # a flush that came during a failed attempt raises it
                await asyncio.wait_for(writer.flush(), 10)
                break
        assert not queued[0] and writer.failure is None
        # full jitter: each wait is random below its bound, 0.1 doubling to the cap 0.4
        bounds = [0.1, 0.2] + [0.4] * (len(waits) - 2)
        assert all(0 <= wait <= bound for wait, bound in zip(waits, bounds, strict=True)), waits
    finally:
        await writer.stop()


async def test_a_flush_returns_under_a_steady_stream_of_appends() -> None:
    """A flush waits for what was queued when it was called, not for a queue that never empties."""
    queue: list[int] = []
    written: list[int] = []
    appended = [0]

    async def write() -> None:
        batch = queue[:]
        del queue[:]
        await asyncio.sleep(0.005)
        written.extend(batch)

    writer = BatchWriter(write, lambda: bool(queue), interval=0.001)
    writer.start("test-writer")

    async def produce() -> None:
        n = 0
        while True:
            n += 1
            queue.append(n)
            appended[0] = n
            writer.kick()
            await asyncio.sleep(0.0005)

    producer = asyncio.create_task(produce())
    try:
        for _ in range(5):
            await asyncio.sleep(0.02)
            before = appended[0]
            await asyncio.wait_for(writer.flush(), 5)
            assert set(range(1, before + 1)) <= set(
                written
            )  # everything appended before the flush is written
    finally:
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await producer
        await writer.stop()
