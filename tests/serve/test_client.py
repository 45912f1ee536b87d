"""streamrt.client and `streamrt ctl` against a real server: batched pushes that wait out 429s, directives,
events that reconnect with Last-Event-ID, and a paused stream resumed from the shell."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from streamrt.client import Client
from streamrt.errors import ApiError
from tests.serve.conftest import TOKENS, config, running

STREAMRT = (sys.executable, "-c", "from streamrt.cli import entry; entry()")


async def test_push_waits_out_429s_and_applies_every_chunk_once() -> None:
    async with running(config(push_timeout=0.1)) as server, Client(server.url, TOKENS["alice"]) as api:
        sid = (await api.start("echo", options={"queue_capacity": 4}))["id"]
        await api.pause(sid)
        pushing = asyncio.create_task(api.push(sid, ({"i": i} for i in range(50)), batch=10))
        await asyncio.sleep(1.5)  # several 429s while paused
        assert not pushing.done()
        await api.resume(sid)
        assert await pushing == 50
        await api.end(sid)
        events = [e async for e in api.events(sid)]
        assert [e.data["value"]["i"] for e in events if e.kind == "output"] == list(range(50))
        assert events[-1].kind == "status" and events[-1].data["to"] == "completed"
        info = await api.inspect(sid)
        assert info["stats"]["processed"] == 50 and info["state"] == {"n": 50}


async def test_events_reconnect_after_each_dropped_connection() -> None:
    async with running(config(events_per_connection=7)) as server, Client(server.url, TOKENS["alice"]) as api:
        sid = (await api.start("echo"))["id"]
        await api.push(sid, range(30))
        await api.end(sid)
        events = [e async for e in api.events(sid, after=5)]
        assert [e.id for e in events] == list(range(6, 32))


async def test_refusals_are_api_errors_with_the_problem_code() -> None:
    async with running(config()) as server:
        async with Client(server.url, TOKENS["bob"]) as api:
            with pytest.raises(ApiError) as caught:
                await api.inspect("nobody-has-this")
            assert (caught.value.status, caught.value.code) == (404, "unknown-stream")
        async with Client(server.url, "wrong") as api:
            with pytest.raises(ApiError) as caught:
                await api.streams()
            assert caught.value.code == "unauthorized" and "wrong" not in str(caught.value)


async def _ctl(url: str, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    env = {**os.environ, "STREAMRT_API_TOKEN": TOKENS["alice"]}
    proc = await asyncio.create_subprocess_exec(
        *STREAMRT, "ctl", "--url", url, *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await proc.communicate(stdin)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_a_stream_that_paused_itself_is_resumed_with_streamrt_ctl_resume(tmp_path: Path) -> None:
    async with running(config()) as server, Client(server.url, TOKENS["alice"]) as api:
        sid = (await api.start("pauser", stream_id="self-pausing"))["id"]
        await api.push(sid, [{"i": 1}, {"cmd": "pause"}, {"i": 2}, {"i": 3}])
        await asyncio.sleep(0.2)
        assert (await api.inspect(sid))["status"] == "paused"

        code, out, err = await _ctl(server.url, "resume", sid)
        assert code == 0, err
        await asyncio.sleep(0.2)
        code, out, _ = await _ctl(server.url, "inspect", sid)
        info = json.loads(out)
        assert info["status"] == "active" and info["state"] == {"n": 3}

        feed = tmp_path / "more.jsonl"
        feed.write_text('{"i": 4}\n{"i": 5}\n')
        code, out, _ = await _ctl(server.url, "push", sid, str(feed))
        assert (code, json.loads(out)) == (0, {"pushed": 2})
        code, out, _ = await _ctl(server.url, "push", sid, stdin=b'{"i": 6}\n')
        assert json.loads(out) == {"pushed": 1}
        assert (await _ctl(server.url, "end", sid))[0] == 0
        code, out, _ = await _ctl(server.url, "events", sid)
        lines = [json.loads(line) for line in out.splitlines()]
        assert [x["data"]["value"].get("i") for x in lines if x["event"] == "output"] == [
            1,
            None,
            2,
            3,
            4,
            5,
            6,
        ]
        assert lines[-1]["data"]["to"] == "completed"

        code, out, err = await _ctl(server.url, "pause", "not-there")
        assert code == 1 and "404 unknown-stream" in err and "Traceback" not in err
    code, _, err = await _ctl(server.url, "list")
    assert code == 2 and "cannot reach the server" in err
