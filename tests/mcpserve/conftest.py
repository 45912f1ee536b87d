"""Fixtures of the MCP face's tests: the serve tests' ``durable_store`` (a SQLite file or a fresh PostgreSQL
database), since the face runs on the same server and store."""

from __future__ import annotations

from tests.serve.conftest import durable_store

__all__ = ["durable_store"]
