"""Opening a SQLite file as a snapshot store: the path check, the WAL switch, and each connection's pragmas.

A new database starts in rollback-journal mode and is switched to WAL once (the mode is stored in the file). That
switch needs the file to itself, and when several openers race on a new file SQLite may refuse it with
``SQLITE_BUSY`` at once, without waiting in its busy handler (waiting could deadlock two connections that each hold
a shared lock). So :func:`switch_to_wal` runs before the pool opens its connections, on a worker thread, and
retries for up to the busy timeout; after that every connection finds the file in WAL mode already.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from sqlalchemy.engine import URL

from streamrt.errors import StoreUnavailableError

__all__ = ["BUSY_TIMEOUT_MS", "check_path", "file_database", "set_pragmas", "switch_to_wal"]

BUSY_TIMEOUT_MS: Final = 10_000
"""How long a connection waits for another one's lock (several processes may share one file)."""
_RETRY_SECONDS: Final = 0.005


def file_database(url: URL) -> bool:
    """Whether the URL names a SQLite file (not an in-memory database)."""
    return url.database not in (None, "", ":memory:")


def check_path(url: URL) -> None:
    """Say plainly why a SQLite file cannot be opened, before the driver tries.

    Besides a clearer message this avoids a race in aiosqlite, whose worker thread outlives a failed connect
    and may report to an event loop that is already closed.
    """
    database = url.database
    if not database or database == ":memory:" or url.query.get("uri"):
        return
    path = Path(database)
    problem = None
    if path.is_dir():
        problem = "it is a directory"
    elif path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            problem = "the file is not readable and writable"
    elif not path.parent.is_dir():
        problem = f"the directory {str(path.parent)!r} does not exist"
    elif not os.access(path.parent, os.W_OK | os.X_OK):
        problem = f"the directory {str(path.parent)!r} is not writable"
    if problem is not None:
        raise StoreUnavailableError(f"cannot open the SQLite snapshot store {str(path)!r}: {problem}")


def switch_to_wal(args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    """Put the file in WAL mode (blocking: run it on a worker thread), retrying while another opener holds it."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    db = sqlite3.connect(*args, **kwargs)
    try:
        while True:
            try:
                db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
            time.sleep(_RETRY_SECONDS)
    finally:
        db.close()


def set_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLAlchemy's connect hook: WAL (normally set already), ``synchronous=NORMAL`` and the busy timeout."""
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()
    except BaseException:
        # The pool does not close a connection whose connect hook failed (a file that is not a database fails
        # here); left open, aiosqlite's worker thread would outlive the event loop.
        dbapi_connection.close()
        raise
