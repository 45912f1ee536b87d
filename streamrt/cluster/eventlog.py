"""The server's event log in Redis streams, so that a subscriber on any node reads every stream's events.

Theory of operation
-------------------
Each stream's events are one Redis stream, ``{prefix}events:{id}``, whose entry ids are ``N-0`` for event id ``N``:
the ids the server hands out (1, 2, 3, ...) are Redis's own, so ``XRANGE`` after ``Last-Event-ID`` is a range read
and an entry can never be added twice or out of order (Redis refuses an id at or below the last one). Beside it,
``{prefix}evmeta:{id}`` holds the last id, the last output's ``seq`` and the stream's last status.

Only the node that owns a stream appends to its log. :meth:`RedisEventLog.append` is synchronous, as the provider's
observers are: it numbers the event from the stream's head (read from Redis when the node took the stream over,
:meth:`RedisEventLog.adopt`) and queues it. A writer task sends everything queued in one Lua call per batch, which
checks each stream's fencing token against ``{prefix}fence:{id}`` first: a node that lost its lease has its appends
refused, as its snapshot writes are. An output whose ``seq`` the log already holds (a new owner resumed from a
snapshot taken before that output) is dropped, so the outputs a resume produces again are not delivered twice.

The snapshot store writes through :meth:`RedisEventLog.flush` first (see :class:`~streamrt.cluster.fencing.FencedStore`),
so an event is in Redis before any snapshot that has gone past it: a new owner never resumes past an event the log
lost. Subscribers on any node read with ``XRANGE`` and wait with one ``XREAD BLOCK`` per node over every stream
somebody waits on, so an idle subscriber costs no round trips of its own.

Retention: ``MAXLEN ~ keep_events`` per stream, and every key expires ``keep_seconds`` after the stream's last event
(the cleanup of finished and abandoned streams).

Who started each stream, and what a listing shows of streams other nodes run, is the directory's
(:mod:`streamrt.cluster.directory`), on the same connection: each owner publishes its streams' figures into
``evmeta`` as field ``view`` when they change, once per rebalance.

Pushes by idempotency key are fields of ``{prefix}idem:{id}`` (``base:total:at``), written before the push is
applied, so the stream's next owner finds them; the hash expires ``keep_seconds`` after its last push, and fields
older than that are dropped as it grows (every 64 fields), so a long-lived stream's keys stay bounded too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

import msgspec

from streamrt.aio import stop_task
from streamrt.cluster.directory import StreamDirectory
from streamrt.serve.batching import BatchWriter
from streamrt.serve.eventlog import EventLog, LoggedEvent, StreamOwner
from streamrt.serve.logged import StreamHead
from streamrt.store.redis import display_url, redis_client, redis_errors

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from streamrt.sources.retry import RetryPolicy

__all__ = ["RedisEventLog"]

log = logging.getLogger("streamrt.cluster")

_READ_LIMIT: Final = 500
_BLOCK_MS: Final = 100
"""How long the node's one ``XREAD`` waits before it looks again at which streams are waited on."""
_TERMINAL: Final = frozenset({"completed", "stopped", "cancelled", "error"})

# KEYS: per stream its events, evmeta and fence keys. ARGV: maxlen, ttl ms, then per stream: token, count, status
# ('' if none), then per event id, kind, data, seq ('' if none), at. Returns the 1-based positions of the streams
# whose token is older than their fence (nothing of theirs was written).
_APPEND: Final = """
local maxlen, ttl = ARGV[1], ARGV[2]
local pos = 3
local fenced = {}
for s = 1, #KEYS / 3 do
  local events, meta, fence = KEYS[3 * s - 2], KEYS[3 * s - 1], KEYS[3 * s]
  local token, count, status = tonumber(ARGV[pos]), tonumber(ARGV[pos + 1]), ARGV[pos + 2]
  pos = pos + 3
  if tonumber(redis.call('GET', fence) or '0') > token then
    fenced[#fenced + 1] = s
    pos = pos + 5 * count
  else
    local last, oseq = nil, nil
    for e = 1, count do
      local id, kind, data, seq, at = ARGV[pos], ARGV[pos + 1], ARGV[pos + 2], ARGV[pos + 3], ARGV[pos + 4]
      pos = pos + 5
      local added = redis.pcall('XADD', events, 'MAXLEN', '~', maxlen, id .. '-0', 'k', kind, 'd', data, 's', seq, 't', at)
      if type(added) ~= 'table' or added.err == nil then
        last = id
        if seq ~= '' then oseq = seq end
      end
    end
    if last then redis.call('HSET', meta, 'last_id', last) end
    if oseq then redis.call('HSET', meta, 'output_seq', oseq) end
    if status ~= '' then redis.call('HSET', meta, 'status', status) end
    redis.call('PEXPIRE', events, ttl)
    redis.call('PEXPIRE', meta, ttl)
  end
end
return fenced
"""

