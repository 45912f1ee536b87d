"""The MCP source without a server: status handling and wire details on httpx.MockTransport, and the URI rules."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

import httpx
import pytest

from streamrt.errors import SourceAuthError, SourceError
from streamrt.sources.base import Chunk, ChunkFault, Item
from streamrt.sources.mcp import McpSource
from streamrt.sources.mcp_protocol import parse_mcp_uri, parse_stdio_uri, server_message
from streamrt.sources.retry import RetryPolicy
from streamrt.values import Keyword

K = Keyword
URI = "mcp+http://mcp.test:9000/mcp?tool=work&arguments=%7B%22n%22%3A2%7D"
TINY_BACKOFF = RetryPolicy(max_attempts=4, max_elapsed=10.0, initial=0.001, maximum=0.001)

Script = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def rpc(request_id: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def sse(*events: tuple[str | None, Any]) -> httpx.Response:
    """An event-stream response; each event is (id, message) and a str message is sent as raw data."""
    lines = []
    for event_id, message in events:
        if event_id is not None:
            lines.append(f"id: {event_id}")
        lines.append("data: " + (message if isinstance(message, str) else json.dumps(message)))
        lines.append("")
    return httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=("\n".join(lines) + "\n").encode()
    )


RESULT = rpc(2, {"content": [{"type": "text", "text": '{"ok": true}'}], "structuredContent": {"ok": True}})


class FakeMcp:
    """A scripted MCP endpoint: initialize and notifications succeed; tools/call and GET answers come in order."""

    def __init__(self, *script: Script, version: str = "2025-11-25") -> None:
        self.script = list(script)
        self.version = version
        self.requests: list[httpx.Request] = []
        self.bodies: list[Any] = []
        self.sessions = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = json.loads(request.content) if request.content else None
        self.bodies.append(body)
        if request.method == "DELETE":
            return httpx.Response(200)
        if isinstance(body, dict) and body.get("method") == "initialize":
            reply = rpc(
                body["id"], {"protocolVersion": self.version, "capabilities": {}, "serverInfo": {"name": "f"}}
            )
            self.sessions += 1
            return httpx.Response(200, json=reply, headers={"mcp-session-id": f"sess-{self.sessions}"})
        if isinstance(body, dict) and body.get("method") != "tools/call":
            return httpx.Response(202)  # notifications and our replies to server requests
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step(request) if callable(step) else step

    def calls(self) -> list[httpx.Request]:
        return [
            r
            for r, b in zip(self.requests, self.bodies, strict=True)
            if (b or {}).get("method") == "tools/call"
        ]


async def drain(
    fake: FakeMcp, policy: RetryPolicy = TINY_BACKOFF, **kwargs: Any
) -> tuple[list[Item], McpSource]:
    source = McpSource(URI, retry=policy, transport=httpx.MockTransport(fake), **kwargs)
    items: list[Item] = []
    async with source, aclosing(source.items()) as stream:
        async for item in stream:
            items.append(item)
    return items, source


def value(item: Item) -> Any:
    assert isinstance(item, Chunk), item
    return item.value


def kinds(items: list[Item]) -> list[str]:
    return [i.meta[K("kind")] for i in items]


async def test_headers_session_and_delete_on_close() -> None:
    fake = FakeMcp(httpx.Response(200, json=RESULT))
    items, _ = await drain(fake)
    assert kinds(items) == ["result"]
    init, notified, call, delete = fake.requests
    assert "mcp-protocol-version" not in init.headers and "mcp-session-id" not in init.headers
    assert fake.bodies[0]["params"]["protocolVersion"] == "2025-11-25"
    assert fake.bodies[1]["method"] == "notifications/initialized"
    for request in (notified, call, delete):
        assert request.headers["mcp-session-id"] == "sess-1"
        assert request.headers["mcp-protocol-version"] == "2025-11-25"
    assert call.headers["accept"] == "application/json, text/event-stream"
    assert fake.bodies[2]["params"] == {"name": "work", "arguments": {"n": 2}, "_meta": {"progressToken": 2}}
    assert delete.method == "DELETE"


async def test_server_may_answer_an_older_protocol_version() -> None:
    fake = FakeMcp(httpx.Response(200, json=RESULT), version="2025-06-18")
    items, source = await drain(fake)
    assert kinds(items) == ["result"]
    assert fake.calls()[0].headers["mcp-protocol-version"] == "2025-06-18"
    assert source.describe()["protocol_version"] == "2025-06-18"


async def test_unsupported_protocol_version_is_an_error() -> None:
    with pytest.raises(SourceError, match="1999-01-01"):
        await drain(FakeMcp(version="1999-01-01"))


async def test_503_with_retry_after_waits_that_long_then_succeeds() -> None:
    fake = FakeMcp(
        httpx.Response(
            503, headers={"retry-after": "0.3"}, json={"error": {"code": -1, "message": "overloaded"}}
        ),
        httpx.Response(200, json=RESULT),
    )
    started = time.monotonic()
    items, source = await drain(
        fake, RetryPolicy(max_attempts=4, max_elapsed=10.0, initial=0.001, maximum=1.0)
    )
    assert time.monotonic() - started >= 0.3
    assert kinds(items) == ["result"]
    assert len(fake.calls()) == 2
    assert source.health.reconnects == 1
    assert source.health.last_error is not None and "overloaded" in source.health.last_error


async def test_retry_after_beyond_the_policy_maximum_is_capped_and_said_so() -> None:
    fake = FakeMcp(
        httpx.Response(503, headers={"retry-after": "86400"}, text="maintenance"),
        httpx.Response(200, json=RESULT),
    )
    seen: list[tuple[str, float | None, str | None]] = []
    policy = RetryPolicy(max_attempts=4, max_elapsed=10.0, initial=0.001, maximum=0.2)
    source = McpSource(URI, retry=policy, transport=httpx.MockTransport(fake))
    source.health.watch(lambda h: seen.append((h.state, h.retry_in, h.last_error)))
    started = time.monotonic()
    async with source, aclosing(source.items()) as stream:
        items = [item async for item in stream]
    assert time.monotonic() - started < 5, "a day-long Retry-After must not stall the call"
    assert kinds(items) == ["result"]
    [(_, retry_in, error)] = [entry for entry in seen if entry[0] == "reconnecting"]
    assert retry_in == 0.2
    assert error is not None and "asked to wait 86400s, waiting 0.2s" in error


async def test_429_retries_until_the_policy_gives_up() -> None:
    fake = FakeMcp(*[httpx.Response(429, text="slow down") for _ in range(3)])
    policy = RetryPolicy(max_attempts=3, max_elapsed=10.0, initial=0.001, maximum=0.001)
    source = McpSource(URI, retry=policy, transport=httpx.MockTransport(fake))
    async with source:
        with pytest.raises(SourceError, match=r"gave up after 3 attempts.*429.*slow down"):
            async with aclosing(source.items()) as stream:
                async for _ in stream:
                    pass
    assert len(fake.calls()) == 3
    assert source.health.state == "failed"


async def test_connect_error_is_retried() -> None:
    fake = FakeMcp(httpx.ConnectError("refused"), httpx.Response(200, json=RESULT))
    items, source = await drain(fake)
    assert kinds(items) == ["result"]
    assert source.health.reconnects == 1


@pytest.mark.parametrize(
    ("status", "message"),
    [
        pytest.param(400, "Bad Request: Missing session ID", id="400"),
        pytest.param(
            406, "Not Acceptable: Client must accept both application/json and text/event-stream", id="406"
        ),
    ],
)
async def test_400_and_406_carry_the_server_message_without_retrying(status: int, message: str) -> None:
    fake = FakeMcp(
        httpx.Response(status, json={"jsonrpc": "2.0", "id": None, "error": {"code": -1, "message": message}})
    )
    with pytest.raises(SourceError, match=f"HTTP {status}") as caught:
        await drain(fake)
    assert message in str(caught.value)
    assert not isinstance(caught.value, SourceAuthError)
    assert len(fake.calls()) == 1


async def test_401_never_shows_the_token_even_if_the_server_echoes_it() -> None:
    token = "tok-secret-abcdef"
    fake = FakeMcp(
        httpx.Response(401, json={"error": "invalid_token", "error_description": f"bad token {token}"})
    )
    source = McpSource(URI, headers={"Authorization": f"Bearer {token}"}, transport=httpx.MockTransport(fake))
    async with source:
        with pytest.raises(SourceAuthError) as caught:
            async with aclosing(source.items()) as stream:
                async for _ in stream:
                    pass
    text = f"{caught.value} {caught.value!r} {source.health.last_error} {source.describe()}"
    assert token not in text
    assert "bad token [redacted]" in str(caught.value)


async def test_progress_log_notification_and_server_ping_on_an_event_stream() -> None:
    fake = FakeMcp(
        sse(
            ("e1", ""),
            (
                "e2",
                {
                    "jsonrpc": "2.0",
                    "method": "notifications/progress",
                    "params": {"progressToken": 2, "progress": 1},
                },
            ),
            (
                "e3",
                {
                    "jsonrpc": "2.0",
                    "method": "notifications/progress",
                    "params": {"progressToken": 99, "progress": 5},
                },
            ),
            ("e4", {"jsonrpc": "2.0", "id": "srv-1", "method": "ping"}),
            (
                "e5",
                {
                    "jsonrpc": "2.0",
                    "method": "notifications/message",
                    "params": {"level": "warning", "data": {"a": 1}},
                },
            ),
            (
                "e6",
                {
                    "jsonrpc": "2.0",
                    "method": "notifications/resources/updated",
                    "params": {"uri": "file:///a"},
                },
            ),
            ("e7", RESULT),
        )
    )
    items, _ = await drain(fake)
    assert kinds(items) == ["progress", "log", "notification", "result"]
    assert value(items[0]) == {K("progress"): 1, K("total"): None, K("message"): None}
    assert value(items[1]) == {K("level"): "warning", K("logger"): None, K("data"): {K("a"): 1}}
    assert value(items[2]) == {
        K("method"): "notifications/resources/updated",
        K("params"): {K("uri"): "file:///a"},
    }
    assert [i.meta[K("id")] for i in items] == ["e2", "e5", "e6", "e7"]
    assert {"jsonrpc": "2.0", "id": "srv-1", "result": {}} in fake.bodies


async def test_garbage_event_is_a_fault_and_the_stream_goes_on() -> None:
    fake = FakeMcp(sse(("e1", "this is not json"), ("e2", RESULT)))
    items, _ = await drain(fake)
    assert isinstance(items[0], ChunkFault) and "not json" in items[0].message
    assert isinstance(items[1], Chunk) and kinds(items[1:]) == ["result"]


async def test_drop_without_event_ids_fails_instead_of_calling_twice() -> None:
    progress = {
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": {"progressToken": 2, "progress": 1},
    }
    fake = FakeMcp(sse((None, progress)))
    source = McpSource(URI, retry=TINY_BACKOFF, transport=httpx.MockTransport(fake))
    seen: list[Item] = []
    async with source:
        with pytest.raises(SourceError, match="no event ids"):
            async with aclosing(source.items()) as stream:
                async for item in stream:
                    seen.append(item)
    assert kinds(seen) == ["progress"]
    assert len(fake.calls()) == 1


async def test_dropped_stream_resumes_with_last_event_id() -> None:
    progress = {
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": {"progressToken": 2, "progress": 1},
    }
    fake = FakeMcp(sse(("e1", ""), ("e2", progress)), sse(("e3", RESULT)))
    items, source = await drain(fake)
    assert kinds(items) == ["progress", "result"]
    resume = fake.requests[3]
    assert resume.method == "GET" and resume.headers["last-event-id"] == "e2"
    assert resume.headers["mcp-session-id"] == "sess-1"
    assert source.health.reconnects == 1


async def test_streams_that_end_before_the_result_again_and_again_back_off() -> None:
    """Each resume brings an event (progress), yet the stream ends before the result every time: the waits grow
    from reconnect-delay instead of staying at it."""

    def progress(n: int) -> dict[str, Any]:
        return {
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": {"progressToken": 2, "progress": n},
        }

    fake = FakeMcp(*(sse((f"e{n}", progress(n))) for n in range(1, 6)), sse(("e6", RESULT)))
    policy = RetryPolicy(max_attempts=4, max_elapsed=10.0, initial=0.001, maximum=0.08, reconnect_delay=0.01)
    waits: list[float | None] = []
    source = McpSource(URI, retry=policy, transport=httpx.MockTransport(fake))
    source.health.watch(lambda h: waits.append(h.retry_in) if h.state == "reconnecting" else None)
    async with source, aclosing(source.items()) as stream:
        items = [item async for item in stream]
    assert kinds(items) == ["progress"] * 5 + ["result"]
    assert waits[0] == 0.01
    for wait, window in zip(waits[1:], [0.02, 0.04, 0.08, 0.08], strict=True):
        assert wait is not None and window / 2 <= wait <= window, waits


class BreaksAfter(httpx.AsyncByteStream):
    """A body that sends ``data`` and then fails the way a cut connection does."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


