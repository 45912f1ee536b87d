"""The network face: an HTTP/SSE API over a provider (``streamrt serve``), built on the runtime's public ports.

``create_app(ServeConfig(...))`` is the ASGI app (Starlette); :class:`ApiServer` serves it with uvicorn. Streams
are started, fed, steered and watched over HTTP; every event goes to a durable log first, so a client that
reconnects with ``Last-Event-ID`` gets what it missed. See docs/serving.md.
"""

from __future__ import annotations

from streamrt.serve.app import create_app
from streamrt.serve.auth import hash_token, load_tokens
from streamrt.serve.config import ClientLimits, ServeConfig
from streamrt.serve.engine import PushOutcome, StreamService
from streamrt.serve.eventlog import EventLog, LoggedEvent, SqlEventLog
from streamrt.serve.http import stream_json
from streamrt.serve.problems import Problem
from streamrt.serve.server import ApiServer

__all__ = [
    "ApiServer",
    "ClientLimits",
    "EventLog",
    "LoggedEvent",
    "Problem",
    "PushOutcome",
    "ServeConfig",
    "SqlEventLog",
    "StreamService",
    "create_app",
    "hash_token",
    "load_tokens",
    "stream_json",
]