# KEYS: the stream's idem hash. ARGV: key, "base:total:at", ttl ms, oldest at kept. Every 64 fields, drops the old.
_REMEMBER: Final = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if redis.call('HLEN', KEYS[1]) % 64 == 0 then
  local all = redis.call('HGETALL', KEYS[1])
  local oldest = tonumber(ARGV[4])
  for i = 1, #all, 2 do
    local at = tonumber(string.match(all[i + 1], '^[^:]*:[^:]*:(.*)$') or '0') or 0
    if at < oldest then redis.call('HDEL', KEYS[1], all[i]) end
  end
end
return 0
"""


class _Head(StreamHead):
    """Where a stream this node writes is: its last id and output seq, and its last status."""

    status: str = ""


class _Pending(msgspec.Struct):
    stream_id: str
    token: int
    events: list[LoggedEvent] = msgspec.field(default_factory=list)
    status: str = ""


class RedisEventLog(EventLog):
    """The event log of every node of a cluster, in the Redis at ``url``; ``token(stream_id)`` is this node's fencing
    token for a stream it owns (None: it does not own it, and appends nothing for it). ``retry``: the waits between
    failed writes (:class:`~streamrt.serve.batching.BatchWriter`'s default, 0.05 s doubling up to 2 s)."""

    durable = True

    def __init__(
        self,
        url: str,
        *,
        token: Callable[[str], int | None],
        keep_events: int = 10_000,
        keep_seconds: float = 24 * 3600.0,
        flush_interval: float = 0.002,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(keep_events=keep_events, keep_seconds=keep_seconds)
        self.url = display_url(url)
        self._raw_url = url
        self._token = token
        self._client: Redis | None = None
        self._reader: Redis | None = None
        self._prefix = ""
        self._heads: dict[str, _Head] = {}
        self._pending: dict[str, _Pending] = {}
        self._writer = BatchWriter(
            self._write_pending, lambda: bool(self._pending), interval=flush_interval, retry=retry
        )
        self._poller: asyncio.Task[None] | None = None
        self._waiters: dict[str, tuple[int, asyncio.Event]] = {}
        self.directory = StreamDirectory(self.url)
        """Who started which stream, and what listings show of them: the same Redis, read by every node."""
        self.round_trips = 0
        """Calls sent to Redis by the writer (one per batch of events, whatever the number of streams)."""
        self.fenced_out = 0
        """Events refused because their node had lost the stream's lease."""

    def _key(self, kind: str, stream_id: str) -> str:
        return f"{self._prefix}{kind}:{stream_id}"

    def _db(self) -> Redis:
        assert self._client is not None, "the event log is not open"
        return self._client

    # --- opening and closing -----------------------------------------------------------------------------------

    async def open(self) -> None:
        client, self._prefix = redis_client(self._raw_url)
        with redis_errors(self.url, "connecting"):
            await client.ping()
        self._client = client
        self.directory.attach(client, self._prefix)
        # XREAD BLOCK holds its connection: it gets one of its own, with no socket timeout shorter than the block
        self._reader, _ = redis_client(self._raw_url, socket_timeout=None)
        self._append = client.register_script(_APPEND)
        self._remember = client.register_script(_REMEMBER)
        self._writer.start("streamrt-redis-log-writer")
        self._poller = asyncio.create_task(self._poll_loop(), name="streamrt-redis-log-poller")

    async def close(self) -> None:
        try:
            with contextlib.suppress(Exception):
                await self.flush()
        finally:
            self.wake_all()
            await self._writer.stop()
            if self._poller is not None:
                await stop_task(self._poller)
            self._poller = None
            for client in (self._client, self._reader):
                if client is not None:
                    await client.aclose()
            self._client = self._reader = None
            self.directory.attach(None, self._prefix)

    # --- owners (who started a stream): in the directory every node reads ------------------------------------

    def owners(self) -> dict[str, StreamOwner]:
        """The owners this node knows of (its own streams, and those it looked up)."""
        return self.directory.owners()

    def owner(self, stream_id: str) -> StreamOwner | None:
        return self.directory.owner(stream_id)

    async def add_owner(self, owner: StreamOwner) -> None:
        await self.directory.register(owner)
        self._heads.setdefault(owner.stream_id, _Head())

    async def forget(self, stream_id: str) -> None:
        await self.flush()
        directory = self.directory
        owner = await directory.find(stream_id)
        keys = [self._key(k, stream_id) for k in ("events", "evmeta", "idem")]
        with redis_errors(self.url, f"forgetting stream {stream_id!r}"):
            async with self._db().pipeline(transaction=True) as pipe:
                pipe.delete(*keys)
                directory.unregister(pipe, stream_id, owner)
                await pipe.execute()
        directory.forgotten(stream_id)
        self._heads.pop(stream_id, None)
        self._wake(stream_id)

    # --- pushes by idempotency key: shared by every node ---------------------------------------------------------

    async def push_record(self, stream_id: str, key: str) -> tuple[int, int] | None:
        with redis_errors(self.url, f"reading push {key!r}"):
            raw: Any = await self._db().hget(self._key("idem", stream_id), key)
        if raw is None:
            return None
        base, total = raw.decode().split(":")[:2]
        return int(base), int(total)

    async def record_push(self, stream_id: str, key: str, base: int, total: int) -> None:
        now = time.time()
        args: list[str | int | float] = [
            key,
            f"{base}:{total}:{now!r}",
            max(1, round(self.keep_seconds * 1000)),
            now - self.keep_seconds,
        ]
        with redis_errors(self.url, f"recording push {key!r}"):
            await self._remember(keys=[self._key("idem", stream_id)], args=args, client=self._db())

    # --- taking streams over -------------------------------------------------------------------------------------

    async def adopt(self, stream_ids: Iterable[str]) -> None:
        """This node now writes these streams' logs: read where each one is (one call) and their owners."""
        ids = list(dict.fromkeys(stream_ids))
        if not ids:
            return
        pipe = self._db().pipeline(transaction=False)
        for sid in ids:
            pipe.hmget(self._key("evmeta", sid), ["last_id", "output_seq", "status"])
        with redis_errors(self.url, f"adopting {len(ids)} streams"):
            rows = await pipe.execute()
        for sid, (last, oseq, status) in zip(ids, rows, strict=True):
            last_id = int(last or 0)
            self._heads[sid] = _Head(last_id, int(oseq or 0), last_id, (status or b"").decode())
        await self.directory.lookup(ids)

    def drop(self, stream_ids: Iterable[str]) -> None:
        """This node no longer writes these streams (handed over or lost); queued events of theirs are dropped."""
        for sid in stream_ids:
            self._heads.pop(sid, None)
            self._pending.pop(sid, None)

    # --- writing -------------------------------------------------------------------------------------------------

    def append(self, stream_id: str, kind: str, data: str, *, seq: int | None = None) -> LoggedEvent | None:
        token = self._token(stream_id)
        if token is None:
            return None  # not this node's stream (any more): its owner logs its events
        head = self._heads.get(stream_id)
        if head is None:
            head = self._heads[stream_id] = _Head()
        event_id = head.next_id(seq)
        if not event_id:
            return None
        event = LoggedEvent(stream_id, event_id, kind, data, time.time(), seq)
        pending = self._pending.get(stream_id)
        if pending is None or pending.token != token:
            pending = self._pending[stream_id] = _Pending(stream_id, token)
        pending.events.append(event)
        if kind == "status":
            head.status = pending.status = json.loads(data).get("to") or ""
        self.appended += 1
        self._writer.kick()
        return event

    async def flush(self) -> None:
        """Until every event appended so far is in Redis (raises the writer's last failure)."""
        await self._writer.flush()

    async def _write_pending(self) -> None:
        batch, self._pending = self._pending, {}
        try:
            if batch:
                await self._write(list(batch.values()))
        except Exception as exc:  # retried: the batch goes back in front of what came since
            for sid, pending in batch.items():
                later = self._pending.get(sid)
                if later is not None and later.token == pending.token:
                    pending.events += later.events
                    pending.status = later.status or pending.status
                self._pending[sid] = pending
            log.warning("event log write failed, retrying: %s", exc)
            raise

    async def _write(self, batch: list[_Pending]) -> None:
        keys: list[str] = []
        args: list[Any] = [self.keep_events, max(1, round(self.keep_seconds * 1000))]
        for pending in batch:
            sid = pending.stream_id
            keys += [self._key("events", sid), self._key("evmeta", sid), self._key("fence", sid)]
            args += [pending.token, len(pending.events), pending.status]
            for e in pending.events:
                args += [e.id, e.kind, e.data, "" if e.seq is None else e.seq, repr(e.at)]
        self.round_trips += 1
        with redis_errors(self.url, f"appending the events of {len(batch)} streams"):
            fenced = await self._append(keys=keys, args=args, client=self._db())
        refused = {batch[int(i) - 1].stream_id for i in fenced}
        for pending in batch:
            if pending.stream_id in refused:
                self.fenced_out += len(pending.events)
                continue
            head = self._heads.get(pending.stream_id)
            if head is not None:
                head.committed = max(head.committed, pending.events[-1].id)
            self._wake(pending.stream_id)

    # --- reading -------------------------------------------------------------------------------------------------

    def last_id(self, stream_id: str) -> int:
        head = self._heads.get(stream_id)
        return head.last_id if head is not None else 0

    def known(self, stream_id: str) -> bool:
        return self.directory.knows(stream_id) or stream_id in self._heads

    def floor(self, stream_id: str) -> int:
        return 0  # XRANGE skips what retention trimmed by itself

    async def read(self, stream_id: str, after: int, limit: int = _READ_LIMIT) -> list[LoggedEvent]:
        with redis_errors(self.url, f"reading the events of {stream_id!r}"):
            entries: Any = await self._db().xrange(
                self._key("events", stream_id), min=f"({after}-0", max="+", count=limit
            )
        return [_event(stream_id, entry_id, fields) for entry_id, fields in entries]

    async def wait(self, stream_id: str, after: int) -> None:
        """Until the stream has an event past ``after`` (or the log closes); one waiter shared per stream."""
        current = self._waiters.get(stream_id)
        if current is None:
            event = asyncio.Event()
            self._waiters[stream_id] = (after, event)
        else:
            event = current[1]
            if after < current[0]:
                self._waiters[stream_id] = (after, event)
        await event.wait()

    def _wake(self, stream_id: str) -> None:
        waiting = self._waiters.pop(stream_id, None)
        if waiting is not None:
            waiting[1].set()

    def wake_all(self) -> None:
        waiting, self._waiters = self._waiters, {}
        for _, event in waiting.values():
            event.set()

    async def _poll_loop(self) -> None:
        """One XREAD for every stream somebody on this node waits on: wakes them when their stream grows."""
        reader = self._reader
        assert reader is not None
        while True:
            watched = {self._key("events", sid): f"{after}-0" for sid, (after, _) in self._waiters.items()}
            if not watched:
                await asyncio.sleep(_BLOCK_MS / 1000)
                continue
            try:
                got: Any = await reader.xread(watched, count=1, block=_BLOCK_MS)  # type: ignore[arg-type]
            except Exception as exc:
                log.warning("event log poll failed, retrying: %s", exc)
                await asyncio.sleep(0.2)
                continue
            prefix = len(self._key("events", ""))
            for key, _entries in got or ():
                self._wake(key.decode()[prefix:])

    def stats(self) -> dict[str, Any]:
        return {
            "streams": len(self._heads),
            "appended": self.appended,
            "held": sum(len(p.events) for p in self._pending.values()),
            "round_trips": self.round_trips,
            "fenced_out": self.fenced_out,
        }


def _event(stream_id: str, entry_id: bytes, fields: dict[bytes, bytes]) -> LoggedEvent:
    seq = fields.get(b"s") or b""
    return LoggedEvent(
        stream_id,
        int(entry_id.split(b"-", 1)[0]),
        fields[b"k"].decode(),
        fields[b"d"].decode(),
        float(fields[b"t"]),
        int(seq) if seq else None,
    )