async def test_cut_connection_resumes_with_last_event_id() -> None:
    progress = {
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": {"progressToken": 2, "progress": 1},
    }
    cut = httpx.Response(
        200,
        headers={"content-type": "text/event-stream"},
        stream=BreaksAfter(f"id: e7\ndata: {json.dumps(progress)}\n\n".encode()),
    )
    fake = FakeMcp(cut, sse(("e8", RESULT)))
    items, source = await drain(fake)
    assert kinds(items) == ["progress", "result"]
    assert fake.requests[3].headers["last-event-id"] == "e7"
    assert source.health.last_error is not None and "RemoteProtocolError" in source.health.last_error


async def test_404_on_the_call_starts_a_new_session() -> None:
    fake = FakeMcp(
        httpx.Response(404, json={"error": {"code": -1, "message": "Session not found"}}),
        httpx.Response(200, json=rpc(4, RESULT["result"])),
    )
    items, source = await drain(fake)
    assert kinds(items) == ["result"]
    methods = [(b or {}).get("method") for b in fake.bodies]
    assert methods.count("initialize") == 2
    assert [c.headers["mcp-session-id"] for c in fake.calls()] == ["sess-1", "sess-2"]
    assert source.health.reconnects == 1
    assert source.health.last_error is not None and "Session not found" in source.health.last_error


