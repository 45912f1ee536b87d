"""``streamrt serve`` as a user runs it: a process on a loopback port, stopped by its pid with SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.serve.conftest import SCRIPT
from tests.sources.sse_server import Event, Plan, SseTestServer

STREAMRT = (sys.executable, "-c", "from streamrt.cli import entry; entry()")


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*STREAMRT, "serve", str(SCRIPT), "--port", "0", *args],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _close(proc: subprocess.Popen[str]) -> None:
    if proc.stderr is not None:
        proc.stderr.close()


def _url(proc: subprocess.Popen[str]) -> str:
    """The server's address from its "listening on" line (a failing stream's line may come first)."""
    assert proc.stderr is not None
    for _ in range(50):
        line = proc.stderr.readline()
        if "listening on http://127.0.0.1:" in line or not line:
            break
    assert "listening on http://127.0.0.1:" in line, line
    return line.rsplit(" ", 1)[1].strip()


def test_serve_runs_until_sigterm_and_keeps_streams_in_its_store(tmp_path: Path) -> None:
    store = str(tmp_path / "served.db")
    env = {"STREAMRT_API_TOKENS": "carol:carol-token"}
    proc = _serve("--store", store, env=env)
    try:
        url = _url(proc)
        auth = {"Authorization": "Bearer carol-token"}
        r = httpx.post(f"{url}/streams", json={"processor": "echo", "id": "kept"}, headers=auth)
        assert r.status_code == 201, r.text
        assert httpx.post(f"{url}/streams/kept/chunks", json=[1, 2, 3], headers=auth).status_code == 202
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        _close(proc)
    assert code == 128 + signal.SIGTERM
    proc = _serve("--store", store, env=env)
    try:
        url = _url(proc)
        info = httpx.get(f"{url}/streams/kept", headers={"Authorization": "Bearer carol-token"}).json()
        assert info["state"] == {"n": 3} and info["status"] == "active"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 128 + signal.SIGINT
        _close(proc)


def test_serve_without_tokens_or_on_a_public_address_without_auth_is_refused() -> None:
    env = {k: v for k, v in os.environ.items() if k != "STREAMRT_API_TOKENS"}
    done = subprocess.run(
        [*STREAMRT, "serve", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 2 and "no API tokens" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run(
        [*STREAMRT, "serve", str(SCRIPT), "--no-auth", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "loopback" in done.stderr


def test_a_bad_script_names_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.rtfs"
    bad.write_text("(defn f [s c]\n  (nope c))\n")
    done = subprocess.run(
        [*STREAMRT, "serve", str(bad), "--no-auth"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "bad.rtfs:2" in done.stderr and "Traceback" not in done.stderr


async def _processed(
    url: str, sid: str, auth: dict[str, str], n: int, timeout: float = 30.0
) -> dict[str, Any]:
    """The stream once it has processed ``n`` chunks."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=url, headers=auth) as http:
        while True:
            info: dict[str, Any] = (await http.get(f"/streams/{sid}")).json()
            if info.get("stats", {}).get("processed", 0) >= n or time.monotonic() > deadline:
                return info
            await asyncio.sleep(0.05)


async def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(proc.wait, 30)
    _close(proc)
    return code


