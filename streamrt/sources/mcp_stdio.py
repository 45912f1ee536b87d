"""The MCP stdio source: launch an MCP server as a child process, call one tool, its messages as chunks.

Theory of operation
-------------------
The official MCP SDK's stdio client (``mcp.client.stdio.stdio_client``) launches the command in a session of its
own and bridges its stdin and stdout to two message streams; on exit it closes stdin, waits, then kills the whole
process tree, shielded from cancellation, so the child is never left behind. On those streams this module speaks
the same JSON-RPC as the HTTP source (:mod:`streamrt.sources.mcp_protocol`)::

    initialize -> notifications/initialized -> tools/call (_meta.progressToken = request id)
        <- notifications/progress, notifications/message, other notifications, requests (ping), ..., the reply

and :func:`~streamrt.sources.mcp_protocol.read_message` turns each message into the same chunk the HTTP source
makes of it (``:kind`` ``progress``, ``log``, ``notification``, ``result``, ``error``).

The SDK's client is anyio code whose task group must be left by the task that entered it, and a source is an async
generator the provider pulls at its own pace, so the conversation runs in a task of its own (:class:`StdioPeer`).
It hands each chunk over through a queue of one: while the stream does not pull (it is paused, or its queue is
full) the task waits, it stops reading the SDK's stream, the SDK's reader stops reading the pipe, and the server
blocks once the pipe's buffer is full. Closing the source cancels the task; the SDK then stops the child.

The child's stderr goes to a pipe of ours, read line by line into the ``streamrt.source.stderr`` logger (INFO);
the last lines are kept for the error message when the server ends before the result.

A call over stdio cannot be resumed: the process is gone with the stream. The continuation is
``{"request_id", "done"}``: a resumed source that had its result yields nothing; otherwise it launches the command
again and calls the tool afresh (under a new ``:request-id``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import IO, Any, Final, TypeVar

from streamrt.errors import SourceError, StreamrtError
from streamrt.sources.base import Chunk, ChunkFault, Continuation, Item, Source
from streamrt.sources.mcp_protocol import (
    Incoming,
    StdioTarget,
    call_meta,
    initialize_request,
    initialized_notification,
    initialized_version,
    parse_stdio_uri,
    read_message,
    server_request_reply,
    tool_call_request,
    tool_summary,
    tools_list_request,
    tools_page,
)
from streamrt.values import Keyword

__all__ = ["McpStdioSource", "StdioPeer"]

stderr_log = logging.getLogger("streamrt.source.stderr")

_T = TypeVar("_T")
_STDERR_TAIL: Final = 5
_STDERR_DRAIN: Final = 1.0
"""Seconds to wait for the end of the child's stderr once it exited (a grandchild may still hold the pipe)."""


