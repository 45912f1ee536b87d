"""The MCP session across a provider shutdown: kept when the stream is to be resumed, ended when it is over.

A provider that closes (Ctrl-C, SIGTERM, a host closing with snapshots) must not DELETE the session, or the server
ends the tool call and a resume cannot pick it up; a stream that completed, was stopped or cancelled ends it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import aclosing
from typing import Any

import pytest

from streamrt.runtime.contract import result
from streamrt.runtime.provider import Provider
from streamrt.sources import open_source
from streamrt.sources.base import Chunk
from streamrt.sources.mcp import McpSource
from streamrt.sources.retry import RetryPolicy
from streamrt.values import Keyword
from tests.sources.conftest import ServerProcess
from tests.sources.provider_helpers import until

pytest.importorskip("mcp", reason="the MCP SDK server needs the mcp package (test extra)")
pytestmark = pytest.mark.timeout(60)

K = Keyword
FAST = RetryPolicy(max_attempts=5, max_elapsed=10.0, initial=0.01, maximum=0.1)


class Steps:
    """Records progress steps; ends the stream with ``action`` after ``stop_after`` of them, if given."""

    def __init__(self, stop_after: int | None = None, action: str = "complete") -> None:
        self.steps: list[int] = []
        self.stop_after = stop_after
        self.action = action

    def __call__(self, state: Any, chunk: Any, meta: Any) -> Any:
        if meta[K("kind")] == "progress":
            self.steps.append(chunk[K("progress")])
            if self.stop_after is not None and len(self.steps) >= self.stop_after:
                return result(state, action=self.action)
        return state


async def rest_of_call(uri: str, continuation: dict[str, Any]) -> tuple[list[Chunk], McpSource]:
    """Read what is left of the call from a continuation, as ``streamrt resume`` would."""
    source = McpSource(uri, continuation, retry=FAST)
    async with source, aclosing(source.items()) as items:
        chunks = [item async for item in items if isinstance(item, Chunk)]
    return chunks, source


def progress(chunks: list[Chunk]) -> list[int]:
    return [c.value[K("progress")] for c in chunks if c.meta[K("kind")] == "progress"]


async def test_provider_close_keeps_the_session_so_the_call_resumes(
    mcp_server: Callable[..., ServerProcess],
) -> None:
    uri = mcp_server().uri("count", {"steps": 10, "delay": 0.03})
    steps = Steps()
    async with Provider() as p:
        sid = p.start(steps, source=open_source(uri, options={"retry": {"initial": 0.01}}))
        await until(lambda: len(steps.steps) >= 3, what="three progress steps")
        await p.close()  # the shutdown of Ctrl-C / SIGTERM: snapshots are taken, streams stay resumable
        record = p.record(sid)
        cont = record.continuation
        assert record.status.value == "active"
        assert p.inspect(sid)["source"]["health"]["state"] == "closed"
    assert cont is not None and cont["session_id"] and not cont["done"]

    rest, source = await rest_of_call(uri, cont)
    assert steps.steps + progress(rest) == list(range(1, 11)), (
        "the same call goes on: no step lost or repeated"
    )
    assert {c.meta[K("request-id")] for c in rest} == {cont["request_id"]}
    assert source.health.reconnects == 0


@pytest.mark.parametrize("action", ["complete", "stop", "cancel"])
async def test_a_stream_that_is_over_ends_the_session(
    mcp_server: Callable[..., ServerProcess], action: str
) -> None:
    uri = mcp_server().uri("count", {"steps": 10, "delay": 0.03})
    steps = Steps(stop_after=2, action=action)
    async with Provider() as p:
        source = open_source(uri, options={"retry": {"initial": 0.01}})
        assert isinstance(source, McpSource) and source.delete_on_close is None
        sid = p.start(steps, source=source)
        await asyncio.wait_for(p.wait(sid), timeout=10)
        record = p.record(sid)
        for _ in range(500):  # until the reader task has ended (and with it the session)
            if not record.activity()["source_reading"]:
                break
            await asyncio.sleep(0.01)
        cont = record.continuation
        assert source.closing_for_good and source.http.session_id is None, "DELETE was sent"
    assert cont is not None and cont["session_id"]

    rest, again = await rest_of_call(uri, cont)
    assert progress(rest) == list(range(1, 11)), "the server forgot the session: the tool starts over"
    assert again.health.last_error is not None and "no longer knows our session" in again.health.last_error


async def test_delete_on_close_option_forces_it(mcp_server: Callable[..., ServerProcess]) -> None:
    uri = mcp_server().uri("count", {"steps": 10, "delay": 0.03})
    steps = Steps()
    source = open_source(uri, options={K("delete-on-close"): True})
    assert isinstance(source, McpSource) and source.ends_session_on_close
    async with Provider() as p:
        sid = p.start(steps, source=source)
        await until(lambda: len(steps.steps) >= 2, what="two progress steps")
        await p.close()
        cont = p.record(sid).continuation
    assert cont is not None
    rest, _ = await rest_of_call(uri, cont)
    assert progress(rest) == list(range(1, 11))
    with pytest.raises(Exception, match="must be true or false"):
        open_source(uri, options={"delete-on-close": "yes"})
