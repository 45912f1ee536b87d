"""The MCP face over Streamable HTTP, mounted at ``/mcp`` next to the HTTP API (``streamrt serve --mcp``).

:func:`mcp_face` gives the route and the lifespan that :func:`streamrt.serve.create_app` takes for a mounted face.
The SDK's session manager speaks the transport; around it, every request is authenticated as the API's are (the
same tokens, the same client ids, a 401 problem document otherwise), and an MCP session belongs to the client that
opened it: a request carrying another client's session id is answered as for an unknown session (404), so one client
can neither act in nor replay another's session. Tool calls act for the request's client, so a client sees the same
streams over MCP as over the API. Messages are stored in the server's event log (:class:`LogEventStore`) and a
client that lost its event stream resumes it with Last-Event-ID.

Sessions end: a client closes its own (``DELETE``), and the SDK closes one that has had no request in flight for
``ServeConfig.mcp_session_idle`` seconds. What this face keeps per session (its client, its messages in the event
log, its resource subscriptions) is released then: at once after a ``DELETE``, and for idle sessions by a sweep that
releases a session idle for longer than the SDK's timeout (so the SDK has closed it already). A session id this face
no longer knows is answered 404 here, never passed on, so releasing one early could only refuse, never let a
stranger in. A server with many short-lived MCP clients holds only the open sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

import msgspec
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http import EventStore
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.applications import Starlette
from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive, Scope, Send

from streamrt.mcpserve.events import SESSION_SCOPE, LogEventStore
from streamrt.mcpserve.server import Subscriptions, build_server
from streamrt.serve import Problem, ServeConfig, StreamService
from streamrt.serve.app import Lifespan
from streamrt.serve.auth import authenticate
from streamrt.serve.problems import problem_response

__all__ = ["CLIENT_KEY", "MCP_PATH", "create_mcp_app", "mcp_face"]

MCP_PATH: Final = "/mcp"
CLIENT_KEY: Final = "streamrt.client"
"""Where a request's client id is kept in its ASGI scope, for the tools."""
_SESSION_HEADER: Final = b"mcp-session-id"


def _client_of(ctx: ServerRequestContext[Any]) -> str:
    request = ctx.request
    client = request.scope.get(CLIENT_KEY) if request is not None else None
    if not isinstance(client, str):
        raise Problem("unauthorized", "the request carries no client")
    return client


class _Session(msgspec.Struct):
    """One open MCP session: whose it is, where its messages are logged, and whether a request of it is in flight."""

    client: str
    scope: str
    in_flight: int = 1
    idle_since: float = msgspec.field(default_factory=time.monotonic)


