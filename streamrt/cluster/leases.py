"""Leases in Redis with a TTL and a fencing token per stream: the :class:`~streamrt.runtime.ports.Leases` port of a
cluster node.

Theory of operation
-------------------
A stream's lease is the key ``{prefix}lease:{id}`` holding its owner's name, with a TTL Redis enforces (``PX``), so a
dead node's leases vanish by themselves after ``ttl`` and no clock but Redis's decides. Every claim that takes a
lease (not a renewal by its holder) increments ``{prefix}fence:{id}`` (``INCR``) in the same Lua script: the result
is the claim's *fencing token*, larger than any token handed out for that stream before. The token goes into every
snapshot the owner writes (:class:`~streamrt.cluster.fencing.FencedStore`), and the new owner raises the store's
fence to it before it reads the stream's snapshot, so a node that stalled past its lease (a long GC pause, a frozen
VM) has its next write refused by the store itself even though it still believes it owns the stream.

Redis is not the last word on tokens: if it lost its keys (a restart without persistence), ``INCR`` would start
again at 1. So a claim passes the store's fence back as a floor, and a token never comes out at or below it.

Renewal is one Lua call per tick for all held streams (1,000 a call): each lease still held by this owner gets its
TTL again; one that has vanished while nobody took it (Redis restarted) is taken back with its token; one held by
another owner is *lost*, dropped from :meth:`RedisLeases.held` and reported to ``on_lost``. A renewal that cannot
reach Redis is retried at the next tick without declaring anything lost: while Redis is down nobody else can claim,
and if someone did once it is back, the store's fence refuses this node's writes anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from streamrt.aio import stop_task
from streamrt.errors import StoreError, StreamOwnedError, UsageError
from streamrt.store.owner import owner_name
from streamrt.store.redis import display_url, redis_client, redis_errors

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from streamrt.store import SnapshotStore

__all__ = ["CLUSTER_LEASE_TTL", "FENCE_TTL", "RedisLeases"]

log = logging.getLogger("streamrt.cluster")

CLUSTER_LEASE_TTL: Final = 10.0
"""Seconds a lease lasts without renewal (renewed every third of it): the bound on how long a dead node's streams
wait for a new owner."""
FENCE_TTL: Final = 7 * 24 * 3600.0
"""Seconds a stream's fence counter outlives its last claim (the store's fence is the floor after that)."""
_PER_CALL: Final = 1_000

# KEYS: n lease keys, then their n fence keys. ARGV: owner, ttl ms, fence ttl ms, then n floors.
# Per stream: the token (a number) if this owner holds the lease now, else the holder's name (a string).
_CLAIM: Final = """
local n = #KEYS / 2
local out = {}
for i = 1, n do
  local lease, fence = KEYS[i], KEYS[n + i]
  local holder = redis.call('GET', lease)
  if holder == false then
    redis.call('SET', lease, ARGV[1], 'PX', ARGV[2])
    local token = redis.call('INCR', fence)
    local floor = tonumber(ARGV[3 + i])
    if token <= floor then
      token = floor + 1
      redis.call('SET', fence, token)
    end
    redis.call('PEXPIRE', fence, ARGV[3])
    out[i] = token
  elseif holder == ARGV[1] then
    redis.call('PEXPIRE', lease, ARGV[2])
    out[i] = tonumber(redis.call('GET', fence) or '0')
  else
    out[i] = holder
  end
