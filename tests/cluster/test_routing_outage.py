"""A node whose Redis is down (a restart that outlasts the Redis client's own retries) answers a request for a stream
it does not run with a 503 the client retries, as for a stream moving between nodes, not with a 500: looking up the
stream's owner failed with redis-py's raw ConnectionError, which routing did not know as a store failure."""

from __future__ import annotations

import pytest

from tests.cluster.test_nodes import api, node, store_url  # noqa: F401 - store_url is a fixture used here
from tests.conftest import RedisServer

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(120)]


async def test_a_request_for_another_nodes_stream_while_redis_is_down_is_a_503(
    redis_server: RedisServer,
    redis_url: str,
    store_url: str,  # noqa: F811
) -> None:
    async with node(redis_url, store_url) as server, api(server) as client:
        redis_server.stop()
        try:
            pushed = await client.post("/streams/elsewhere/chunks", json=[1])
            looked = await client.get("/streams/elsewhere")
        finally:
            redis_server.start()
    for response in (pushed, looked):
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "1"
        assert "cannot be reached now" in response.json()["detail"], response.text
