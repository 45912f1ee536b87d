"""No secret in any output (issue #18): stdout, stderr and log lines, inspect (live and --store), the store itself.

Two streams read a real server on loopback: one with `:bearer-token` and `:auth-header` options, one with a
`user:password@` URL. The server serves three events, drops, and then answers 400 with a body that echoes the request
headers (as some frameworks' error pages do), so both streams fail with the server's words in their message. Every
byte the CLI writes and every byte the store holds (the SQLite files; every PostgreSQL row) is searched for each
secret, and for the Basic credential httpx derives from the URL. `resume` then asks for the secrets again: a clear
error without them, and with them (from the environment and `--secret`) the streams carry on where they were.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamrt.errors import SourceError, UsageError
from streamrt.jsoncodec import to_json
from streamrt.runtime.provider import Provider
from streamrt.secrets import (
    redact,
    redact_url,
    restore_secrets,
    secret_flags,
    secrets_of,
    shown_options,
    stored_options,
)
from streamrt.sources import open_source
from streamrt.values import Keyword
from tests.hostile.peers import OK_SSE, HostilePeer, Request

pytestmark = pytest.mark.timeout(120)

BEARER = "bearer-S3CRET-7f1c"
HEADER = "hdr-S3CRET-99ab"
PASSWORD = "pw-S3CRET-42zz"
BASIC = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
SECRETS = (BEARER, HEADER, PASSWORD, BASIC)
CLI = (sys.executable, "-c", "import sys; from streamrt.cli import entry; sys.exit(entry())")

SCRIPT = """
(defn watch [state chunk meta]
  {:state (inc state)
   :output {:n (:n chunk) :seen (call :mcp.stream.inspect {:stream-id (:stream-id meta)})}})

