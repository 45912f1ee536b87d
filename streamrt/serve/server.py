"""Serving the app with uvicorn: :class:`ApiServer` binds, opens the streams, serves, and stops in order.

The streams are opened before uvicorn starts (so a bad script or store is a clear error, not a failed lifespan) and
closed after it stops. On shutdown the event streams are told first, so open subscriptions end at once (their
clients reconnect with Last-Event-ID, to this server's successor) instead of holding the shutdown up; then uvicorn
waits for the other requests, and last the provider writes its final snapshots and the log is flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Iterator
from typing import Any, Final

import uvicorn
from starlette.applications import Starlette

from streamrt.serve.engine import StreamService

__all__ = ["ApiServer"]

_GRACE: Final = 5
_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


class _Uvicorn(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, service: StreamService, *, handle_signals: bool) -> None:
        super().__init__(config)
        self._service = service
        self._handle_signals = handle_signals
        self.signals: list[int] = []

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """SIGINT / SIGTERM stop the server gracefully and are remembered (uvicorn's own re-raises them after)."""
        if not self._handle_signals or threading.current_thread() is not threading.main_thread():
            yield
            return
        loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            yield
        finally:
            for sig in _SIGNALS:
                loop.remove_signal_handler(sig)

    def _on_signal(self, sig: int) -> None:
        self.signals.append(sig)
        self.should_exit = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._service.begin_close()
        await super().shutdown(sockets=sockets)


class ApiServer:
    """One app on one address; ``port=0`` picks a free port (see :attr:`port` once started)."""

    def __init__(
        self,
        app: Starlette,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_level: str = "warning",
        handle_signals: bool = False,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.log_level = log_level
        self.handle_signals = handle_signals
        """Stop gracefully on SIGINT / SIGTERM (a command's server; not one a program or a test embeds)."""
        self.service: StreamService = app.state.service
        self._server: _Uvicorn | None = None
        self._task: asyncio.Task[Any] | None = None
        self.signal: int | None = None
        """The signal that stopped the server, if one did."""

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        sock.listen(2048)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        return sock

    async def start(self) -> None:
        """Open the streams, bind and serve in a task; returns once requests are answered."""
        await self.service.open()
        try:
            sock = self._bind()
        except BaseException:
            await self.service.close()
            raise
        config = uvicorn.Config(
            self.app,
            lifespan="on",
            log_level=self.log_level,
            access_log=False,
            timeout_graceful_shutdown=_GRACE,
            ws="websockets-sansio",
        )
        self._server = server = _Uvicorn(config, self.service, handle_signals=self.handle_signals)
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name="streamrt-serve")
        while not server.started:
            if self._task.done():
                await self.stop()
                raise RuntimeError("the server did not start")
            await asyncio.sleep(0.01)

    async def wait(self) -> None:
        """Until the server stops (a signal, or :meth:`stop`)."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)

    async def stop(self) -> None:
        """Stop serving, then close the streams (final snapshots, log flushed)."""
        try:
            if self._server is not None and self._task is not None:
                self._server.should_exit = True
                with contextlib.suppress(asyncio.CancelledError, SystemExit):
                    await self._task
        finally:
            if self._server is not None and self._server.signals:
                self.signal = self._server.signals[0]
            self._server = self._task = None
            await self.service.close()