async def test_a_restored_stream_without_its_bearer_token_fails_alone_and_resumes_when_given_it(
    tmp_path: Path,
) -> None:
    """A client's source with a literal ``bearer-token``: the snapshot names it only. A restart without it puts
    that stream alone in ``:error`` saying where to put it (the server and the client's other stream run on); the
    next restart with ``--secret NAME=VARIABLE`` resumes the stream where it stopped."""
    token = "feed-S3CRET-91ab"
    plan = Plan(
        events=[Event(json.dumps({"i": i}), id=str(i)) for i in range(1, 6)],
        token=token,
        stall_after=2,
        end="hang",
    )
    store = str(tmp_path / "served.db")
    env = {"STREAMRT_API_TOKENS": "carol:carol-token"}
    auth = {"Authorization": "Bearer carol-token"}
    async with SseTestServer(plan) as feed:
        proc = _serve("--store", store, env=env)
        try:
            url = await asyncio.to_thread(_url, proc)
            body = {"processor": "echo", "id": "fed", "source": feed.url, "options": {"bearer-token": token}}
            async with httpx.AsyncClient(base_url=url, headers=auth) as http:
                assert (await http.post("/streams", json=body)).status_code == 201
                assert (
                    await http.post("/streams", json={"processor": "echo", "id": "pushed"})
                ).status_code == 201
            assert (await _processed(url, "fed", auth, 2))["state"] == {"n": 2}
        finally:
            assert await _stop(proc) == 128 + signal.SIGTERM
        proc = _serve("--store", store, env=env)
        try:
            url = await asyncio.to_thread(_url, proc)
            async with httpx.AsyncClient(base_url=url, headers=auth) as http:
                deadline = time.monotonic() + 30
                while (info := (await http.get("/streams/fed")).json())["status"] != "error":
                    assert time.monotonic() < deadline, info
                    await asyncio.sleep(0.05)
                assert (
                    "its bearer-token" in info["message"] and "--secret bearer-token=" in info["message"]
                ), info
                assert info["state"] == {"n": 2} and token not in json.dumps(info)
                pushed = await http.post("/streams/pushed/chunks", json=[{"i": 1}])
                assert pushed.status_code in (200, 202), pushed.text
            assert (await _processed(url, "pushed", auth, 1))["state"] == {"n": 1}
        finally:
            assert await _stop(proc) == 128 + signal.SIGTERM
        proc = _serve(
            "--store", store, "--secret", "bearer-token=FEED_TOKEN", env={**env, "FEED_TOKEN": token}
        )
        try:
            url = await asyncio.to_thread(_url, proc)
            info = await _processed(url, "fed", auth, 5)
            assert info["status"] == "active" and info["state"] == {"n": 5}, info
            assert token not in json.dumps(info)
        finally:
            assert await _stop(proc) == 128 + signal.SIGTERM
    resumed = feed.requests[-1]
    assert resumed["authorization"] == f"Bearer {token}" and resumed["last-event-id"] == "2"
    assert token.encode() not in Path(store).read_bytes()


async def test_a_push_retried_with_its_key_after_a_restart_applies_each_chunk_once(tmp_path: Path) -> None:
    """Keys live in the store's log: a whole push retried after a restart is a no-op, and one the server took in
    part (429) takes only the rest, as the restored stream's snapshot shows what was taken."""
    store = str(tmp_path / "served.db")
    env = {"STREAMRT_API_TOKENS": "carol:carol-token"}
    auth = {"Authorization": "Bearer carol-token"}
    whole, part = [1, 2, 3], [{"i": i} for i in range(5)]
    proc = _serve("--store", store, "--push-timeout", "0.3", env=env)
    try:
        url = await asyncio.to_thread(_url, proc)
        async with httpx.AsyncClient(base_url=url, headers=auth, timeout=30) as http:
            body = {"processor": "echo", "id": "once", "options": {"queue_capacity": 3}}
            assert (await http.post("/streams", json=body)).status_code == 201
            r = await http.post("/streams/once/chunks", json=whole, headers={"Idempotency-Key": "k-whole"})
            assert r.status_code == 202 and r.json() == {"accepted": 3, "total": 3, "replayed": False}
            await _processed(url, "once", auth, 3)
            await http.post("/streams/once/directives", json={"action": "pause"})
            r = await http.post("/streams/once/chunks", json=part, headers={"Idempotency-Key": "k-part"})
            assert r.status_code == 429 and r.json()["accepted"] == 3
    finally:
        assert await _stop(proc) == 128 + signal.SIGTERM
    proc = _serve("--store", store, "--push-timeout", "5", env=env)
    try:
        url = await asyncio.to_thread(_url, proc)
        async with httpx.AsyncClient(base_url=url, headers=auth, timeout=30) as http:
            r = await http.post("/streams/once/chunks", json=whole, headers={"Idempotency-Key": "k-whole"})
            assert r.status_code == 202 and r.json() == {"accepted": 3, "total": 3, "replayed": True}
            assert (await http.get("/streams/once")).json()["status"] == "paused"
            await http.post("/streams/once/directives", json={"action": "resume"})
            for _ in range(2):  # the rest, then a no-op
                r = await http.post("/streams/once/chunks", json=part, headers={"Idempotency-Key": "k-part"})
                assert r.status_code == 202 and r.json() == {"accepted": 5, "total": 5, "replayed": True}
            r = await http.post("/streams/once/chunks", json=[7], headers={"Idempotency-Key": "k-new"})
            assert r.json() == {"accepted": 1, "total": 1, "replayed": False}
            await http.post("/streams/once/directives", json={"action": "end"})
            info = await _processed(url, "once", auth, 9)
            assert info["state"] == {"n": 9} and info["stats"]["processed"] == 9, info
    finally:
        assert await _stop(proc) == 128 + signal.SIGTERM
