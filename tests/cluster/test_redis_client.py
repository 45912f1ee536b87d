"""The Redis client every Redis part of streamrt uses (store, leases, event log, node), on a real redis-server."""

from __future__ import annotations

import asyncio

import pytest

from streamrt.store.redis import redis_client

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]


async def test_more_commands_at_once_than_connections_wait_for_one(redis_url: str) -> None:
    """A busy node queues its Redis commands rather than failing them ("Too many connections")."""
    client, _ = redis_client(redis_url, max_connections=2)
    try:
        # each BLPOP of an empty list holds its connection for 0.3 s: twelve at once share two connections
        got = await asyncio.gather(*(client.blpop([f"empty:{i}"], timeout=0.3) for i in range(12)))
        assert got == [None] * 12
        assert await client.ping()
    finally:
        await client.aclose()


async def test_a_bad_url_option_is_refused_by_name(redis_url: str) -> None:
    from streamrt.errors import StoreUnavailableError

    with pytest.raises(StoreUnavailableError, match="invalid Redis URL"):
        redis_client(redis_url + "?max_connections=many")
