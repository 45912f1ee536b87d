"""A snapshot store in Redis, for deployments that want one engine for coordination and state (``redis://``).

Theory of operation
-------------------
Each stream is a hash ``{prefix}snap:{id}`` holding the encoded snapshot and the fields ``list`` shows (processor,
status, version, seq, updated_at) and its fence; ``{prefix}streams`` is a sorted set of the ids, all with score 0,
so it lists them in id order. Every operation that reads and then writes is one Lua script, which Redis runs
atomically: ``put_many`` checks every item's expected version and fence first, then writes them all, so a batch is
one round trip and all or nothing, as a SQL transaction is. Leases are hashes ``{prefix}lease:{id}`` (owner, expiry)
judged by the claiming host's clock, as in the SQL store, so the store passes the same contract tests; dead letters
are a list per stream.

Durability is Redis's: with ``appendonly yes`` and ``appendfsync everysec`` a crash of Redis loses at most about a
second of commits; without AOF a restart loses everything since the last RDB save. A snapshot store that must not
lose a commit belongs in PostgreSQL (``docs/scaling.md``). A URL's ``prefix`` query parameter
(``redis://host:6379/0?prefix=app1:``) lets several deployments share one database.
"""

from __future__ import annotations

import builtins
import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgpack

from streamrt.errors import (
    SnapshotNotFoundError,
    StoreOperationError,
    StoreUnavailableError,
)
from streamrt.store.base import (
    SnapshotStore,
    check_expected_version,
    check_lease_args,
    conflict_error,
    fenced_out_error,
)
from streamrt.store.codec import decode_snapshot, decode_value, encode_snapshot, encode_value, gc_paused
from streamrt.store.snapshot import DeadLetter, Lease, Snapshot, StreamSummary

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["DEFAULT_PREFIX", "MAX_CONNECTIONS", "RedisStore", "display_url", "redis_client"]

DEFAULT_PREFIX: Final = "streamrt:"
_IDS_PER_CALL: Final = 1_000
"""Streams per ``HMGET`` pipeline or Lua call: one round trip for the usual sizes, bounded script run times."""

# put_many: KEYS[1] the index, then one snapshot key per item; ARGV: 8 values per item.
# Returns {1} when everything was written, else {0, item, kind, held} where kind is "fence" or "version".
_PUT: Final = """
local staged = {}
local n = #KEYS - 1
for i = 1, n do
  local key = KEYS[i + 1]
  local base = (i - 1) * 8
  local expected = ARGV[base + 1]
  local fence = tonumber(ARGV[base + 2])
  local held = staged[key]
  if held == nil then
    local row = redis.call('HMGET', key, 'version', 'fence')
    if row[1] then held = {tonumber(row[1]), tonumber(row[2])} else held = false end
  end
  if held and held[2] > fence then return {0, i, 'fence', held[2]} end
  if expected == '' then
    if held then return {0, i, 'version', held[1]} end
  elseif (not held) or held[1] ~= tonumber(expected) then
    return {0, i, 'version', held and held[1] or -1}
  end
  staged[key] = {(held and held[1] or 0) + 1, fence}
end
for i = 1, n do
  local key = KEYS[i + 1]
  local base = (i - 1) * 8
  local version = tonumber(ARGV[base + 1]) or 0
  redis.call('HSET', key, 'version', version + 1, 'fence', ARGV[base + 2], 'processor', ARGV[base + 3],
    'status', ARGV[base + 4], 'seq', ARGV[base + 5], 'updated_at', ARGV[base + 6], 'blob', ARGV[base + 7])
  redis.call('ZADD', KEYS[1], 0, ARGV[base + 8])
end
return {1}
"""

# raise_fence: KEYS[1] the snapshot key; ARGV[1] the token. Returns the fence held before (0: no snapshot).
_RAISE_FENCE: Final = """
local held = redis.call('HGET', KEYS[1], 'fence')
if not held then return 0 end
held = tonumber(held)
if held < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'fence', ARGV[1]) end
return held
"""

