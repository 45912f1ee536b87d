"""The MCP face's HTTP server for tests: the API with /mcp mounted, on real uvicorn, behind a proxy that can cut."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from streamrt.mcpserve.events import LogEventStore
from streamrt.mcpserve.http import create_mcp_app
from streamrt.serve import ApiServer, ServeConfig, hash_token

__all__ = ["SCRIPT", "TOKENS", "CuttingProxy", "SlowEventStore", "served"]

SCRIPT = Path(__file__).with_name("totals.rtfs")
TOKENS = {hash_token("alice-secret"): "alice", hash_token("bob-secret"): "bob"}


class SlowEventStore(LogEventStore):
    """Every write takes 10 ms, like a store across a network: the replay must still lose nothing."""

    async def store_event(self, stream_id: Any, message: Any) -> Any:
        await asyncio.sleep(0.01)
        return await super().store_event(stream_id, message)


class CuttingProxy:
    """A TCP proxy on loopback whose open connections can be cut at once, as a network failure would."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.writers: set[asyncio.StreamWriter] = set()
        self.resumes = 0
        """Requests that carried Last-Event-ID through the proxy."""
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._connected, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    if src is reader:
                        self.resumes += data.lower().count(b"\r\nlast-event-id:")
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    def cut(self) -> None:
        for writer in list(self.writers):
            writer.transport.abort()

    async def stop(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@asynccontextmanager
async def served(
    tmp_path: Path, *, slow: bool = False, store: str | None = None, **changes: Any
) -> AsyncIterator[tuple[ApiServer, CuttingProxy]]:
    """The server on ``store`` (default a SQLite file in ``tmp_path``), with a proxy in front of it; ``changes``:
    other settings of its config."""
    url = store or str(tmp_path / "serve.db")
    config = ServeConfig(scripts=[str(SCRIPT)], store=url, tokens=TOKENS, retry_ms=50, **changes)
    app = create_mcp_app(config, event_store=SlowEventStore if slow else LogEventStore)
    server = ApiServer(app, "127.0.0.1", 0)
    await server.start()
    proxy = CuttingProxy(server.port)
    await proxy.start()
    try:
        yield server, proxy
    finally:
        await proxy.stop()
        await server.stop()
