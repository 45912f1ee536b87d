"""The event log's tables on SQLAlchemy's async engine: ``streamrt_events``, ``streamrt_serve_streams`` and
``streamrt_push_keys`` (pushes by idempotency key).

The URL is the snapshot store's (a SQLite path or ``sqlite:///``, ``postgresql://``), opened the way the store
opens it (:func:`streamrt.store.sql.sql_url`, WAL and the busy timeout on SQLite), so the server's events live
next to its snapshots and both survive a restart together. Tables are created if missing. Every database failure
leaves as a :class:`~streamrt.errors.StoreOperationError` naming the log with any password masked.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Final

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from streamrt.errors import StoreOperationError, StoreUnavailableError
from streamrt.plugins import scheme_of
from streamrt.serve.logged import LoggedEvent, StreamOwner
from streamrt.store.sql import sql_url
from streamrt.store.sqlite_file import check_path, file_database, set_pragmas, switch_to_wal

__all__ = ["SqlTables", "log_url"]

_metadata: Final = MetaData()
events: Final = Table(
    "streamrt_events",
    _metadata,
    Column("stream_id", String(255), primary_key=True),
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("data", Text, nullable=False),
    Column("at", Float, nullable=False),
    Column("seq", BigInteger, nullable=True),
    Column("gid", BigInteger, nullable=False),
    Index("streamrt_events_at", "at"),
    Index("streamrt_events_gid", "stream_id", "gid"),
)
owners: Final = Table(
    "streamrt_serve_streams",
    _metadata,
    Column("stream_id", String(255), primary_key=True),
    Column("client", String(255), nullable=False),
    Column("processor", String(255), nullable=False),
    Column("created_at", Float, nullable=False),
)

push_keys: Final = Table(
    "streamrt_push_keys",
    _metadata,
    Column("stream_id", String(255), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("base", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("at", Float, nullable=False),
    Index("streamrt_push_keys_at", "at"),
)


def log_url(url: str) -> URL:
    """The SQLAlchemy URL of a store URL (a plain path is a SQLite file)."""
    if scheme_of(url) is None:
        return URL.create("sqlite+aiosqlite", database=os.path.expanduser(url))
    return sql_url(url)


class SqlTables:
    """The statements the event log runs."""

    def __init__(self, url: str) -> None:
        self._url = log_url(url)
        self.display_url = self._url.render_as_string(hide_password=True)
        self._engine: AsyncEngine | None = None

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            message = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise StoreOperationError(f"event log {self.display_url}: {doing} failed: {message}") from None

    @property
    def _db(self) -> AsyncEngine:
        if self._engine is None:
            raise StoreUnavailableError(f"the event log {self.display_url} is not open")
        return self._engine

    async def open(self) -> None:
        url = self._url
        sqlite = url.get_backend_name() == "sqlite"
        if sqlite and file_database(url):
            check_path(url)
            await asyncio.to_thread(switch_to_wal, (url.database,), {})
        engine = create_async_engine(url)
        if sqlite:
            event.listen(engine.sync_engine, "connect", set_pragmas)
        self._engine = engine
        try:
            with self._errors("creating its tables"):
                async with engine.begin() as conn:
                    await conn.run_sync(_metadata.create_all)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            await engine.dispose()

    async def last_ids(self) -> list[tuple[str, int, int]]:
        """Each stream's last event id and last output seq."""
        query = select(events.c.stream_id, func.max(events.c.id), func.max(events.c.seq)).group_by(
            events.c.stream_id
        )
        with self._errors("reading its last ids"):
            async with self._db.connect() as conn:
                rows = (await conn.execute(query)).all()
        return [(sid, int(last), int(seq or 0)) for sid, last, seq in rows]

    async def last_gid(self) -> int:
        with self._errors("reading its last id"):
            async with self._db.connect() as conn:
                value = (await conn.execute(select(func.max(events.c.gid)))).scalar()
        return int(value or 0)

    async def owners(self) -> list[StreamOwner]:
        with self._errors("reading stream owners"):
            async with self._db.connect() as conn:
                rows = (await conn.execute(select(owners))).all()
        return [StreamOwner(r.stream_id, r.client, r.processor, r.created_at) for r in rows]

    async def add_owner(self, owner: StreamOwner) -> None:
        row = {
            "stream_id": owner.stream_id,
            "client": owner.client,
            "processor": owner.processor,
            "created_at": owner.created_at,
        }
        with self._errors("recording a stream's owner"):
            async with self._db.begin() as conn:
                await conn.execute(delete(owners).where(owners.c.stream_id == owner.stream_id))
                await conn.execute(insert(owners), [row])

    async def forget(self, stream_id: str) -> None:
        with self._errors("forgetting a stream"):
            async with self._db.begin() as conn:
                await conn.execute(delete(events).where(events.c.stream_id == stream_id))
                await conn.execute(delete(owners).where(owners.c.stream_id == stream_id))
                await conn.execute(delete(push_keys).where(push_keys.c.stream_id == stream_id))

    async def push_record(self, stream_id: str, key: str) -> tuple[int, int] | None:
        query = select(push_keys.c.base, push_keys.c.total).where(
            and_(push_keys.c.stream_id == stream_id, push_keys.c.key == key)
        )
        with self._errors("reading a push by its key"):
            async with self._db.connect() as conn:
                row = (await conn.execute(query)).first()
        return None if row is None else (int(row.base), int(row.total))

    async def record_push(self, stream_id: str, key: str, base: int, total: int, at: float) -> None:
        row = {"stream_id": stream_id, "key": key, "base": base, "total": total, "at": at}
        where = and_(push_keys.c.stream_id == stream_id, push_keys.c.key == key)
        with self._errors("recording a push by its key"):
            async with self._db.begin() as conn:
                await conn.execute(delete(push_keys).where(where))
                await conn.execute(insert(push_keys), [row])

    async def write(self, batch: Sequence[LoggedEvent]) -> None:
        rows = [
            {
                "stream_id": e.stream_id,
                "id": e.id,
                "kind": e.kind,
                "data": e.data,
                "at": e.at,
                "seq": e.seq,
                "gid": e.gid,
            }
            for e in batch
        ]
        with self._errors("writing events"):
            async with self._db.begin() as conn:
                await conn.execute(insert(events), rows)

    async def read(
        self, stream_id: str, after: int, limit: int, *, by_gid: bool = False, before: int | None = None
    ) -> list[LoggedEvent]:
        """Events past ``after`` (an id, or with ``by_gid`` a gid) and with ids below ``before``, oldest first."""
        column = events.c.gid if by_gid else events.c.id
        where = and_(events.c.stream_id == stream_id, column > after)
        if before is not None:
            where = and_(where, events.c.id < before)
        query = select(events).where(where).order_by(events.c.id).limit(limit)
        with self._errors("reading events"):
            async with self._db.connect() as conn:
                rows = (await conn.execute(query)).all()
        return [LoggedEvent(r.stream_id, r.id, r.kind, r.data, r.at, r.seq, r.gid) for r in rows]

    async def prune_counts(self, cuts: Mapping[str, int]) -> None:
        with self._errors("dropping old events"):
            async with self._db.begin() as conn:
                for sid, cut in cuts.items():
                    await conn.execute(
                        delete(events).where(and_(events.c.stream_id == sid, events.c.id <= cut))
                    )

    async def prune_age(self, oldest: float) -> None:
        """Drop the events, and the pushes remembered by key, older than ``oldest``."""
        with self._errors("dropping old events"):
            async with self._db.begin() as conn:
                await conn.execute(delete(events).where(events.c.at < oldest))
                await conn.execute(delete(push_keys).where(push_keys.c.at < oldest))