(mcp-stream "BASE/a" watch 0 {:stream-id "tokens" :bearer-token "BEARER" :auth-header "X-Api-Key: HEADER"})
(mcp-stream "USERBASE/b" watch 0 {:stream-id "userinfo"})
"""


class Feed:
    """Per path: events 1-3 then a drop; then a 400 echoing the request; after that (a resume) events 4-5 and end."""

    def __init__(self) -> None:
        self.seen: dict[str, list[Request]] = {"/a": [], "/b": []}

    async def __call__(self, peer: HostilePeer, req: Request, writer: asyncio.StreamWriter) -> None:
        seen = self.seen[req.path]
        seen.append(req)
        if len(seen) == 1:
            body = "".join(f'id: {i}\ndata: {{"n": {i}}}\n\n' for i in (1, 2, 3))
            writer.write(OK_SSE + body.encode())
        elif len(seen) == 2:
            echo = f"bad request; you sent:\n{req.head}".encode()
            writer.write(
                b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                + f"Content-Length: {len(echo)}\r\n\r\n".encode()
                + echo
            )
        else:
            start = int(req.headers.get("last-event-id", "0")) + 1
            body = "".join(f'id: {i}\ndata: {{"n": {i}}}\n\n' for i in range(start, 6))
            writer.write(OK_SSE + body.encode() + b"event: end\ndata: {}\n\n")
        await writer.drain()


def assert_no_secret(where: str, data: str | bytes) -> None:
    for secret in SECRETS:
        needle = secret.encode() if isinstance(data, bytes) else secret
        assert needle not in data, f"{where} holds a secret ({secret[:6]}...)"


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # no credential of the environment's reaches the CLI; the session's compiled-script cache directory does
    # (tests/conftest.py: never the user's ~/.cache)
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STREAMRT_", "CCOS_")) or k == "STREAMRT_CACHE_DIR"
    }
    done = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=60, cwd=cwd, env={**base, **(env or {})}
    )
    assert_no_secret(f"stdout of {args[0]}", done.stdout)
    assert_no_secret(f"stderr of {args[0]}", done.stderr)
    return done


@pytest.fixture
def feed() -> Iterator[tuple[Feed, str]]:
    """The server, in a thread of its own (the CLI runs in subprocesses the test waits for)."""
    loop = asyncio.new_event_loop()
    handler = Feed()
    peer = HostilePeer(handler)
    loop.run_until_complete(peer.__aenter__())
    import threading

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield handler, peer.url.removesuffix("/events")
    finally:
        asyncio.run_coroutine_threadsafe(peer.__aexit__(None, None, None), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def store_bytes(store: str, tmp_path: Path) -> bytes:
    """Everything the store holds: the SQLite files, or every row of every PostgreSQL table."""
    if not store.startswith("postgresql"):
        return b"".join(p.read_bytes() for p in tmp_path.glob("state.db*"))

    async def dump() -> bytes:
        import asyncpg

        conn = await asyncpg.connect(store)
        try:
            out = []
            tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            for (table,) in tables:
                for row in await conn.fetch(f'SELECT * FROM "{table}"'):
                    out.extend(v if isinstance(v, bytes) else str(v).encode() for v in row.values())
            return b"\n".join(out)
        finally:
            await conn.close()

    return asyncio.run(dump())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "state.db")
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_no_secret_in_any_output_or_in_the_store_and_resume_asks_again(
    feed: tuple[Feed, str], store: str, tmp_path: Path
) -> None:
    handler, base = feed
    script = tmp_path / "watch.rtfs"
    user_base = base.replace("http://", f"http://alice:{PASSWORD}@")
    text = SCRIPT.replace("USERBASE", user_base).replace("BASE", base)
    script.write_text(text.replace("BEARER", BEARER).replace("HEADER", HEADER), encoding="utf-8")

    run = cli("run", str(script), "--store", store, "--log-level", "debug", "--no-progress", cwd=tmp_path)
    assert run.returncode == 1, run.stderr  # both sources failed on the 400
    outputs = [json.loads(line) for line in run.stdout.splitlines()]
    assert sorted((o["stream"], o["output"]["n"]) for o in outputs) == [
        (s, n) for s in ("tokens", "userinfo") for n in (1, 2, 3)
    ]
    # the live inspect a processor sees shows that the options are there, not what they are
    seen = next(o["output"]["seen"] for o in outputs if o["stream"] == "tokens")
    assert seen["options"]["bearer-token"] == "[redacted]" and seen["options"]["auth-header"] == "[redacted]"
    seen_b = next(o["output"]["seen"] for o in outputs if o["stream"] == "userinfo")
    assert seen_b["source"]["uri"] == base.replace("http://", "http://***@") + "/b"
    # the server really got them, and echoed them back: the failure message quotes the server, redacted
    first_a, first_b = handler.seen["/a"][0], handler.seen["/b"][0]
    assert first_a.headers["authorization"] == f"Bearer {BEARER}" and first_a.headers["x-api-key"] == HEADER
    assert first_b.headers["authorization"] == f"Basic {BASIC}"
    assert "HTTP 400 Bad Request: bad request; you sent:" in run.stderr and "[redacted]" in run.stderr
    assert "reconnecting" in run.stderr  # the drop after event 3 was logged (debug level: every record)

    listed = cli("list", "--store", store, cwd=tmp_path)
    inspected = cli("inspect", "--store", store, "--queue", cwd=tmp_path)
    assert listed.returncode == inspected.returncode == 0, inspected.stderr
    reports = {r["stream_id"]: r for r in json.loads(inspected.stdout)}
    assert reports["tokens"]["options"]["bearer-token"] == {"option": "bearer-token"}
    assert reports["userinfo"]["source"]["uri"] == base.replace("http://", "http://***@") + "/b"
    assert reports["userinfo"]["options"]["source-password"] == {"option": "source-password"}
    assert_no_secret("the store", store_bytes(store, tmp_path))

    # resume: without the secrets, a clear error naming where to put them, and nothing started
    refused = cli("resume", "tokens", "userinfo", "--store", store, cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "STREAMRT_MCP_STREAM_BEARER_TOKEN" in refused.stderr and "--secret" in refused.stderr
    assert len(handler.seen["/a"]) == len(handler.seen["/b"]) == 2

    env = {
        "STREAMRT_MCP_STREAM_BEARER_TOKEN": BEARER,
        "STREAMRT_MCP_STREAM_AUTH_HEADER": f"X-Api-Key: {HEADER}",
        "MY_PASSWORD": PASSWORD,
    }
    resumed = cli(
        "resume", "tokens", "userinfo", "--store", store, "--secret", "source-password=MY_PASSWORD", "--log-level", "info",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    more = sorted((o["stream"], o["output"]["n"]) for o in map(json.loads, resumed.stdout.splitlines()))
    assert more == [(s, n) for s in ("tokens", "userinfo") for n in (4, 5)]
    again_a, again_b = handler.seen["/a"][2], handler.seen["/b"][2]
    assert again_a.headers["authorization"] == f"Bearer {BEARER}" and again_a.headers["x-api-key"] == HEADER
    assert again_b.headers["authorization"] == f"Basic {BASIC}"
    assert again_a.headers["last-event-id"] == again_b.headers["last-event-id"] == "3"
    assert_no_secret("the store after the resume", store_bytes(store, tmp_path))


async def test_live_inspect_views_and_health_never_show_a_secret() -> None:
    async def echo_503(peer: HostilePeer, req: Request, writer: asyncio.StreamWriter) -> None:
        # a retryable status with the request echoed in the reason phrase: health and the reconnect log see it
        writer.write(
            f"HTTP/1.1 503 {req.headers.get('authorization', '')}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()

    async with HostilePeer(echo_503) as peer, Provider() as p:
        url = peer.url.replace("http://", f"http://alice:{PASSWORD}@")
        options: dict[Any, Any] = {
            "auth-header": f"X-Api-Key: {HEADER}",
            "retry": {"initial": 0.05, "maximum": 0.1},
        }
        source = open_source(url, options=options)
        sid = p.start(lambda s, c: s, stream_id="live", source=source, options=options)
        async with asyncio.timeout(10):
            while source.health.reconnects < 2:
                await asyncio.sleep(0.02)
        report = json.dumps(to_json(p.inspect(sid)))
        summary = json.dumps(to_json(p.inspect()))
        view = p.record(sid)
        assert view.options[Keyword("auth-header")] == "[redacted]"
        assert view.source_uri == peer.url.replace("http://", "http://***@")
        assert "[redacted]" in (source.health.last_error or "")
    assert peer.requests[0].headers["authorization"] == f"Basic {BASIC}"
    for where, text in (("inspect", report), ("summary", summary), ("view", repr(view.options))):
        assert_no_secret(where, text)


# --- the helpers, case by case ---------------------------------------------------------------------------------


def test_an_env_reference_is_read_at_open_and_stored_as_it_is() -> None:
    ref = {Keyword("env"): "MY_TOKEN"}
    source = open_source(
        "http://127.0.0.1:9/e", env={"MY_TOKEN": BEARER}, options={Keyword("bearer-token"): ref}
    )
    assert source.headers["Authorization"] == f"Bearer {BEARER}"  # type: ignore[attr-defined]
    stored, uri = stored_options({Keyword("bearer-token"): ref}, "http://127.0.0.1:9/e")
    assert stored == {Keyword("bearer-token"): ref} and uri == "http://127.0.0.1:9/e"
    assert shown_options({Keyword("bearer-token"): ref}) == {Keyword("bearer-token"): ref}
    with pytest.raises(SourceError, match="names the environment variable MY_TOKEN, which is not set"):
        open_source("http://127.0.0.1:9/e", env={}, options={Keyword("bearer-token"): ref})


def test_literals_become_references_and_come_back_from_the_host_or_the_environment() -> None:
    options = {
        Keyword("bearer-token"): BEARER,
        Keyword("endpoint"): f"http://bob:{PASSWORD}@h/x",
        Keyword("n"): 1,
    }
    stored, uri = stored_options(options, f"http://bob:{PASSWORD}@h:81/x")
    assert uri == "http://bob@h:81/x" and stored[Keyword("endpoint")] == "http://bob@h/x"
    assert (
        stored[Keyword("bearer-token")] == {Keyword("option"): "bearer-token"} and stored[Keyword("n")] == 1
    )
    assert stored[Keyword("source-password")] == {Keyword("option"): "source-password"}
    assert_no_secret("stored options", repr((stored, uri)))
    filled, back = restore_secrets(
        stored,
        uri,
        stream_id="s",
        secrets={"source-password": "p w/"},
        env={"STREAMRT_MCP_STREAM_BEARER_TOKEN": "t"},
    )
    assert filled[Keyword("bearer-token")] == "t" and back == "http://bob:p%20w%2F@h:81/x"
    with pytest.raises(
        UsageError, match=r"stream 's': its bearer-token .* STREAMRT_MCP_STREAM_BEARER_TOKEN or"
    ):
        restore_secrets(stored, uri, stream_id="s", secrets={"source-password": "x"}, env={})


def test_secret_flags_name_a_variable_never_a_value() -> None:
    assert secret_flags(["bearer-token=V"], {"V": "x"}) == {"bearer-token": "x"}
    with pytest.raises(UsageError, match="NAME one of bearer-token, auth-header, source-password"):
        secret_flags(["token=V"], {"V": "x"})
    with pytest.raises(UsageError, match="the environment variable V is not set"):
        secret_flags(["auth-header=V"], {})


def test_redact_removes_every_form_a_secret_takes() -> None:
    found = secrets_of({"Authorization": f"Bearer {BEARER}"}, f"http://alice:{PASSWORD}@h/x")
    text = f"Authorization: Bearer {BEARER}; Basic {BASIC}; url http://alice:{PASSWORD}@h/x"
    assert_no_secret("redacted", redact(text, found))
    assert redact_url(f"http://alice:{PASSWORD}@h:8/x?q=1") == "http://***@h:8/x?q=1"