# delete: KEYS snapshot, lease, dead letters, index; ARGV stream id, expected version ('' for any).
# Returns -1 when there is no snapshot, the held version on a conflict, 0 when deleted.
_DELETE: Final = """
local version = redis.call('HGET', KEYS[1], 'version')
if not version then return -1 end
if ARGV[2] ~= '' and tonumber(version) ~= tonumber(ARGV[2]) then return tonumber(version) end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
return 0
"""

# claim: KEYS lease keys; ARGV owner, now, expires. Returns the 1-based positions of the claims that won.
_CLAIM: Final = """
local won = {}
for i, key in ipairs(KEYS) do
  local row = redis.call('HMGET', key, 'owner', 'expires_at')
  if (not row[1]) or row[1] == ARGV[1] or tonumber(row[2]) <= tonumber(ARGV[2]) then
    redis.call('HSET', key, 'owner', ARGV[1], 'expires_at', ARGV[3])
    won[#won + 1] = i
  end
end
return won
"""

_RELEASE: Final = """
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
"""


MAX_CONNECTIONS: Final = 100
"""Connections a client opens at most (redis-py's default); more commands at once wait for one to be free."""


def redis_client(url: str, **options: Any) -> tuple[Redis, str]:
    """A redis-py asyncio client for ``url`` and the key prefix its ``prefix`` query parameter names.

    redis-py is imported here, so that only a process that uses Redis pays for it; a missing package or a URL it
    cannot read is a StoreUnavailableError naming the URL without its password.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((value for key, value in query if key == "prefix"), DEFAULT_PREFIX)
    rest = urlencode([(key, value) for key, value in query if key != "prefix"])
    try:
        from redis.asyncio import BlockingConnectionPool, Redis  # only when Redis is used
    except ImportError:
        raise StoreUnavailableError(
            f"cannot use {display_url(url)}: the redis package is missing (pip install 'streamrt[cluster]')"
        ) from None
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    options.setdefault("socket_connect_timeout", 5.0)
    options.setdefault("socket_timeout", 10.0)
    # A pooled connection that Redis closed (a restart) fails its next command before sending it: try again on a
    # fresh one. Timeouts are not retried: the command may have run, and a write must not run twice.
    options.setdefault("retry", Retry(ExponentialBackoff(cap=0.5, base=0.02), 3))
    options.setdefault("retry_on_error", [RedisConnectionError])
    # A node runs hundreds of streams, each writing to Redis: when all the connections are busy, a command waits for
    # one (up to 20 s) rather than failing with redis-py's default pool's "Too many connections".
    options.setdefault("max_connections", MAX_CONNECTIONS)
    options.setdefault("timeout", 20.0)
    try:
        pool = BlockingConnectionPool.from_url(urlunsplit(parts._replace(query=rest)), **options)
    except ValueError as e:
        raise StoreUnavailableError(f"invalid Redis URL {display_url(url)}: {e}") from None
    return Redis.from_pool(pool), prefix


def display_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, safe to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


@contextlib.contextmanager
def redis_errors(url: str, doing: str) -> Iterator[None]:
    """Turn redis-py's failures into StoreErrors that name the URL and the action."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as e:
        raise StoreUnavailableError(f"Redis {url}: {doing} failed: {e}") from e
    except RedisError as e:
        raise StoreOperationError(f"Redis {url}: {doing} failed: {e}") from e