async def test_resumes_that_bring_nothing_give_up() -> None:
    empty = [sse() for _ in range(5)]
    fake = FakeMcp(sse(("e1", "")), *empty)
    with pytest.raises(SourceError, match="without progress"):
        await drain(fake, RetryPolicy(max_attempts=3, max_elapsed=10.0, initial=0.001, maximum=0.001))


async def test_json_body_without_the_reply_is_an_error() -> None:
    with pytest.raises(SourceError, match="no reply"):
        await drain(FakeMcp(httpx.Response(200, json=rpc(77, {}))))


async def test_jsonrpc_error_reply_is_an_error_chunk() -> None:
    error = {"jsonrpc": "2.0", "id": 2, "error": {"code": -32602, "message": "Unknown tool: work"}}
    items, source = await drain(FakeMcp(httpx.Response(200, json=error)))
    assert kinds(items) == ["error"]
    assert value(items[0])[K("code")] == -32602
    assert value(items[0])[K("message")] == "Unknown tool: work"
    assert source.health.state == "ended"


async def test_done_continuation_reads_nothing() -> None:
    fake = FakeMcp()
    cont = {"session_id": "s", "last_event_id": "e9", "request_id": 4, "done": True}
    items, _ = await drain(fake, continuation=cont)
    assert items == []
    assert [r.method for r in fake.requests] == ["DELETE"]


