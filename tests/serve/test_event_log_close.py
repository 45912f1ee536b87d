"""Closing a durable event log commits every event appended before the close, including a batch the writer has
already taken and is committing (a close that cancelled that transaction lost the last outputs of a server, which
the next server on the same store then missed)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from streamrt.serve import SqlEventLog
from streamrt.serve.logged import LoggedEvent
from streamrt.serve.sqllog import SqlTables


async def test_a_close_waits_for_the_batch_being_written(
    durable_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken, release = asyncio.Event(), asyncio.Event()
    real_write = SqlTables.write

    async def held_write(self: SqlTables, batch: Sequence[LoggedEvent]) -> None:
        taken.set()  # the writer holds the batch: nothing is pending any more
        await release.wait()
        await real_write(self, batch)

    log = SqlEventLog(durable_store)
    await log.open()
    monkeypatch.setattr(SqlTables, "write", held_write)
    log.append("s", "output", '{"seq":1,"value":1}', seq=1)
    log.append("s", "output", '{"seq":2,"value":2}', seq=2)
    await asyncio.wait_for(taken.wait(), 10)
    closing = asyncio.create_task(log.close())
    await asyncio.sleep(0.1)
    assert not closing.done()  # it waits for the commit instead of cancelling it
    release.set()
    await asyncio.wait_for(closing, 10)
    monkeypatch.undo()

    reopened = SqlEventLog(durable_store)
    await reopened.open()
    try:
        assert reopened.last_id("s") == 2
        assert [e.data for e in await reopened.read("s", 0)] == ['{"seq":1,"value":1}', '{"seq":2,"value":2}']
    finally:
        await reopened.close()
