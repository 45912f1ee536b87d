"""An event-stream subscriber: replay from the log after ``Last-Event-ID``, then follow it live.

A subscriber is a read position in the log, nothing more: it reads a batch after its last id, sends it, and waits
on the stream's tail when it has caught up. That is why a reconnecting client gets every event it missed, once, in
order, and why an idle subscriber costs a suspended generator and no buffer. The first thing sent is a ``retry:``
hint; heartbeats are comments (sse-starlette's ping). The stream ends when the stream has ended and everything is
sent, when the stream is forgotten, when the server closes, or after ``events_per_connection`` events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from streamrt.serve.eventlog import EventLog, LoggedEvent

__all__ = ["batches", "follow", "follow_merged", "parse_last_event_id"]


def parse_last_event_id(value: str | None) -> int:
    """The id a client last saw (0: from the start); anything but a non-negative integer is a bad request."""
    from streamrt.serve.problems import Problem

    if value is None or value == "":
        return 0
    try:
        n = int(value)
    except ValueError:
        n = -1
    if n < 0:
        raise Problem("bad-request", f"Last-Event-ID must be a non-negative integer, got {value[:40]!r}")
    return n


async def batches(
    log: EventLog,
    stream_id: str,
    after: int,
    *,
    finished: Callable[[], bool],
    closing: Callable[[], bool],
) -> AsyncIterator[list[LoggedEvent]]:
    """The stream's events after ``after``, a batch at a time, until it has ended and all were read."""
    while not closing():
        after = max(after, log.floor(stream_id))
        batch = await log.read(stream_id, after)
        if batch:
            yield batch
            after = batch[-1].id
            continue
        if finished() or not log.known(stream_id):
            return
        await log.wait(stream_id, after)


async def follow(
    log: EventLog,
    stream_id: str,
    after: int,
    *,
    finished: Callable[[], bool],
    closing: Callable[[], bool],
    retry_ms: int,
    limit: int | None = None,
) -> AsyncIterator[bytes]:
    """The stream's events after ``after`` as SSE text; ``finished()`` says the stream will log nothing more."""
    yield f"retry: {retry_ms}\r\n\r\n".encode()
    sent = 0
    async for batch in batches(log, stream_id, after, finished=finished, closing=closing):
        if limit is not None:
            batch = batch[: limit - sent]
        # one write per batch: a subscriber that is behind catches up in few large sends
        yield b"".join([event.wire() for event in batch])
        sent += len(batch)
        if limit is not None and sent >= limit:
            return


async def follow_merged(
    log: EventLog,
    stream_ids: Callable[[], list[str]],
    after_gid: int,
    *,
    closing: Callable[[], bool],
    retry_ms: int,
    limit: int | None = None,
) -> AsyncIterator[bytes]:
    """Every event of the streams ``stream_ids()`` names (asked again each round: new streams join) in log order,
    numbered by their place in the whole log, so one ``Last-Event-ID`` resumes them all."""
    yield f"retry: {retry_ms}\r\n\r\n".encode()
    sent = 0
    while not closing():
        mark = log.last_gid  # what is appended from now on wakes the wait below
        batch = await log.read_merged(stream_ids(), after_gid)
        if batch:
            if limit is not None:
                batch = batch[: limit - sent]
            yield b"".join([event.merged_wire() for event in batch])
            after_gid = batch[-1].gid
            sent += len(batch)
            if limit is not None and sent >= limit:
                return
            continue
        await log.wait_any(mark)
