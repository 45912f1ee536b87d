"""An asyncio server on loopback for tests: the part every hand-written test peer shares.

``async with`` starts it on a free loopback port (or the ``port`` given, to come back where a stopped server was)
and sets ``url``; each connection runs :meth:`LoopbackServer.serve` in a task of its own, and on exit every open
connection is aborted, every task cancelled and waited for, so no server or socket outlives the test.
"""

from __future__ import annotations

import asyncio
from typing import Self

__all__ = ["LoopbackServer"]


class LoopbackServer:
    """Serves each connection with :meth:`serve` (a subclass writes the bytes); closes them all on exit."""

    def __init__(self, *, port: int = 0, path: str = "/events") -> None:
        self.port = port
        self.path = path
        self.url = ""
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer one connection; an exception the subclass does not handle ends only that connection."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}{self.path}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close_clients()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        assert self._server is not None
        await self._server.wait_closed()

    async def close_clients(self) -> None:
        """Stop serving: abort every open connection and refuse new ones (as if the server process went away)."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            await self.serve(reader, writer)
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            if not writer.transport.is_closing():
                writer.close()
