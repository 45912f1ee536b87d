"""The SQL snapshot store's statements: SQLAlchemy Core objects built once per store, for its dialect, with named
bind parameters (``p_<column>``, ``p_sid``, ...), so that each execution reuses a compiled statement.

A write is ``UPDATE ... WHERE stream_id = :p_sid AND version = :p_expected AND fence <= :p_fence`` or, for a new
stream, ``INSERT ... ON CONFLICT DO NOTHING``; a lease claim is one upsert whose ``DO UPDATE`` only fires for the
same owner or an expired lease. :class:`~streamrt.store.sql.SqlStore` runs them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite as sqlite_dialect

from streamrt.store.schema import leases, schema_info, snapshots

__all__ = ["SqlStatements"]


class SqlStatements:
    """Every statement of a SQL store, for SQLite (``sqlite=True``) or PostgreSQL."""

    def __init__(self, *, sqlite: bool) -> None:
        insert = sqlite_dialect.insert if sqlite else postgresql.insert

        # the columns an insert and an update both write, each from the bind parameter p_<column>
        row: dict[str, Any] = {
            col: bindparam(f"p_{col}")
            for col in ("processor", "status", "version", "seq", "updated_at", "blob", "fence")
        }
        self.get = select(snapshots.c.blob, snapshots.c.fence).where(
            snapshots.c.stream_id == bindparam("p_sid")
        )
        self.get_many = select(snapshots.c.stream_id, snapshots.c.blob, snapshots.c.fence).where(
            snapshots.c.stream_id.in_(bindparam("p_sids", expanding=True))
        )
        self.version = select(snapshots.c.version, snapshots.c.fence).where(
            snapshots.c.stream_id == bindparam("p_sid")
        )
        self.insert = (
            insert(snapshots)
            .values(stream_id=bindparam("p_sid"), **row)
            .on_conflict_do_nothing(index_elements=[snapshots.c.stream_id])
        )
        self.update = (
            update(snapshots)
            .where(
                snapshots.c.stream_id == bindparam("p_sid"),
                snapshots.c.version == bindparam("p_expected"),
                # the fence is checked in the write's own statement: a row lock orders it against raise_fence
                snapshots.c.fence <= bindparam("p_fence"),
            )
            .values(**row)
        )
        self.version_for_update = self.version.with_for_update()
        self.raise_fence = (
            update(snapshots)
            .where(snapshots.c.stream_id == bindparam("p_sid"), snapshots.c.fence < bindparam("p_token"))
            .values(fence=bindparam("p_token"))
        )
        claim = insert(leases).values(
            stream_id=bindparam("p_sid"), owner=bindparam("p_owner"), expires_at=bindparam("p_expires")
        )
        self.claim = claim.on_conflict_do_update(
            index_elements=[leases.c.stream_id],
            set_={"owner": claim.excluded.owner, "expires_at": claim.excluded.expires_at},
            where=or_(leases.c.owner == claim.excluded.owner, leases.c.expires_at <= bindparam("p_now")),
        )
        # Executed with a list of rows, SQLAlchemy's "insertmanyvalues" sends them as multi-row upserts (1,000 rows
        # a statement); RETURNING names the rows whose claim won (a refused claim neither inserts nor updates).
        self.claim_many = self.claim.returning(leases.c.stream_id)
        self.schema_insert = insert(schema_info).on_conflict_do_nothing(index_elements=[schema_info.c.id])