end
return out
"""

# KEYS: n lease keys, then n fence keys. ARGV: owner, ttl ms, fence ttl ms, then the n tokens held.
# Returns the 1-based positions of the leases lost to another owner.
_RENEW: Final = """
local n = #KEYS / 2
local lost = {}
for i = 1, n do
  local lease, fence = KEYS[i], KEYS[n + i]
  local holder = redis.call('GET', lease)
  if holder == ARGV[1] then
    redis.call('PEXPIRE', lease, ARGV[2])
  elseif holder == false and tonumber(redis.call('GET', fence) or '0') <= tonumber(ARGV[3 + i]) then
    redis.call('SET', lease, ARGV[1], 'PX', ARGV[2])
    redis.call('SET', fence, ARGV[3 + i], 'PX', ARGV[3])
  else
    lost[#lost + 1] = i
  end
end
return lost
"""

# KEYS: lease keys. ARGV: owner. Deletes those this owner holds.
_RELEASE: Final = """
local n = 0
for _, lease in ipairs(KEYS) do
  if redis.call('GET', lease) == ARGV[1] then
    redis.call('DEL', lease)
    n = n + 1
  end
end
return n
"""


class RedisLeases:
    """Leases on streams in the Redis at ``url``, held as ``owner``, each with its fencing token.

    ``on_lost`` is called with the ids whose lease renewal found held by another owner (this node stalled past its
    TTL): the node must stop running them, without writing (its writes would be refused anyway). Use as
    ``async with RedisLeases(url) as leases:`` or call :meth:`open` and :meth:`close`.
    """

    def __init__(
        self,
        url: str,
        *,
        owner: str | None = None,
        ttl: float = CLUSTER_LEASE_TTL,
        renew_every: float | None = None,
        on_lost: Callable[[Sequence[str]], None] | None = None,
    ) -> None:
        if not ttl > 0:
            raise UsageError(f"a lease needs a positive ttl, not {ttl!r}")
        self.url = display_url(url)
        self._raw_url = url
        self.owner = owner or owner_name()
        self.ttl = ttl
        self.renew_every = ttl / 3 if renew_every is None else renew_every
        self.on_lost = on_lost
        self.before_write: Callable[[], Awaitable[None]] | None = None
        """Awaited before each snapshot write (a cluster node flushes its event log there, so no snapshot ever
        gets ahead of the events it has produced)."""
        self.round_trips = 0
        """Calls sent to Redis so far (one per claim batch, renewal tick or release batch)."""
        self.renewals = 0
        """Renewal ticks done."""
        self._client: Redis | None = None
        self._prefix = ""
        self._held: dict[str, int] = {}
        self._store: SnapshotStore | None = None
        self._renewer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RedisLeases:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect (StoreUnavailableError if Redis cannot be reached)."""
        if self._client is not None:
            return
        client, self._prefix = redis_client(self._raw_url)
        try:
            with redis_errors(self.url, "connecting"):
                await client.ping()
        except BaseException:
            await client.aclose()
            raise
        self._client = client
        self._claim_script = client.register_script(_CLAIM)
        self._renew_script = client.register_script(_RENEW)
        self._release_script = client.register_script(_RELEASE)

    def _db(self) -> Redis:
        if self._client is None:
            raise UsageError(f"the leases on {self.url} are not open (use `async with` or open())")
        self.round_trips += 1
        return self._client

    def _keys(self, ids: Sequence[str]) -> list[str]:
        return [f"{self._prefix}lease:{sid}" for sid in ids] + [f"{self._prefix}fence:{sid}" for sid in ids]

    def _ms(self, seconds: float) -> int:
        return max(1, round(seconds * 1000))

    # --- the Leases port ---------------------------------------------------------------------------------------

    async def claim(self, stream_id: str) -> None:
        """Own ``stream_id``; StreamOwnedError naming the holder if another node owns it."""
        await self.claim_many([stream_id])

    async def claim_many(self, stream_ids: Iterable[str]) -> None:
        """Own every one of ``stream_ids`` (one Redis call per 1,000) or none: StreamOwnedError names the first
        holder, and what was taken is given back."""
        ids = list(dict.fromkeys(stream_ids))
        won: dict[str, int] = {}
        refused: tuple[str, str] | None = None
        try:
            for start in range(0, len(ids), _PER_CALL):
                part = ids[start : start + _PER_CALL]
                got = await self._claim(part, [0] * len(part))
                for sid, result in zip(part, got, strict=True):
                    if isinstance(result, int):
                        won[sid] = result
                    elif refused is None:
                        refused = (sid, result.decode() if isinstance(result, bytes) else str(result))
            if refused is not None:
                sid, holder = refused
                raise StreamOwnedError(
                    f"stream {sid!r} is owned by {holder} (a lease in {self.url}): two nodes must not run one stream"
                )
            if self._store is not None:
                won.update(
                    await self._raise_fences({sid: t for sid, t in won.items() if self._held.get(sid) != t})
                )
        except BaseException:
            if won:
                fresh = [sid for sid in won if sid not in self._held]
                await asyncio.shield(self._release(fresh))
            raise
        self._held.update(won)
        if self._held and self._renewer is None:
            self._renewer = asyncio.get_running_loop().create_task(
                self._renew(), name="streamrt-redis-leases"
            )

    async def _claim(self, ids: Sequence[str], floors: Sequence[int]) -> list[Any]:
        args: list[str | int] = [self.owner, self._ms(self.ttl), self._ms(FENCE_TTL), *floors]
        with redis_errors(self.url, f"claiming {len(ids)} streams"):
            result: list[Any] = await self._claim_script(keys=self._keys(ids), args=args, client=self._db())
        return result

    async def _raise_fences(self, won: dict[str, int]) -> dict[str, int]:
        """Raise the store's fence of each stream just won to its token, before anyone reads the snapshot.

        A store fence at or above the token means Redis handed out a token that was used before (it lost its
        keys): the lease is taken again with the store's fence as the floor, which gives a larger token.
        """
        store = self._store
        assert store is not None
        for sid, token in list(won.items()):
            held = await store.raise_fence(sid, token)
            if held >= token:
                # a token at or below one already used: give the lease back and take it again above the floor
                await self._release([sid])
                result = (await self._claim([sid], [held]))[0]
                if not isinstance(result, int):
                    raise StreamOwnedError(f"stream {sid!r} was taken by another node while it was fenced")
                won[sid] = result
                await store.raise_fence(sid, result)
        return won

    async def release(self, stream_id: str) -> None:
        """Give up ``stream_id`` (a no-op if not held)."""
        if self._held.pop(stream_id, None) is not None:
            await self._release([stream_id])

    async def release_many(self, stream_ids: Iterable[str]) -> None:
        """Give up several leases in one call (a clean shutdown hands streams over at once this way)."""
        ids = [sid for sid in dict.fromkeys(stream_ids) if self._held.pop(sid, None) is not None]
        await self._release(ids)

    async def _release(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), _PER_CALL):
            part = ids[start : start + _PER_CALL]
            with redis_errors(self.url, f"releasing {len(part)} streams"):
                await self._release_script(
                    keys=[f"{self._prefix}lease:{sid}" for sid in part], args=[self.owner], client=self._db()
                )

    async def close(self) -> None:
        """Stop renewing, release every lease still held (in one call per 1,000), disconnect."""
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            await stop_task(renewer)
        held, self._held = list(self._held), {}
        client = self._client
        try:
            if held and client is not None:
                await self._release(held)
        finally:
            self._client = None
            if client is not None:
                await client.aclose()

    def fenced(self, store: SnapshotStore) -> SnapshotStore:
        """``store`` wrapped so that every snapshot carries its stream's token; claims raise its fences."""
        from streamrt.cluster.fencing import FencedStore

        self._store = store
        return FencedStore(store, self.token, before_write=self._before_write)

    async def _before_write(self) -> None:
        if self.before_write is not None:
            await self.before_write()

    def held(self) -> Mapping[str, int | None]:
        return dict(self._held)

    def token(self, stream_id: str) -> int | None:
        """The fencing token of a held stream; None if this node does not hold it."""
        return self._held.get(stream_id)

    # --- renewal -----------------------------------------------------------------------------------------------

    async def renew(self) -> list[str]:
        """Renew every held lease now (one call per 1,000 streams); returns the ids lost to another owner."""
        held = list(self._held.items())
        lost: list[str] = []
        for start in range(0, len(held), _PER_CALL):
            part = held[start : start + _PER_CALL]
            ids = [sid for sid, _ in part]
            args: list[str | int] = [
                self.owner,
                self._ms(self.ttl),
                self._ms(FENCE_TTL),
                *(token for _, token in part),
            ]
            with redis_errors(self.url, f"renewing {len(ids)} leases"):
                positions = await self._renew_script(keys=self._keys(ids), args=args, client=self._db())
            lost += [ids[int(i) - 1] for i in positions]
        self.renewals += 1
        for sid in lost:
            # a claim made while this tick was in flight may have replaced the entry; only drop what was renewed
            if self._held.get(sid) == dict(held).get(sid):
                del self._held[sid]
        if lost and self.on_lost is not None:
            self.on_lost(lost)
        return lost

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.renew_every)
            try:
                await self.renew()
            except StoreError as exc:
                log.warning("lease renewal failed, retrying in %.1f s: %s", self.renew_every, exc)
