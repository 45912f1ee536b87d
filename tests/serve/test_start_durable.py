"""A started stream is in the store before its start is answered: its first snapshot is committed then, not with its
first chunk. Until then a cluster node that took it over (its first owner died, or lost its lease while Redis
restarted) found it registered but in no store, released it at once, and the next node did the same: the stream
was "moving between nodes" for good (tests/cluster/test_multinode.py, with Redis down for 3 s)."""

from __future__ import annotations

from streamrt.store import open_store
from tests.serve.conftest import client, config, running


async def test_a_started_stream_is_in_the_store_before_its_start_is_answered(durable_store: str) -> None:
    async with running(config(store=durable_store)) as server, client(server) as api:
        started = await api.post("/streams", json={"processor": "echo", "id": "fresh"})
        assert started.status_code == 201, started.text
        async with open_store(durable_store) as store:
            snap = await store.get("fresh")
    assert (snap.stream_id, snap.processor, snap.seq, snap.status) == ("fresh", "echo", 0, "active")