class _Endpoint:
    """The ASGI endpoint at ``/mcp``: authenticate, keep sessions to their clients, hand over to the SDK."""

    def __init__(
        self,
        service: StreamService,
        config: ServeConfig,
        manager: StreamableHTTPSessionManager,
        release: Callable[[str], Awaitable[None]],
    ) -> None:
        self.service = service
        self.config = config
        self.manager = manager
        self.sessions: dict[str, _Session] = {}
        """MCP session id -> the open session (its client, its scope in the event log)."""
        self._release_scope = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        conn = HTTPConnection(scope)
        try:
            client = authenticate(conn, self.config.tokens, no_auth=self.config.no_auth)
        except Problem as problem:
            await problem_response(problem)(scope, receive, send)
            return
        scope[CLIENT_KEY] = client
        session_id = conn.headers.get("mcp-session-id")
        if session_id is not None:
            await self._in_session(session_id, client, scope, receive, send)
            return
        # a request that opens a session: its tasks run in this context, where the event store reads the scope
        log_scope = f"{client}.{secrets.token_hex(8)}"
        SESSION_SCOPE.set(log_scope)
        opened: list[str] = []
        try:
            await self.manager.handle_request(
                scope, receive, self._noting_session(client, log_scope, send, opened)
            )
        finally:
            for sid in opened:
                self._done(sid)

    async def _in_session(
        self, session_id: str, client: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        session = self.sessions.get(session_id)
        if session is None or session.client != client:
            await problem_response(Problem("not-found", "Session not found"))(scope, receive, send)
            return
        session.in_flight += 1
        # what the SDK stores while answering this request (a priming event) is the session's, as its tasks' are
        SESSION_SCOPE.set(session.scope)
        status: list[int] = []

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.manager.handle_request(scope, receive, noting)
        finally:
            self._done(session_id)
        if scope["method"] == "DELETE" and status and status[0] < 300:
            await self.release(session_id)  # the client closed it: the SDK has let it go too

    def _done(self, session_id: str) -> None:
        session = self.sessions.get(session_id)
        if session is not None:
            session.in_flight -= 1
            session.idle_since = time.monotonic()

    def _noting_session(self, client: str, log_scope: str, send: Send, opened: list[str]) -> Send:
        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                for name, value in message.get("headers", ()):
                    if name.lower() == _SESSION_HEADER:
                        session_id = value.decode("latin-1")
                        self.sessions[session_id] = _Session(client, log_scope)
                        opened.append(session_id)
            await send(message)

        return noting

    async def release(self, session_id: str) -> None:
        """Forget a closed session: its client, its logged messages, its subscriptions."""
        session = self.sessions.pop(session_id, None)
        if session is not None:
            await self._release_scope(session.scope)

    async def sweep(self, idle_for: float) -> int:
        """Release the sessions with no request in flight for more than ``idle_for`` seconds; returns how many."""
        now = time.monotonic()
        idle = [sid for sid, s in self.sessions.items() if s.in_flight <= 0 and now - s.idle_since > idle_for]
        for sid in idle:
            await self.release(sid)
        return len(idle)


def mcp_face(
    service: StreamService, config: ServeConfig, *, event_store: EventStore | None = None
) -> tuple[list[BaseRoute], Lifespan]:
    """The ``/mcp`` route and the lifespan that runs the SDK's session manager, for ``create_app``.

    ``event_store`` defaults to a :class:`LogEventStore` on the service's event log.
    """
    subscriptions = Subscriptions(service)
    store = event_store or LogEventStore(service)
    idle = config.mcp_session_idle
    manager = StreamableHTTPSessionManager(
        app=build_server(service, _client_of, subscriptions),
        event_store=store,
        retry_interval=config.retry_ms,
        session_idle_timeout=idle,
    )

    async def release(log_scope: str) -> None:
        subscriptions.release(log_scope)
        if isinstance(store, LogEventStore):
            await store.release(log_scope)

    endpoint = _Endpoint(service, config, manager, release)

    async def sweep() -> None:
        # a session idle past the SDK's timeout has been closed by the SDK: release what is kept for it here
        while True:
            await asyncio.sleep(min(max(idle / 4, 0.05), 30.0))
            await endpoint.sweep(idle + 0.05)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.mcp = endpoint
        async with manager.run():
            sweeper = asyncio.create_task(sweep(), name="streamrt-mcp-session-sweep")
            try:
                yield
            finally:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
                service.begin_close()  # replays that follow the log end now
                await subscriptions.close()

    return [Route(MCP_PATH, endpoint=endpoint, methods=["GET", "POST", "DELETE"])], lifespan


def create_mcp_app(
    config: ServeConfig, *, event_store: Callable[[StreamService], EventStore] = LogEventStore
) -> Starlette:
    """The HTTP API with the MCP face mounted at ``/mcp`` (``streamrt serve --mcp``); ``event_store`` makes the
    face's event store from the service."""
    from streamrt.serve import create_app

    service = StreamService(config)
    routes, lifespan = mcp_face(service, config, event_store=event_store(service))
    return create_app(config, routes=routes, lifespans=[lifespan], service=service)
