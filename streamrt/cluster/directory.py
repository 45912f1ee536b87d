"""The cluster's directory of streams in Redis: who started each stream, each client's streams, and what a
listing shows of streams other nodes run.

Every stream is registered as ``{prefix}stream:{id}`` (its client, processor and creation time, JSON) and listed in
``{prefix}streams`` and in its client's index ``{prefix}client:{client}`` (sorted sets by creation time), so
``GET /streams`` on any node reads a client's streams in one call, and their registrations and the event log's
``{prefix}evmeta:{id}`` (last status, output seq, the figures the owner published as field ``view``) in one more.
The event log (:class:`~streamrt.cluster.eventlog.RedisEventLog`) opens the connection and drops a stream's
registration in the same transaction as its events.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from streamrt.serve.logged import StreamOwner
from streamrt.store.redis import redis_errors

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import Pipeline

__all__ = ["StreamDirectory"]


class StreamDirectory:
    """The registrations and listings of a cluster's streams, on the event log's Redis connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        """The Redis URL without its password, for messages."""
        self._client: Redis | None = None
        self._prefix = ""
        self._known: dict[str, StreamOwner] = {}

    def attach(self, client: Redis | None, prefix: str) -> None:
        """Use ``client`` (the event log's, once open; None once closed) and the URL's key prefix."""
        self._client = client
        self._prefix = prefix

    def key(self, kind: str, stream_id: str) -> str:
        return f"{self._prefix}{kind}:{stream_id}"

    def _db(self) -> Redis:
        assert self._client is not None, "the event log is not open"
        return self._client

    # --- owners (who started a stream): shared by every node ----------------------------------------------------

    def owners(self) -> dict[str, StreamOwner]:
        """The owners this node knows of (its own streams, and those it looked up)."""
        return dict(self._known)

    def owner(self, stream_id: str) -> StreamOwner | None:
        return self._known.get(stream_id)

    async def register(self, owner: StreamOwner) -> None:
        """Record who started a stream, in the cluster's list and in its client's index."""
        doc = {"client": owner.client, "processor": owner.processor, "created_at": owner.created_at}
        db = self._db()
        with redis_errors(self.url, f"registering stream {owner.stream_id!r}"):
            async with db.pipeline(transaction=True) as pipe:
                pipe.set(self.key("stream", owner.stream_id), json.dumps(doc))
                pipe.zadd(self._prefix + "streams", {owner.stream_id: owner.created_at})
                pipe.zadd(self.key("client", owner.client), {owner.stream_id: owner.created_at})
                await pipe.execute()
        self._known[owner.stream_id] = owner

    async def lookup(self, stream_ids: Iterable[str]) -> dict[str, StreamOwner]:
        """Read the owners of ``stream_ids`` from Redis (one call) into what :meth:`owner` knows; returns them."""
        ids = list(dict.fromkeys(stream_ids))
        if not ids:
            return {}
        with redis_errors(self.url, f"reading {len(ids)} streams"):
            docs: list[Any] = await self._db().mget([self.key("stream", sid) for sid in ids])
        found = {}
        for sid, doc in zip(ids, docs, strict=True):
            if doc is None:
                continue
            data = json.loads(doc)
            found[sid] = StreamOwner(sid, data["client"], data["processor"], data["created_at"])
        self._known.update(found)
        return found

    async def stream_ids(self) -> list[str]:
        """Every stream registered in the cluster, oldest first."""
        with redis_errors(self.url, "listing streams"):
            members: list[Any] = await self._db().zrange(self._prefix + "streams", 0, -1)
        return [m.decode() for m in members]

    async def statuses(self, stream_ids: Iterable[str]) -> dict[str, str]:
        """The last status the log holds for each stream ('' if none yet); one call."""
        ids = list(stream_ids)
        pipe = self._db().pipeline(transaction=False)
        for sid in ids:
            pipe.hget(self.key("evmeta", sid), "status")
        with redis_errors(self.url, f"reading the status of {len(ids)} streams"):
            got = await pipe.execute()
        return {sid: (s.decode() if s else "") for sid, s in zip(ids, got, strict=True)}

    def knows(self, stream_id: str) -> bool:
        return stream_id in self._known

    async def find(self, stream_id: str) -> StreamOwner | None:
        """The owner of a stream: known here, else read from Redis."""
        return self._known.get(stream_id) or (await self.lookup([stream_id])).get(stream_id)

    def unregister(self, pipe: Pipeline, stream_id: str, owner: StreamOwner | None) -> None:
        """Add to ``pipe`` (the log's transaction that drops the stream's events) what drops its registration."""
        pipe.delete(self.key("stream", stream_id))
        pipe.zrem(self._prefix + "streams", stream_id)
        if owner is not None:
            pipe.zrem(self.key("client", owner.client), stream_id)

    def forgotten(self, stream_id: str) -> None:
        """The stream is gone (:meth:`unregister` went through)."""
        self._known.pop(stream_id, None)

    # --- listings ----------------------------------------------------------------------------------------------

    async def client_streams(self, clients: Sequence[str]) -> list[str]:
        """The streams of ``clients`` (their indexes), oldest first; one call."""
        pipe = self._db().pipeline(transaction=False)
        for client in clients:
            pipe.zrange(self.key("client", client), 0, -1, withscores=True)
        with redis_errors(self.url, "listing a client's streams"):
            got = await pipe.execute()
        members = sorted((score, m.decode()) for rows in got for m, score in rows)
        return list(dict.fromkeys(sid for _, sid in members))

    async def summaries(self, stream_ids: Sequence[str], clients: Sequence[str]) -> dict[str, dict[str, Any]]:
        """What a listing shows of streams other nodes run (registration, last status, published figures); one
        call. A stream whose registration expired (cleaned up) is dropped from ``clients``' indexes."""
        if not stream_ids:
            return {}
        pipe = self._db().pipeline(transaction=False)
        for sid in stream_ids:
            pipe.get(self.key("stream", sid))
            pipe.hmget(self.key("evmeta", sid), ["status", "output_seq", "view"])
        with redis_errors(self.url, f"reading {len(stream_ids)} streams"):
            got = await pipe.execute()
        out: dict[str, dict[str, Any]] = {}
        gone = []
        for n, sid in enumerate(stream_ids):
            doc, (status, oseq, view) = got[2 * n], got[2 * n + 1]
            if doc is None:
                gone.append(sid)
                continue
            figures = json.loads(view) if view else {}
            out[sid] = {
                "id": sid,
                "processor": json.loads(doc)["processor"],
                "status": (status or b"").decode() or figures.get("status") or "active",
                "message": figures.get("message"),
                "processed": figures.get("processed"),
                "queue_depth": figures.get("queue_depth"),
                "queue_capacity": figures.get("queue_capacity"),
                "outputs": figures.get("outputs", int(oseq or 0)),
            }
        if gone:
            with redis_errors(self.url, "dropping expired streams from a listing"):
                async with self._db().pipeline(transaction=False) as drop:
                    for client in clients:
                        drop.zrem(self.key("client", client), *gone)
                    await drop.execute()
        return out

    async def publish(self, figures: Mapping[str, str]) -> None:
        """Record the figures (JSON) of streams this node runs, for the listings of every node; one call."""
        if not figures:
            return
        pipe = self._db().pipeline(transaction=False)
        for sid, doc in figures.items():
            pipe.hset(self.key("evmeta", sid), "view", doc)
        with redis_errors(self.url, f"publishing the figures of {len(figures)} streams"):
            await pipe.execute()

    async def index_clients(self) -> None:
        """Put every registered stream in its client's index (streams registered before the indexes existed)."""
        owners = await self.lookup(await self.stream_ids())
        if not owners:
            return
        pipe = self._db().pipeline(transaction=False)
        for sid, owner in owners.items():
            pipe.zadd(self.key("client", owner.client), {sid: owner.created_at})
        with redis_errors(self.url, f"indexing {len(owners)} streams"):
            await pipe.execute()

    async def expire(self, stream_id: str, seconds: float) -> None:
        """Let a finished stream's registration go ``seconds`` from now (its events expire with their own TTL)."""
        with redis_errors(self.url, f"expiring stream {stream_id!r}"):
            await self._db().pexpire(self.key("stream", stream_id), max(1, round(seconds * 1000)))