async def test_bad_continuation_is_rejected() -> None:
    with pytest.raises(SourceError, match="bad continuation"):
        McpSource(URI, {"request_id": "seven"})


@pytest.mark.parametrize(
    ("uri", "error"),
    [
        pytest.param("http://h/mcp?tool=x", "not an MCP URI", id="wrong-scheme"),
        pytest.param("mcp+http:///mcp?tool=x", "no host", id="no-host"),
        pytest.param("mcp+http://h:99999/mcp?tool=x", "bad port", id="bad-port"),
        pytest.param("mcp+http://h/mcp", "needs a tool", id="no-tool"),
        pytest.param("mcp+http://h/mcp?tool=x&arguments=%7Bnope", "not valid JSON", id="bad-json"),
        pytest.param("mcp+http://h/mcp?tool=x&arguments=%5B1%5D", "must be a JSON object", id="not-object"),
    ],
)
def test_bad_uris(uri: str, error: str) -> None:
    with pytest.raises(SourceError, match=error):
        parse_mcp_uri(uri)


def test_uri_parts() -> None:
    target = parse_mcp_uri("mcp+https://u:pw@example.org:8443/a/mcp?tool=t&arguments=%7B%22x%22%3A1%7D&v=2")
    assert target.endpoint == "https://u:pw@example.org:8443/a/mcp?v=2"
    assert target.display_endpoint == "https://***@example.org:8443/a/mcp?v=2"
    assert (target.tool, target.arguments) == ("t", {"x": 1})
    assert parse_mcp_uri("mcp+http://h:1?tool=t").endpoint == "http://h:1/"
    source = McpSource("mcp+http://me:pw@h:1/mcp?tool=t")
    assert "pw" not in json.dumps(source.describe())


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            b'{"jsonrpc":"2.0","id":null,"error":{"code":-1,"message":"Bad thing"}}', "Bad thing", id="rpc"
        ),
        pytest.param(b'{"error":"invalid_token","error_description":"expired"}', "expired", id="oauth"),
        pytest.param(b"plain\n  words", "plain words", id="text"),
        pytest.param(b"", "(no message)", id="empty"),
    ],
)
def test_server_message(body: bytes, expected: str) -> None:
    assert server_message(body) == expected


