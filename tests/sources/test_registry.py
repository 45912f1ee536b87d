"""URI resolution, configuration from the environment, and the retry policy."""

from __future__ import annotations

import time
from email.utils import formatdate
from pathlib import Path

import pytest
import tenacity

from streamrt.errors import SourceError, UsageError
from streamrt.sources import auth_headers, open_source, relative_to, resolve_uri, source_effects
from streamrt.sources.jsonl import JsonlSource, StdinSource
from streamrt.sources.mock import MockSource
from streamrt.sources.retry import RetryAfter, RetryPolicy, parse_retry_after, root_cause, wait_note
from streamrt.sources.sse import SseSource
from streamrt.sources.ws import WebSocketSource
from streamrt.values import Keyword


@pytest.fixture
def jsonl_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text('{"a": 1}\n')
    return path


def test_uris_pick_their_source(jsonl_file: Path) -> None:
    assert type(open_source(str(jsonl_file), env={})) is JsonlSource
    assert type(open_source(f"jsonl:{jsonl_file}", env={})) is JsonlSource
    assert type(open_source("-", env={})) is StdinSource
    assert type(open_source("mock:ticks?count=3", env={})) is MockSource
    assert type(open_source("http://127.0.0.1:1/events", env={})) is SseSource
    assert type(open_source("https://example.invalid/events", env={})) is SseSource
    assert type(open_source("ws://127.0.0.1:1/feed", env={})) is WebSocketSource


def test_mcp_uris_go_to_the_mcp_source() -> None:
    source = open_source("mcp+http://127.0.0.1:1/mcp?tool=echo&arguments={}", env={})
    assert type(source).__name__ == "McpSource"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        pytest.param("gopher://x/y", "unknown source scheme 'gopher'", id="unknown-scheme"),
        pytest.param("/no/such/file.jsonl", "no such file", id="missing-file"),
        pytest.param("jsonl:/no/such/file", "no such file", id="missing-jsonl"),
        pytest.param("data/file.csv", "must end in .jsonl", id="not-jsonl"),
        pytest.param("weather.monitor.v1", "STREAMRT_MCP_STREAM_ENDPOINT", id="bare-name-no-base"),
        pytest.param("", "empty source URI", id="empty"),
    ],
)
def test_bad_uris_are_clear_source_errors(uri: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        open_source(uri, env={})


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            {"STREAMRT_MCP_STREAM_ENDPOINT": "http://h:8/streams/"},
            "http://h:8/streams/weather.monitor.v1",
            id="http-base",
        ),
        pytest.param(
            {"CCOS_MCP_STREAM_ENDPOINT": "ws://h:8/feeds"},
            "ws://h:8/feeds/weather.monitor.v1",
            id="ccos-fallback",
        ),
        pytest.param(
            {"STREAMRT_MCP_STREAM_ENDPOINT": "http://a/s", "CCOS_MCP_STREAM_ENDPOINT": "http://b/s"},
            "http://a/s/weather.monitor.v1",
            id="streamrt-wins",
        ),
        pytest.param(
            {"STREAMRT_MCP_STREAM_ENDPOINT": "mcp+http://h:8/mcp?arguments=%7B%7D"},
            "mcp+http://h:8/mcp?arguments=%7B%7D&tool=weather.monitor.v1",
            id="mcp-base-names-the-tool",
        ),
    ],
)
def test_bare_names_resolve_against_the_base_url(env: dict[str, str], expected: str) -> None:
    assert resolve_uri("weather.monitor.v1", env) == expected


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            {"CCOS_MCP_LOCAL_SSE_URL": "http://127.0.0.1:2025/sse"}, "http://127.0.0.1:2025/sse/w", id="local"
        ),
        pytest.param(
            {"CCOS_MCP_CLOUDFLARE_DOCS_SSE_URL": "https://docs.example/sse"},
            "https://docs.example/sse/w",
            id="docs",
        ),
        pytest.param(
            {"CCOS_MCP_CLOUDFLARE_DOCS_SSE_URL": "http://b/sse", "CCOS_MCP_LOCAL_SSE_URL": "http://a/sse"},
            "http://a/sse/w",
            id="local-first",
        ),
        pytest.param(
            {"CCOS_MCP_LOCAL_SSE_URL": "http://a/sse", "CCOS_MCP_STREAM_ENDPOINT": "http://e/s"},
            "http://e/s/w",
            id="endpoint-first",
        ),
    ],
)
def test_the_older_systems_sse_url_variables_are_base_urls(env: dict[str, str], expected: str) -> None:
    assert resolve_uri("w", env) == expected


