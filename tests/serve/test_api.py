"""The API's promises against a real uvicorn on loopback: auth and tenancy, problem documents, bounded pushes with
idempotency keys, directives, deletion, heartbeats and replay."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from httpx_sse import aconnect_sse

from tests.serve.conftest import client, config, running


async def _start(c: httpx.AsyncClient, processor: str = "echo", **body: object) -> str:
    r = await c.post("/streams", json={"processor": processor, **body})
    assert r.status_code == 201, r.text
    assert r.headers["location"].endswith(f"/streams/{r.json()['id']}")
    sid: str = r.json()["id"]
    return sid


def _problem(r: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = r.json()
    assert body["code"] == code and body["status"] == status and body["detail"]
    assert "Traceback" not in r.text
    return body


async def test_no_token_or_a_wrong_one_is_401_and_the_token_is_never_echoed() -> None:
    async with running(config()) as server, httpx.AsyncClient(base_url=server.url) as anon:
        _problem(await anon.get("/streams"), 401, "unauthorized")
        r = await anon.get("/streams", headers={"Authorization": "Bearer not-a-token-we-know"})
        body = _problem(r, 401, "unauthorized")
        assert "not-a-token-we-know" not in json.dumps(body)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert (await anon.get("/healthz")).json() == {"status": "ok"}
        assert (await anon.get("/readyz")).json() == {"ready": True}


async def test_a_client_sees_only_its_own_streams() -> None:
    async with running(config()) as server, client(server, "alice") as alice, client(server, "bob") as bob:
        sid = await _start(alice)
        assert [s["id"] for s in (await alice.get("/streams")).json()["streams"]] == [sid]
        assert (await bob.get("/streams")).json()["streams"] == []
        for r in (
            await bob.get(f"/streams/{sid}"),
            await bob.post(f"/streams/{sid}/chunks", json=[1]),
            await bob.post(f"/streams/{sid}/directives", json={"action": "cancel"}),
            await bob.get(f"/streams/{sid}/events"),
            await bob.delete(f"/streams/{sid}"),
        ):
            _problem(r, 404, "unknown-stream")
        assert (await alice.get(f"/streams/{sid}")).json()["status"] == "active"


async def test_bad_bodies_are_problems_and_push_nothing() -> None:
    async with running(config()) as server, client(server) as c:
        _problem(await c.post("/streams", content=b"{not json"), 400, "bad-request")
        _problem(await c.post("/streams", json=["echo"]), 400, "bad-request")
        _problem(await c.post("/streams", json={"processor": "nope"}), 400, "bad-request")
        _problem(await c.post("/streams", json={"processor": "echo", "colour": 1}), 400, "bad-request")
        _problem(
            await c.post("/streams", json={"processor": "echo", "options": {"queue_capacity": -1}}),
            400,
            "bad-request",
        )
        body = _problem(
            await c.post("/streams", json={"processor": "echo", "source": "jsonl:/etc/passwd"}),
            403,
            "effect-denied",
        )
        assert ":fs" in str(body["detail"])
        sid = await _start(c)
        _problem(await c.post("/streams", json={"processor": "echo", "id": sid}), 409, "stream-exists")
        ndjson = {"Content-Type": "application/x-ndjson"}
        body = _problem(
            await c.post(f"/streams/{sid}/chunks", content=b'{"a":1}\nnot json\n', headers=ndjson),
            400,
            "bad-request",
        )
        assert "line 2" in str(body["detail"])
        _problem(
            await c.post(f"/streams/{sid}/chunks", content=b"x", headers={"Content-Type": "text/plain"}),
            415,
            "unsupported-media-type",
        )
        _problem(await c.post(f"/streams/{sid}/directives", json={"action": "explode"}), 400, "bad-request")
        _problem(await c.get(f"/streams/{sid}/events", headers={"Last-Event-ID": "-3"}), 400, "bad-request")
        _problem(await c.get("/no/such/route"), 404, "not-found")
        info = (await c.get(f"/streams/{sid}")).json()
        assert info["seq"] == 0 and info["status"] == "active"


async def test_a_failing_chunk_puts_one_stream_in_error_and_says_why() -> None:
    async with running(config()) as server, client(server) as c:
        bad, good = await _start(c, "strict"), await _start(c, "strict")
        assert (await c.post(f"/streams/{bad}/chunks", json=[{"value": "x"}])).status_code == 202
        assert (await c.post(f"/streams/{good}/chunks", json=[{"value": 2}])).status_code == 202
        await asyncio.sleep(0.2)
        failed = (await c.get(f"/streams/{bad}")).json()
        assert failed["status"] == "error" and "echo.rtfs" in failed["message"]
        assert (await c.get(f"/streams/{good}")).json()["state"] == {"n": 2}
        r = await c.get(f"/streams/{bad}/events")
        kinds = [line.split(": ", 1)[1] for line in r.text.splitlines() if line.startswith("event: ")]
        assert kinds == ["status", "error"]
        _problem(await c.post(f"/streams/{bad}/chunks", json=[{"value": 1}]), 409, "stream-closed")


async def test_a_full_queue_is_429_with_retry_after_and_a_retried_key_applies_each_chunk_once() -> None:
    async with running(config(push_timeout=0.2)) as server, client(server) as c:
        sid = await _start(c, options={"queue_capacity": 3})
        assert (await c.post(f"/streams/{sid}/directives", json={"action": "pause"})).status_code == 200
        key = {"Idempotency-Key": "batch-1"}
        batch = [{"i": i} for i in range(5)]
        body = _problem(await c.post(f"/streams/{sid}/chunks", json=batch, headers=key), 429, "queue-full")
        assert body["accepted"] == 3 and body["total"] == 5
        assert (
            int((await c.post(f"/streams/{sid}/chunks", json=batch, headers=key)).headers["retry-after"]) >= 1
        )
        await c.post(f"/streams/{sid}/directives", json={"action": "resume"})
        r = await c.post(f"/streams/{sid}/chunks", json=batch, headers=key)
        assert r.status_code == 202 and r.json() == {"accepted": 5, "total": 5, "replayed": True}
        r = await c.post(f"/streams/{sid}/chunks", json=batch, headers=key)  # a retry after success: a no-op
        assert r.status_code == 202 and r.json()["replayed"] is True
        await c.post(f"/streams/{sid}/directives", json={"action": "end"})
        await asyncio.sleep(0.2)
        info = (await c.get(f"/streams/{sid}")).json()
        assert info["status"] == "completed" and info["state"] == {"n": 5} and info["stats"]["processed"] == 5


async def test_ndjson_single_values_and_directives_and_delete() -> None:
    async with running(config()) as server, client(server) as c:
        sid = await _start(c, "pauser")
        ndjson = b"".join(json.dumps({"i": i}).encode() + b"\n" for i in range(3))
        r = await c.post(
            f"/streams/{sid}/chunks", content=ndjson, headers={"Content-Type": "application/x-ndjson"}
        )
        assert r.json()["accepted"] == 3
        assert (await c.post(f"/streams/{sid}/chunks", json={"cmd": "pause"})).json()["accepted"] == 1
        await asyncio.sleep(0.1)
        assert (await c.get(f"/streams/{sid}")).json()["status"] == "paused"
        await c.post(f"/streams/{sid}/directives", json={"action": "resume"})
        await c.post(f"/streams/{sid}/directives", json={"action": "cancel"})
        assert (await c.get(f"/streams/{sid}")).json()["status"] == "cancelled"
        assert (await c.delete(f"/streams/{sid}")).status_code == 204
        _problem(await c.get(f"/streams/{sid}"), 404, "unknown-stream")
        assert (await c.get("/streams")).json()["streams"] == []


async def test_heartbeats_reach_an_idle_subscriber_and_replay_starts_after_last_event_id() -> None:
    async with running(config(heartbeat=0.2)) as server, client(server) as c:
        sid = await _start(c)
        await c.post(f"/streams/{sid}/chunks", json=[{"i": i} for i in range(5)])
        await asyncio.sleep(0.1)
        async with c.stream("GET", f"/streams/{sid}/events", headers={"Last-Event-ID": "3"}) as r:
            text = ""
            async for part in r.aiter_text():
                text += part
                if text.count(": ping") >= 2:
                    break
        assert text.startswith("retry: ")
        assert [line for line in text.splitlines() if line.startswith("id: ")] == ["id: 4", "id: 5"]
        async with aconnect_sse(c, "GET", f"/streams/{sid}/events", params={"after": "4"}) as sse:
            async for event in sse.aiter_sse():
                if event.data:
                    assert (event.id, json.loads(event.data)["value"]) == ("5", {"i": 4})
                    break


async def test_an_ended_stream_that_was_read_to_the_end_answers_204() -> None:
    async with running(config()) as server, client(server) as c:
        sid = await _start(c)
        await c.post(f"/streams/{sid}/chunks", json=[1])
        await c.post(f"/streams/{sid}/directives", json={"action": "complete"})
        await asyncio.sleep(0.1)
        assert (await c.get(f"/streams/{sid}/events", headers={"Last-Event-ID": "2"})).status_code == 204
        r = await c.get(f"/streams/{sid}/events", headers={"Last-Event-ID": "1"})
        assert r.status_code == 200 and '"to":"completed"' in r.text


@pytest.mark.parametrize("token", ["", "Basic abc"])
async def test_malformed_authorization_is_401(token: str) -> None:
    async with running(config()) as server, httpx.AsyncClient(base_url=server.url) as anon:
        _problem(await anon.get("/streams", headers={"Authorization": token}), 401, "unauthorized")
