"""The SQL schema of a snapshot store, as SQLAlchemy Core tables.

One schema serves SQLite and PostgreSQL. Every table name starts with ``streamrt_`` so a store can share a
database with other applications. ``streamrt_schema`` holds one row with the schema version; a store refuses a
database whose version it does not know, and later versions will migrate older ones forward on open.

The snapshot row repeats a few fields of the encoded snapshot (processor, status, version, seq, updated_at) so
``list`` and the optimistic-concurrency ``UPDATE ... WHERE version = :expected`` work without decoding blobs, and
keeps the fencing token of its last write beside them (``fence``, 0 when no lease service hands out tokens).

Schema versions: 1 had no ``fence`` column; opening a version 1 database adds it (:data:`MIGRATIONS`).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import BigInteger, Column, Double, Index, Integer, LargeBinary, MetaData, String, Table, Text

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "dead_letters", "leases", "metadata", "schema_info", "snapshots"]

SCHEMA_VERSION: Final = 2

MIGRATIONS: Final[dict[int, tuple[str, ...]]] = {
    1: ("ALTER TABLE streamrt_snapshots ADD COLUMN fence BIGINT NOT NULL DEFAULT 0",),
}
"""The statements that take a database from a schema version to the next one (the same on both databases)."""

metadata = MetaData()

schema_info = Table(
    "streamrt_schema",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
)

snapshots = Table(
    "streamrt_snapshots",
    metadata,
    Column("stream_id", String, primary_key=True),
    Column("processor", String, nullable=False),
    Column("status", String, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("blob", LargeBinary, nullable=False),
    Column("fence", BigInteger, nullable=False, server_default="0"),
)

leases = Table(
    "streamrt_leases",
    metadata,
    Column("stream_id", String, primary_key=True),
    Column("owner", String, nullable=False),
    Column("expires_at", Double, nullable=False),
)

dead_letters = Table(
    "streamrt_dead_letters",
    metadata,
    # INTEGER PRIMARY KEY is SQLite's rowid alias (autoincrementing); BIGINT would not be.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("stream_id", String, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("chunk", LargeBinary, nullable=False),
    Column("meta", LargeBinary, nullable=False),
    Column("error", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    Index("streamrt_dead_letters_stream", "stream_id", "id"),
)