def test_the_older_auth_header_variable_takes_a_bare_value_as_the_authorization() -> None:
    assert auth_headers({"CCOS_MCP_STREAM_AUTH_HEADER": "Bearer abc123"}) == {
        "Authorization": "Bearer abc123"
    }
    assert auth_headers({"CCOS_MCP_STREAM_AUTH_HEADER": "X-Api-Key: k"}) == {"X-Api-Key": "k"}
    with pytest.raises(SourceError, match="one header line"):
        auth_headers({"CCOS_MCP_STREAM_AUTH_HEADER": "two\nlines"})


def test_bare_name_opens_the_resolved_source() -> None:
    source = open_source("ticks", env={"STREAMRT_MCP_STREAM_ENDPOINT": "http://127.0.0.1:1/s"})
    assert isinstance(source, SseSource) and source.uri == "http://127.0.0.1:1/s/ticks"


def test_auth_headers_precedence() -> None:
    env = {
        "STREAMRT_MCP_STREAM_BEARER_TOKEN": "env-token",
        "CCOS_MCP_STREAM_BEARER_TOKEN": "old-token",
        "CCOS_MCP_STREAM_AUTH_HEADER": "X-Old: 1",
    }
    assert auth_headers(env) == {"Authorization": "Bearer env-token"}
    assert auth_headers({k: v for k, v in env.items() if k.startswith("CCOS")}) == {
        "Authorization": "Bearer old-token",
        "X-Old": "1",
    }
    per_stream = {Keyword("auth-header"): "X-Api-Key: k1", Keyword("headers"): {Keyword("X-Trace"): "t"}}
    assert auth_headers(env, per_stream) == {"X-Trace": "t", "X-Api-Key": "k1"}
    assert auth_headers(env, {"bearer_token": "stream-token"}) == {"Authorization": "Bearer stream-token"}
    assert auth_headers({"STREAMRT_MCP_STREAM_AUTH_HEADER": "Authorization: Basic abc"}) == {
        "Authorization": "Basic abc"
    }
    assert auth_headers({}) == {}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param(
            {"STREAMRT_MCP_STREAM_AUTH_HEADER": "no-colon-hunter2"}, "STREAMRT_MCP_STREAM_AUTH_HEADER"
        ),
        pytest.param(
            {
                "STREAMRT_MCP_STREAM_AUTH_HEADER": "Authorization: x-hunter2",
                "STREAMRT_MCP_STREAM_BEARER_TOKEN": "hunter2",
            },
            "keep one",
        ),
        pytest.param({"STREAMRT_MCP_STREAM_BEARER_TOKEN": "two\nline-hunter2"}, "one-line"),
    ],
)
def test_bad_credentials_config_never_shows_the_secret(env: dict[str, str], message: str) -> None:
    with pytest.raises(SourceError, match=message) as info:
        auth_headers(env)
    assert "hunter2" not in str(info.value)


def test_stream_options_reach_the_network_source() -> None:
    options = {
        Keyword("retry"): {Keyword("max-attempts"): 2, Keyword("initial"): 0.5, Keyword("maximum"): 1},
        Keyword("read-timeout"): 5,
    }
    source = open_source("http://127.0.0.1:1/e", env={}, options=options)
    assert isinstance(source, SseSource)
    assert source.retry == RetryPolicy(max_attempts=2, initial=0.5, maximum=1.0)
    assert source.timeout.read == 5.0 and source.timeout.connect == 10.0
    with pytest.raises(SourceError, match="unknown option 'tries'"):
        open_source("http://127.0.0.1:1/e", env={}, options={"retry": {"tries": 3}})


def test_retry_policy_validates() -> None:
    with pytest.raises(UsageError, match="max_attempts"):
        RetryPolicy(max_attempts=-1)
    with pytest.raises(UsageError, match="below initial"):
        RetryPolicy(initial=5, maximum=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3.0), ("0", 0.0), (" 1.5 ", 1.5), ("-2", None), ("soon", None), ("", None), (None, None)],
)
def test_parse_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    later = parse_retry_after(formatdate(time.time() + 30, usegmt=True))
    assert later is not None and 28 <= later <= 31
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