class RedisStore(SnapshotStore):
    """Snapshots in Redis hashes; ``clock`` judges lease expiry (injectable, as in the other stores)."""

    fencing = True

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(display_url(url))
        self._raw_url = url
        self._clock = clock
        self._client: Redis | None = None
        self._prefix = DEFAULT_PREFIX
        self.round_trips = 0
        """Commands and scripts sent so far (a pipeline counts once): what ``bench_cluster`` reports per chunk."""

    # --- lifecycle -------------------------------------------------------------------------------------------

    async def open(self) -> None:
        if self._open:
            return
        client, self._prefix = redis_client(self._raw_url)
        try:
            with redis_errors(self.url, "opening"):
                await client.ping()
        except BaseException:
            await client.aclose()
            raise
        self._client = client
        self._put = client.register_script(_PUT)
        self._raise = client.register_script(_RAISE_FENCE)
        self._delete = client.register_script(_DELETE)
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)
        self._open = True

    async def aclose(self) -> None:
        client, self._client = self._client, None
        self._open = False
        if client is not None:
            await client.aclose()

    def _db(self) -> Redis:
        self._check_open()
        assert self._client is not None
        self.round_trips += 1
        return self._client

    def _key(self, kind: str, stream_id: str) -> str:
        return f"{self._prefix}{kind}:{stream_id}"

    # --- snapshots -------------------------------------------------------------------------------------------

    async def get(self, stream_id: str) -> Snapshot:
        db = self._db()
        with redis_errors(self.url, f"reading stream {stream_id!r}"):
            row: builtins.list[Any] = await db.hmget(self._key("snap", stream_id), ["blob", "fence"])
        blob, fence = row
        if blob is None:
            raise SnapshotNotFoundError(f"no snapshot of stream {stream_id!r} in {self.url}")
        return _decoded(blob, fence, stream_id)

    async def get_many(self, stream_ids: Iterable[str]) -> dict[str, Snapshot]:
        ids = builtins.list(dict.fromkeys(stream_ids))
        rows: builtins.list[Any] = []
        with redis_errors(self.url, f"reading {len(ids)} streams"):
            for start in range(0, len(ids), _IDS_PER_CALL):
                pipe = self._db().pipeline(transaction=False)
                for sid in ids[start : start + _IDS_PER_CALL]:
                    pipe.hmget(self._key("snap", sid), ["blob", "fence"])
                rows += await pipe.execute()
        with gc_paused():
            return {
                sid: _decoded(blob, fence, sid)
                for sid, (blob, fence) in zip(ids, rows, strict=True)
                if blob is not None
            }

    async def put_many(self, items: Sequence[tuple[Snapshot, int | None]]) -> builtins.list[int]:
        for snapshot, expected in items:
            check_expected_version(snapshot.stream_id, expected)
        if not items:
            return []
        db = self._db()
        saved = [(s, s.version, s.updated_at) for s, _ in items]
        now = self._clock()
        keys = [self._prefix + "streams"]
        args: builtins.list[Any] = []
        try:
            staged: dict[str, int] = {}
            for snapshot, expected in items:
                snapshot.version = (expected or 0) + 1
                snapshot.updated_at = now
                staged[snapshot.stream_id] = snapshot.version
                keys.append(self._key("snap", snapshot.stream_id))
                args += [
                    "" if expected is None else expected,
                    snapshot.fence,
                    snapshot.processor,
                    snapshot.status,
                    snapshot.seq,
                    repr(now),
                    encode_snapshot(snapshot),
                    snapshot.stream_id,
                ]
            what = repr(items[0][0].stream_id) if len(items) == 1 else f"{len(items)} streams"
            with redis_errors(self.url, f"writing {what}"):
                result = await self._put(keys=keys, args=args, client=db)
            if result[0] != 1:
                _, index, kind, held = result
                snapshot, expected = items[int(index) - 1]
                sid = snapshot.stream_id
                if kind == b"fence":
                    raise fenced_out_error(sid, snapshot.fence, int(held))
                raise conflict_error(sid, expected, None if int(held) < 0 else int(held))
        except BaseException:
            for s, version, updated_at in reversed(saved):
                s.version, s.updated_at = version, updated_at
            raise
        return [snapshot.version for snapshot, _ in items]

    async def list(self) -> builtins.list[StreamSummary]:
        db = self._db()
        fields = ["processor", "status", "version", "updated_at", "seq", "fence"]
        with redis_errors(self.url, "listing streams"):
            members: builtins.list[Any] = await db.zrange(self._prefix + "streams", 0, -1)
            ids = [sid.decode() for sid in members]
            pipe = db.pipeline(transaction=False)
            for sid in ids:
                pipe.hmget(self._key("snap", sid), fields)
            rows = await pipe.execute()
        return [
            StreamSummary(sid, p.decode(), st.decode(), int(v), float(at), int(seq), int(fence))
            for sid, (p, st, v, at, seq, fence) in zip(ids, rows, strict=True)
            if p is not None
        ]

    async def delete(self, stream_id: str, *, expected_version: int | None = None) -> None:
        db = self._db()
        keys = [
            self._key("snap", stream_id),
            self._key("lease", stream_id),
            self._key("dead", stream_id),
            self._prefix + "streams",
        ]
        args = [stream_id, "" if expected_version is None else expected_version]
        with redis_errors(self.url, f"deleting stream {stream_id!r}"):
            result = int(await self._delete(keys=keys, args=args, client=db))
        if result == -1:
            raise SnapshotNotFoundError(f"no snapshot of stream {stream_id!r} in {self.url}")
        if result != 0:
            raise conflict_error(stream_id, expected_version, result)

    async def raise_fence(self, stream_id: str, token: int) -> int:
        db = self._db()
        with redis_errors(self.url, f"fencing stream {stream_id!r}"):
            return int(await self._raise(keys=[self._key("snap", stream_id)], args=[token], client=db))

    # --- leases ----------------------------------------------------------------------------------------------

    async def claim(self, stream_id: str, owner: str, ttl: float) -> bool:
        return stream_id in await self.claim_many([stream_id], owner, ttl)

    async def claim_many(self, stream_ids: Iterable[str], owner: str, ttl: float) -> builtins.set[str]:
        ids = builtins.list(dict.fromkeys(stream_ids))
        for sid in ids:
            check_lease_args(sid, owner, ttl)
        won: builtins.set[str] = set()
        now = self._clock()
        with redis_errors(self.url, f"claiming {len(ids)} streams"):
            for start in range(0, len(ids), _IDS_PER_CALL):
                part = ids[start : start + _IDS_PER_CALL]
                keys = [self._key("lease", sid) for sid in part]
                got = await self._claim(
                    keys=keys, args=[owner, repr(now), repr(now + ttl)], client=self._db()
                )
                won.update(part[int(i) - 1] for i in got)
        return won

    async def release(self, stream_id: str, owner: str) -> bool:
        db = self._db()
        with redis_errors(self.url, f"releasing stream {stream_id!r}"):
            return bool(await self._release(keys=[self._key("lease", stream_id)], args=[owner], client=db))

    async def lease(self, stream_id: str) -> Lease | None:
        db = self._db()
        with redis_errors(self.url, f"reading the lease of stream {stream_id!r}"):
            row: builtins.list[Any] = await db.hmget(self._key("lease", stream_id), ["owner", "expires_at"])
        owner, expires = row
        return None if owner is None else Lease(stream_id, owner.decode(), float(expires))

    # --- dead letters ----------------------------------------------------------------------------------------

    async def add_dead_letter(
        self, stream_id: str, seq: int, chunk: Any, meta: Any, error: str, *, created_at: float | None = None
    ) -> None:
        letter = msgpack.packb(
            [
                seq,
                encode_value(chunk, stream_id=stream_id, what="dead-letter chunk"),
                encode_value(meta, stream_id=stream_id, what="dead-letter metadata"),
                error,
                self._clock() if created_at is None else created_at,
            ]
        )
        db = self._db()
        with redis_errors(self.url, f"recording a dead letter of stream {stream_id!r}"):
            await db.rpush(self._key("dead", stream_id), letter)

    async def dead_letters(self, stream_id: str) -> builtins.list[DeadLetter]:
        db = self._db()
        with redis_errors(self.url, f"reading the dead letters of stream {stream_id!r}"):
            raw: builtins.list[Any] = await db.lrange(self._key("dead", stream_id), 0, -1)
        letters = []
        for item in raw:
            seq, chunk, meta, error, created_at = msgpack.unpackb(item)
            letters.append(
                DeadLetter(
                    stream_id,
                    seq,
                    decode_value(chunk, stream_id=stream_id, what="dead-letter chunk"),
                    decode_value(meta, stream_id=stream_id, what="dead-letter metadata"),
                    error,
                    created_at,
                )
            )
        return letters


def _decoded(blob: bytes, fence: bytes | None, stream_id: str) -> Snapshot:
    snapshot = decode_snapshot(blob, stream_id=stream_id)
    snapshot.fence = int(fence or 0)
    return snapshot
