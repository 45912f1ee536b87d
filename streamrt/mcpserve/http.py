"""The MCP face over Streamable HTTP, mounted at ``/mcp`` next to the HTTP API (``streamrt serve --mcp``).

:func:`mcp_face` gives the route and the lifespan that :func:`streamrt.serve.create_app` takes for a mounted face.
The SDK's session manager speaks the transport; around it, every request is authenticated as the API's are (the
same tokens, the same client ids, a 401 problem document otherwise), and an MCP session belongs to the client that
opened it: a request carrying another client's session id is answered as for an unknown session (404), so one client
can neither act in nor replay another's session. Tool calls act for the request's client, so a client sees the same
streams over MCP as over the API. Messages are stored in the server's event log (:class:`LogEventStore`) and a
client that lost its event stream resumes it with Last-Event-ID.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

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


class _Endpoint:
    """The ASGI endpoint at ``/mcp``: authenticate, keep sessions to their clients, hand over to the SDK."""

    def __init__(
        self, service: StreamService, config: ServeConfig, manager: StreamableHTTPSessionManager
    ) -> None:
        self.service = service
        self.config = config
        self.manager = manager
        self.owners: dict[str, str] = {}
        """MCP session id -> the client that opened it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        conn = HTTPConnection(scope)
        try:
            client = authenticate(conn, self.config.tokens, no_auth=self.config.no_auth)
        except Problem as problem:
            await problem_response(problem)(scope, receive, send)
            return
        scope[CLIENT_KEY] = client
        session = conn.headers.get("mcp-session-id")
        if session is not None:
            if self.owners.get(session, client) != client:
                await problem_response(Problem("not-found", "Session not found"))(scope, receive, send)
                return
            await self.manager.handle_request(scope, receive, send)
            return
        # a request that opens a session: its tasks run in this context, where the event store reads the scope
        SESSION_SCOPE.set(f"{client}.{secrets.token_hex(8)}")
        await self.manager.handle_request(scope, receive, self._noting_session(client, send))

    def _noting_session(self, client: str, send: Send) -> Send:
        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                for name, value in message.get("headers", ()):
                    if name.lower() == _SESSION_HEADER:
                        self.owners[value.decode("latin-1")] = client
            await send(message)

        return noting


def mcp_face(
    service: StreamService, config: ServeConfig, *, event_store: EventStore | None = None
) -> tuple[list[BaseRoute], Lifespan]:
    """The ``/mcp`` route and the lifespan that runs the SDK's session manager, for ``create_app``.

    ``event_store`` defaults to a :class:`LogEventStore` on the service's event log.
    """
    subscriptions = Subscriptions(service)
    manager = StreamableHTTPSessionManager(
        app=build_server(service, _client_of, subscriptions),
        event_store=event_store or LogEventStore(service),
        retry_interval=config.retry_ms,
    )
    endpoint = _Endpoint(service, config, manager)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with manager.run():
            try:
                yield
            finally:
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