async def test_retrying_backs_off_honours_retry_after_and_gives_up() -> None:
    policy = RetryPolicy(max_attempts=4, initial=0.01, maximum=10.0)
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    attempts = 0
    with pytest.raises(tenacity.RetryError) as info:
        async for attempt in policy.retrying(retry_on=(ConnectionError,), sleep=fake_sleep):
            with attempt:
                attempts += 1
                if attempts == 2:
                    raise RetryAfter(7.5, ConnectionResetError("busy"))
                raise ConnectionRefusedError("refused")
    assert attempts == 4
    assert len(sleeps) == 3 and sleeps[1] == 7.5
    assert 0 <= sleeps[0] <= 0.01 and 0 <= sleeps[2] <= 0.04
    assert isinstance(root_cause(info.value), ConnectionRefusedError)
    assert policy.explain(info.value) == "gave up after 4 attempts: ConnectionRefusedError: refused"


@pytest.mark.parametrize(
    ("policy", "elapsed", "expected"),
    [
        pytest.param(RetryPolicy(maximum=20.0), 0.0, 20.0, id="capped-at-maximum"),
        pytest.param(RetryPolicy(maximum=20.0, max_elapsed=120.0), 110.0, 10.0, id="capped-at-budget"),
        pytest.param(RetryPolicy(maximum=20.0, max_elapsed=120.0), 130.0, 0.0, id="budget-spent"),
        pytest.param(RetryPolicy(maximum=100_000.0, max_elapsed=0), 0.0, 86400.0, id="raised-maximum"),
    ],
)
def test_cap_bounds_a_server_requested_wait(policy: RetryPolicy, elapsed: float, expected: float) -> None:
    assert policy.cap(86400.0, elapsed) == expected
    assert policy.cap(1.5, 0.0) == 1.5


async def test_retry_after_of_a_day_is_capped_at_the_policy_maximum() -> None:
    policy = RetryPolicy(max_attempts=3, max_elapsed=0, initial=0.01, maximum=2.0)
    sleeps: list[float] = []
    raised: list[RetryAfter] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    attempts = 0
    with pytest.raises(tenacity.RetryError):
        async for attempt in policy.retrying(retry_on=(ConnectionError,), sleep=fake_sleep):
            with attempt:
                attempts += 1
                raised.append(RetryAfter(86400, ConnectionResetError("busy")))
                raise raised[-1]
    assert sleeps == [2.0, 2.0]
    assert raised[0].capped_to == 2.0
    assert wait_note(raised[0]) == "; the server asked to wait 86400s, waiting 2s (retry policy cap)"
    assert wait_note(ConnectionResetError()) == ""


async def test_retrying_does_not_retry_other_errors() -> None:
    attempts = 0
    with pytest.raises(KeyError):
        async for attempt in RetryPolicy().retrying(retry_on=(ConnectionError,)):
            with attempt:
                attempts += 1
                raise KeyError("bug")
    assert attempts == 1


async def test_max_elapsed_stops_retrying() -> None:
    policy = RetryPolicy(max_attempts=0, max_elapsed=0.05, initial=0.02, maximum=0.02)
    attempts = 0
    started = time.monotonic()
    with pytest.raises(tenacity.RetryError):
        async for attempt in policy.retrying(retry_on=(OSError,)):
            with attempt:
                attempts += 1
                raise OSError("down")
    assert time.monotonic() - started >= 0.05
    assert 2 <= attempts < 100


@pytest.mark.parametrize(
    "name", ["2024-01-01T10:00:00.jsonl", "data/2024-01-01T10:00:00.jsonl", "./x:y.jsonl"], ids=str
)
def test_one_parser_reads_a_path_with_colons_as_a_path(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"a": 1}\n')
    source = open_source(str(path), env={})
    assert isinstance(source, JsonlSource) and source.path == str(path)
    relative = relative_to(name, tmp_path)
    assert relative == f"jsonl:{tmp_path / name}"
    assert isinstance(open_source(relative, env={}), JsonlSource)
    assert source_effects(name) == source_effects(relative) == {"fs"}
