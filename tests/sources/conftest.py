"""Fixtures of the source tests: the official MCP SDK server (tests/sources/mcp_server.py) as a subprocess."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

__all__ = ["ServerProcess", "mcp_server"]

SERVER_SCRIPT = Path(__file__).with_name("mcp_server.py")


class ServerProcess:
    """One SDK server subprocess; stopped by its own pid."""

    def __init__(self, flags: tuple[str, ...]) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER_SCRIPT), *flags],
            stdout=subprocess.PIPE,
            stderr=self.log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.port = self._wait_ready(timeout=20.0)

    def _wait_ready(self, timeout: float) -> int:
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                self.stop()
                raise RuntimeError(f"MCP test server not ready in {timeout}s: {self.stderr()}")
        line = self.proc.stdout.readline().decode()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"MCP test server failed to start: {line!r} {self.stderr()}")
        return int(line.split()[1])

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-2000:]

    def uri(self, tool: str, arguments: dict[str, Any] | None = None) -> str:
        query = f"tool={tool}"
        if arguments is not None:
            query += "&arguments=" + quote(json.dumps(arguments))
        return f"mcp+http://127.0.0.1:{self.port}/mcp?{query}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, 9)
                self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self.log.close()


@pytest.fixture(scope="module")
def mcp_server() -> Iterator[Callable[..., ServerProcess]]:
    """Start a server per distinct flag set, once per module; stop them all at the end."""
    servers: dict[tuple[str, ...], ServerProcess] = {}

    def get(*flags: str) -> ServerProcess:
        if flags not in servers:
            servers[flags] = ServerProcess(flags)
        return servers[flags]

    yield get
    for server in servers.values():
        server.stop()