def _only(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception in nested groups of one, or the group itself."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


class ServerEnded(SourceError):
    """The server process closed its stdout (it exited) while we waited for a message."""


class StdioPeer:
    """One MCP server process over stdio, for one conversation (:meth:`run`)."""

    def __init__(self, target: StdioTarget, environ: Mapping[str, str], *, next_id: int = 1) -> None:
        self.target = target
        self.env = target.environment(environ)
        self.where = f"MCP server `{target.display}`"
        self.protocol_version: str | None = None
        self.stderr_tail: deque[str] = deque(maxlen=_STDERR_TAIL)
        self._next_id = next_id
        self._read: Any = None
        self._write: Any = None

    async def run(self, body: Callable[[StdioPeer], Awaitable[_T]]) -> _T:
        """Launch the server, run ``body`` on it, stop the server (also when ``body`` fails or is cancelled)."""
        # the SDK, pydantic and anyio load only when a stdio source runs
        from mcp.client.stdio import StdioServerParameters, stdio_client

        params = StdioServerParameters(
            command=self.target.command, args=list(self.target.args), env=self.env, cwd=self.target.cwd
        )
        read_fd, write_fd = os.pipe()
        errlog = os.fdopen(write_fd, "w")
        stderr = asyncio.get_running_loop().create_task(self._log_stderr(read_fd))
        try:
            try:
                async with stdio_client(params, errlog=errlog) as (read, write):
                    errlog.close()  # the child has its own copy: the pipe ends when the child's side closes
                    self._read, self._write = read, write
                    return await body(self)
            except OSError as err:
                raise SourceError(f"{self.where}: cannot start it: {err}") from None
            except BaseExceptionGroup as group:  # the SDK's task group wraps what ``body`` raised
                leaf = _only(group)
                if isinstance(leaf, Exception):
                    raise leaf from None
                raise
        finally:
            errlog.close()
            self._read = self._write = None
            done, _ = await asyncio.wait({stderr}, timeout=_STDERR_DRAIN)
            if not done:
                stderr.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await stderr

    async def _log_stderr(self, fd: int) -> None:
        """Each line the child writes on stderr, into the log and the tail kept for error messages."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        pipe: IO[bytes] = os.fdopen(fd, "rb", buffering=0)
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
        partial = b""
        try:
            while True:
                data = await reader.read(65536)
                lines = (partial + data).split(b"\n")
                partial = lines.pop() if data else b""
                for raw in lines:
                    line = raw.decode("utf-8", "replace").rstrip()
                    if line:
                        self.stderr_tail.append(line)
                        stderr_log.info("%s: %s", self.target.display, line)
                if not data:
                    return
        finally:
            transport.close()

    # --- messages ----------------------------------------------------------------------------------------------

    def new_id(self) -> int:
        request_id = self._next_id
        self._next_id += 1
        return request_id

    async def send(self, message: Mapping[str, Any]) -> None:
        """Write one JSON-RPC message to the server's stdin."""
        import anyio
        import mcp_types
        from mcp.shared.message import SessionMessage

        try:
            await self._write.send(SessionMessage(mcp_types.jsonrpc_message_adapter.validate_python(message)))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            raise self.ended() from None

    async def receive(self) -> Any:
        """The next message from the server as JSON values; a line that is no message comes back as an
        :class:`Incoming` fault."""
        import anyio

        try:
            received = await self._read.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            raise self.ended() from None
        if isinstance(received, Exception):
            reason = str(received).splitlines()[0] if str(received) else type(received).__name__
            return Incoming(
                "fault", f"the server wrote a line that is not a JSON-RPC message: {reason[:200]}"
            )
        return received.message.model_dump(by_alias=True, exclude_unset=True, mode="json")

    async def reply_to(self, request_id: int) -> Any:
        """Wait for the reply to our request ``request_id``, answering the server's requests meanwhile."""
        while True:
            message = await self.receive()
            if isinstance(message, dict) and message.get("id") == request_id and "method" not in message:
                return message
            if isinstance(message, dict) and "method" in message and "id" in message:
                await self.answer(message)

    async def answer(self, request: Mapping[str, Any]) -> None:
        """Reply to a request from the server: ``ping`` succeeds, anything else is "method not found"."""
        await self.send(server_request_reply(request))

    async def initialize(self) -> str:
        """The handshake; returns the protocol version the server chose."""
        request_id = self.new_id()
        await self.send(initialize_request(request_id))
        self.protocol_version = initialized_version(self.where, await self.reply_to(request_id))
        await self.send(initialized_notification())
        return self.protocol_version

    async def list_tools(self) -> list[dict[str, Any]]:
        """Every page of ``tools/list``, each tool as :func:`tool_summary` shows it."""
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            request_id = self.new_id()
            await self.send(tools_list_request(request_id, cursor))
            result = tools_page(self.where, await self.reply_to(request_id))
            tools.extend(tool_summary(tool) for tool in result["tools"])
            cursor = result.get("nextCursor")
            if not isinstance(cursor, str) or not cursor:
                return tools

    def ended(self) -> ServerEnded:
        """The error for a server that went away, with the last lines it wrote on stderr."""
        tail = " | ".join(self.stderr_tail)
        return ServerEnded(
            f"{self.where}: the server process ended before the result"
            + (f" (its last stderr lines: {tail})" if tail else " (it wrote nothing on stderr)")
        )


class McpStdioSource(Source):
    """Launches an MCP server, calls one tool over stdio, and yields its progress, logs and result as chunks."""

    kind = "mcp"
    finite = True

    def __init__(
        self,
        uri: str,
        continuation: Continuation | None = None,
        *,
        env: Mapping[str, str] | None = None,
        require_tool: bool = True,
    ) -> None:
        super().__init__(uri, continuation)
        self.target: StdioTarget = parse_stdio_uri(uri, require_tool=require_tool)
        self._environ: Mapping[str, str] = os.environ if env is None else env
        self._request_id: int | None = None
        self._done = False
        self._next_id = 1
        self._peer: StdioPeer | None = None
        self._task: asyncio.Task[None] | None = None
        self._scope: Any = None  # the task's anyio cancel scope, once it runs
        self._handoff: asyncio.Queue[tuple[Item, bool] | BaseException] = asyncio.Queue(maxsize=1)
        self._restore(continuation)

    def _restore(self, cont: Continuation | None) -> None:
        if not cont:
            return
        request_id = cont.get("request_id")
        if not isinstance(request_id, int | None) or isinstance(request_id, bool):
            raise SourceError(f"{self.where}: bad continuation {cont!r} (expected request_id, done)")
        self._done = bool(cont.get("done"))
        self._request_id = request_id
        if request_id is not None:
            self._next_id = request_id + 1

    @property
    def where(self) -> str:
        return f"MCP server `{self.target.display}`"

    def continuation(self) -> Continuation:
        """Where this source would resume from now (see the module docs: a stdio call restarts)."""
        return {"request_id": self._request_id, "done": self._done}

    def describe(self) -> Mapping[str, Any]:
        """Inspect: the command, tool, call and health (never the values of ``env``)."""
        return {
            **super().describe(),
            "uri": f"mcp+stdio:{self.target.command}",
            "transport": "stdio",
            "command": self.target.display,
            "tool": self.target.tool,
            "request_id": self._request_id,
            "protocol_version": self._peer.protocol_version if self._peer is not None else None,
            "done": self._done,
        }

    # --- lifecycle ---------------------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop the conversation and with it the server process (waits until the SDK stopped it); idempotent."""
        task, self._task = self._task, None
        if task is None:
            return
        if self._scope is not None:
            self._scope.cancel()  # anyio's way: the SDK's shielded shutdown of the child still runs to its end
        elif not task.done():
            task.cancel()  # it has not started: nothing to shut down
        cancelled = False
        while not task.done():
            try:
                await asyncio.wait({task})
            except asyncio.CancelledError:
                # the provider cancels a finished stream's reader: the child must not outlive the stream, and the
                # SDK's shutdown is bounded (a few seconds at most), so it is waited for all the same
                cancelled = True
        if not task.cancelled():
            task.exception()  # retrieved: it was handed over, or the stream no longer wants it
        if cancelled:
            raise asyncio.CancelledError

    async def list_tools(self) -> list[dict[str, Any]]:
        """Launch the server, list its tools, stop it."""

        async def body(peer: StdioPeer) -> list[dict[str, Any]]:
            await peer.initialize()
            return await peer.list_tools()

        return await StdioPeer(self.target, self._environ).run(body)

    async def items(self) -> AsyncGenerator[Item, None]:
        """Launch the server, call the tool, and yield chunks up to and including the reply."""
        if self._done:
            self.health.set("ended")
            return
        if self._task is None:
            self._peer = StdioPeer(self.target, self._environ, next_id=self._next_id)
            self._task = asyncio.get_running_loop().create_task(
                self._converse(self._peer), name=f"streamrt-mcp-stdio-{self.target.command}"
            )
        try:
            while True:
                got = await self._handoff.get()
                if isinstance(got, BaseException):
                    raise got
                item, final = got
                yield item
                if final:
                    self.health.set("ended")
                    return
        except StreamrtError as err:
            self.health.set("failed", str(err))
            raise

    async def _converse(self, peer: StdioPeer) -> None:
        """The task: run the call on the peer, handing over each chunk, or the failure."""
        import anyio

        try:
            with anyio.CancelScope() as self._scope:
                await peer.run(self._call)
        except StreamrtError as err:
            await self._handoff.put(err)
        except Exception as err:  # an SDK or OS failure: the stream fails with it, the runtime goes on
            await self._handoff.put(SourceError(f"{self.where}: {type(err).__name__}: {err}"))

    async def _call(self, peer: StdioPeer) -> None:
        await peer.initialize()
        self._request_id = peer.new_id()
        await peer.send(tool_call_request(self._request_id, self.target.tool, self.target.arguments))
        self.health.set("connected")
        while True:
            message = await peer.receive()
            incoming = message if isinstance(message, Incoming) else read_message(message, self._request_id)
            if incoming is None:
                continue
            if incoming.kind == "request":
                await peer.answer(incoming.value)
                continue
            if incoming.final:
                self._done = True
            item: Item = (
                ChunkFault(f"{self.where}: {incoming.value}", self._meta("fault"), self.continuation())
                if incoming.kind == "fault"
                else Chunk(incoming.value, self._meta(incoming.kind), self.continuation())
            )
            await self._handoff.put((item, incoming.final))
            if incoming.final:
                return

    def _meta(self, kind: str) -> dict[Keyword, Any]:
        return call_meta(kind, self.target.tool, self._request_id)
