"""A node of a cluster: a server's streams owned through Redis leases, taken over when their owner is gone.

Theory of operation
-------------------
Every node is the same: a :class:`~streamrt.serve.engine.StreamService` whose persister owns streams through
:class:`~streamrt.cluster.leases.RedisLeases` and whose event log is :class:`~streamrt.cluster.eventlog.RedisEventLog`,
plus what this module adds:

- **Membership.** The node announces itself as ``{prefix}node:{owner}`` (its URL for forwarded requests) with a TTL
  of three lease renewals, refreshed at every rebalance; the live nodes are the keys that exist.
- **Rebalancing.** Every ``rebalance_every`` seconds the node lists the registered streams, finds the live ones
  nobody holds a lease on (their owner died, or handed them over on a clean shutdown) and claims up to its fair
  share (streams over live nodes, rounded up, minus what it runs): it raises their fences, reads their snapshots
  and resumes them, so a dead node's streams spread over the others by load. A node running more than its fair
  share plus one hands the extra over (snapshot written, lease released) for a newcomer to take.
- **Lost leases.** A stream whose renewal found another holder is dropped here at once, without a final write.
- **Idempotent pushes across owners.** The server records a push with an ``Idempotency-Key`` in its log *before*
  it is applied, with the stream's ``seq`` at that moment (:meth:`StreamService.push`); here the log is Redis, so a
  retry of it, on whichever node owns the stream by then, skips the chunks that the stream's restored ``seq`` shows
  were taken. That holds for one producer per stream at a time (concurrent producers on one stream must use
  distinct streams or tolerate repeats).
- **Listings.** ``GET /streams`` on any node lists every stream of the client in the cluster, with the URL of the
  node that runs it: this node's from its provider, the others' from Redis (the client's index, each stream's
  registration, last status and the figures its owner publishes at every rebalance when they changed).
- **Cleanup.** A stream that has ended expires from Redis and the store ``cleanup_ttl`` seconds later.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import httpx

from streamrt.aio import stop_task
from streamrt.cluster.eventlog import RedisEventLog
from streamrt.cluster.leases import CLUSTER_LEASE_TTL, RedisLeases
from streamrt.errors import StoreError, StreamClosedError, StreamOwnedError
from streamrt.serve.engine import SHARED, PushOutcome, StreamService, stream_fields
from streamrt.serve.problems import Problem
from streamrt.store.redis import redis_client, redis_errors

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from streamrt.serve.config import ServeConfig

__all__ = ["ClusterService"]

log = logging.getLogger("streamrt.cluster")

_TERMINAL: Final = frozenset({"completed", "stopped", "cancelled", "error"})
DEFAULT_CLEANUP_TTL: Final = 24 * 3600.0


class ClusterService(StreamService):
    """A server's streams on one node of a cluster coordinated through the Redis at ``cluster_url``."""

    def __init__(
        self,
        config: ServeConfig,
        cluster_url: str,
        *,
        advertise: str,
        lease_ttl: float = CLUSTER_LEASE_TTL,
        rebalance_every: float = 1.0,
        cleanup_ttl: float = DEFAULT_CLEANUP_TTL,
    ) -> None:
        self.cluster_url = cluster_url
        self.advertise = advertise.rstrip("/")
        self.leases = RedisLeases(cluster_url, ttl=lease_ttl, on_lost=self._lost)
        self.events = RedisEventLog(
            cluster_url,
            token=self.leases.token,
            keep_events=config.keep_events,
            keep_seconds=config.keep_seconds,
        )
        self.leases.before_write = self.events.flush
        super().__init__(config, leases=self.leases, log=self.events, restore=False)
        self.rebalance_every = rebalance_every
        self.cleanup_ttl = cleanup_ttl
        self.taken_over = 0
        """Streams this node took over from another (dead or departed) node."""
        self._redis: Redis | None = None
        self._prefix = ""
        self._loop: asyncio.Task[None] | None = None
        self._taking: asyncio.Lock = asyncio.Lock()
        self._expired: set[str] = set()
        self.forwarded = 0
        """Requests this node forwarded to a stream's owner."""
        self._http: httpx.AsyncClient | None = None
        self._published: dict[str, str] = {}
        """The figures this node last published per stream it runs."""

    @property
    def http(self) -> httpx.AsyncClient:
        """The client that forwards requests to other nodes (one connection pool per node)."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0))
        return self._http

    @property
    def owner(self) -> str:
        return self.leases.owner

    # --- lifecycle -----------------------------------------------------------------------------------------------

    async def open(self) -> None:
        await self.leases.open()
        self._redis, self._prefix = redis_client(self.cluster_url)
        try:
            await super().open()
            await self.events.directory.index_clients()
            await self._announce()
            await self.rebalance()
        except BaseException:
            await self.close()
            raise
        self._loop = asyncio.create_task(self._rebalance_loop(), name="streamrt-cluster-rebalance")

    async def close(self) -> None:
        """Stop rebalancing; write every stream's last snapshot and release the leases at once (a clean hand-over)."""
        loop, self._loop = self._loop, None
        if loop is not None:
            await stop_task(loop)
        try:
            await (
                super().close()
            )  # the provider's close commits the snapshots, then the leases go in one call
        finally:
            http, self._http = self._http, None
            if http is not None:
                await http.aclose()
            redis, self._redis = self._redis, None
            if redis is not None:
                with contextlib.suppress(Exception):
                    await redis.delete(self._key("node", self.owner))
                await redis.aclose()
            await self.leases.close()

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}{kind}:{name}"

    def _db(self) -> Redis:
        assert self._redis is not None, "the cluster node is not open"
        return self._redis

    async def _announce(self) -> None:
        ttl_ms = max(1, round(self.leases.ttl * 1000))
        with redis_errors(self.leases.url, "announcing this node"):
            await self._db().set(self._key("node", self.owner), self.advertise, px=ttl_ms)

    async def nodes(self) -> dict[str, str]:
        """The live nodes: owner name -> URL."""
        db = self._db()
        with redis_errors(self.leases.url, "listing the nodes"):
            names: list[Any] = [k async for k in db.scan_iter(match=self._key("node", "*"), count=1000)]
            if not names:
                return {}
            urls: list[Any] = await db.mget(names)
        cut = len(self._key("node", ""))
        return {n.decode()[cut:]: u.decode() for n, u in zip(names, urls, strict=True) if u is not None}

    async def owner_url(self, stream_id: str) -> tuple[str | None, str | None]:
        """Who holds ``stream_id``'s lease and that node's URL (None, None: nobody; a name and None: a node that
        is gone and whose lease has not expired yet). Redis unreachable (a restart) is a StoreUnavailableError, which
        routing answers with a 503 the client retries, not a 500."""
        db = self._db()
        with redis_errors(self.leases.url, f"looking up who runs stream {stream_id!r}"):
            holder: Any = await db.get(self._key("lease", stream_id))
            if holder is None:
                return None, None
            name = holder.decode()
            url: Any = await db.get(self._key("node", name))
        return name, (url.decode() if url is not None else None)

    # --- ownership -----------------------------------------------------------------------------------------------

    def _lost(self, stream_ids: Sequence[str]) -> None:
        """Another node holds these streams now: stop running them here, writing nothing."""
        self.events.drop(stream_ids)
        for sid in stream_ids:
            if sid in self.provider.streams:
                asyncio.get_running_loop().create_task(self._drop(sid))

    async def _drop(self, stream_id: str) -> None:
        with contextlib.suppress(StoreError, KeyError):
            await self.provider.release(stream_id)  # its last write is refused by the fence: nothing is lost
        log.warning("stream %s: lease lost to another node; dropped here", stream_id)

    async def rebalance(self) -> int:
        """Claim this node's share of the streams nobody owns, hand over what is past its share; returns how many
        streams it took."""
        await self._announce()
        async with self._taking:
            nodes = await self.nodes()
            ids = await self.events.directory.stream_ids()
            if not ids:
                return 0
            db = self._db()
            holders: list[Any] = await db.mget([self._key("lease", sid) for sid in ids])
            statuses = await self.events.directory.statuses(ids)
            live = [sid for sid in ids if statuses[sid] not in _TERMINAL]
            held = {sid: h for sid, h in zip(ids, holders, strict=True) if h is not None}
            mine = [sid for sid in live if sid in self.provider.streams]
            share = math.ceil(len(live) / max(1, len(nodes)))
            orphans = [sid for sid in live if sid not in held and sid not in self.provider.streams]
            room = share - len(mine)
            taken = 0
            if orphans and room > 0:
                taken = await self._take_over(orphans[:room])
            elif room < -1 and not orphans:
                await self._hand_over(mine[: -room - 1])
            await self._cleanup([sid for sid in ids if statuses[sid] in _TERMINAL])
            return taken

    async def take_over(self, stream_ids: Sequence[str]) -> int:
        """Claim ``stream_ids`` (fences raised first), read their snapshots and resume them here; returns how many
        it resumed (another node may have been quicker for some)."""
        async with self._taking:
            return await self._take_over(stream_ids)

    async def _take_over(self, stream_ids: Sequence[str]) -> int:
        won: list[str] = []
        for sid in stream_ids:
            if sid in self.provider.streams:
                continue  # one by one: another node may win some of them, which is fine
            try:
                await self.leases.claim(sid)
            except StreamOwnedError:
                continue
            won.append(sid)
        if not won:
            return 0
        try:
            snaps = await self.store.get_many(won)
            await self.events.adopt(won)
            await self.restore(snaps)
        except BaseException:
            for sid in won:
                if sid not in self.provider.streams:
                    with contextlib.suppress(StoreError):
                        await self.leases.release(sid)
            raise
        for sid in won:
            if sid not in snaps:
                await self.leases.release(sid)  # registered but never snapshotted: nothing to resume
        self.taken_over += len(snaps)
        return len(snaps)

    async def _hand_over(self, stream_ids: Sequence[str]) -> None:
        for sid in stream_ids:
            with contextlib.suppress(StoreError, KeyError):
                await self.provider.release(sid)
            self.events.drop([sid])

    async def _cleanup(self, finished: Sequence[str]) -> None:
        for sid in finished:
            if sid in self._expired:
                continue
            self._expired.add(sid)
            await self.events.directory.expire(sid, self.cleanup_ttl)

    async def _rebalance_loop(self) -> None:
        while True:
            await asyncio.sleep(self.rebalance_every)
            try:
                await self.publish()
                await self.rebalance()
            except Exception as exc:
                log.warning("rebalance failed, retrying in %.1f s: %s", self.rebalance_every, exc)

    # --- listings -----------------------------------------------------------------------------------------------

    async def publish(self) -> int:
        """Publish the figures of the streams this node runs that changed since the last time; returns how many."""
        if not self.opened:
            return 0
        changed: dict[str, str] = {}
        running = set()
        for view in self.provider.streams.views():
            running.add(view.id)
            doc = json.dumps(stream_fields(view))
            if self._published.get(view.id) != doc:
                changed[view.id] = doc
        await self.events.directory.publish(changed)
        self._published = {sid: doc for sid, doc in {**self._published, **changed}.items() if sid in running}
        return len(changed)

    async def listing(self, client: str) -> list[dict[str, Any]]:
        """Every stream of ``client`` (and the scripts' own) in the cluster, oldest first, each with ``node``: the
        URL of the node that runs it (None while it moves between nodes)."""
        local = {v.id: v for v in self.visible(client)}
        clients = (client, SHARED)
        ids = await self.events.directory.client_streams(clients)
        others = [sid for sid in ids if sid not in local]
        rows = await self.events.directory.summaries(others, clients)
        urls: dict[str, str | None] = {}
        if rows:
            with redis_errors(self.leases.url, "reading who runs the streams"):
                holders: list[Any] = await self._db().mget([self._key("lease", sid) for sid in rows])
            nodes = await self.nodes()
            urls = {sid: h and nodes.get(h.decode()) for sid, h in zip(rows, holders, strict=True)}
        docs = []
        for sid in [*ids, *(sid for sid in local if sid not in ids)]:
            if sid in local:
                docs.append({**stream_fields(local[sid]), "node": self.advertise})
            elif sid in rows:
                docs.append({**rows[sid], "node": urls.get(sid)})
        return docs

    # --- pushes: idempotent across owners ------------------------------------------------------------------------

    async def push(self, stream_id: str, chunks: Sequence[Any], key: str | None = None) -> PushOutcome:
        """A push, idempotent across owners with ``key``; a stream that moved to another node while the push
        waited (handed over, or its lease lost) is a 503: the client retries, and reaches the new owner."""
        try:
            return await super().push(stream_id, chunks, key)
        except (KeyError, StreamClosedError):
            self._check_moved(stream_id)
            raise

    def direct(self, stream_id: str, action: str) -> None:
        """A directive; a 503 if the stream has just moved to another node (the client retries there)."""
        try:
            super().direct(stream_id, action)
        except (KeyError, StreamClosedError):
            self._check_moved(stream_id)
            raise

    def _check_moved(self, stream_id: str) -> None:
        """A request found the stream here but it is gone now (handed over, or its lease lost): a 503 that sends
        the client to the new owner. A stream still here (it ended) lets the original error through."""
        if self.opened and stream_id in self.provider.streams:
            return
        raise Problem(
            "unavailable", f"stream {stream_id!r} moved to another node; retry", headers={"Retry-After": "1"}
        ) from None