@pytest.mark.parametrize(
    ("uri", "error"),
    [
        pytest.param("mcp+stdio:?tool=t", "has no command", id="no-command"),
        pytest.param("mcp+stdio:server", "needs a tool name", id="no-tool"),
        pytest.param("mcp+stdio:server?tool=t&arg=x", "unknown parameter 'arg'", id="unknown-parameter"),
        pytest.param("mcp+stdio:server?tool=t&env=1X", "is not a variable name", id="bad-env-name"),
        pytest.param(
            "mcp+stdio:server?tool=t&arguments=%5B%5D", "must be a JSON object", id="arguments-list"
        ),
    ],
)
def test_bad_stdio_uris(uri: str, error: str) -> None:
    with pytest.raises(SourceError, match=error):
        parse_stdio_uri(uri)


def test_stdio_uri_parts() -> None:
    target = parse_stdio_uri(
        "mcp+stdio:///usr/bin/my%20server?args=--port&args=a%26b&tool=t&arguments=%7B%22x%22%3A1%7D"
        "&cwd=/srv&env=TOKEN&env=MODE=fast"
    )
    assert target.command == "/usr/bin/my server"
    assert target.args == ("--port", "a&b")
    assert (target.tool, target.arguments, target.cwd) == ("t", {"x": 1}, "/srv")
    assert target.display == "/usr/bin/my server --port a&b"
    assert target.environment({"TOKEN": "s3cret", "OTHER": "x"}) == {"TOKEN": "s3cret", "MODE": "fast"}
    with pytest.raises(SourceError, match="env=TOKEN names a variable that is not set"):
        target.environment({})
    assert parse_stdio_uri("mcp+stdio:npx", require_tool=False).tool == ""
