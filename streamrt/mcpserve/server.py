"""The MCP face of a :class:`~streamrt.serve.StreamService`, on the official MCP SDK's low-level ``Server``.

Theory of operation
-------------------
:func:`build_server` makes the SDK server; ``client_of(ctx)`` says whose streams a request sees and steers:

- ``tools/list`` and ``tools/call`` are the tools of :mod:`streamrt.mcpserve.tools`, with their input and output
  schemas; arguments are checked against the input schema first, and a refusal comes back as a tool result with
  ``isError``, the text ``code: message`` and ``{"code", "message"}`` under ``_meta["dev.streamrt/error"]``, never
  as a protocol error (no structured content: clients check that against the tool's output schema).
  ``stream.watch`` reports each output with ``notifications/progress`` on the call's own progress token.
- every stream the client can see is a resource, ``streamrt://streams/{id}`` (also listed as a template), whose
  contents are the stream's inspect document as JSON.
- ``resources/subscribe`` starts, per session and URI, a task that waits on the stream's event log and sends
  ``notifications/resources/updated`` whenever the log grew (an output, a status change, a failure), so changes that
  come in a burst are one notification; ``resources/unsubscribe``, the end of the session or of the server stops it.

The SDK does the protocol: the handshake, JSON-RPC, progress tokens, the transports (stdio here, Streamable HTTP
through ``streamrt serve --mcp``). Nothing here prints: over stdio, standard output is the protocol channel.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final

import jsonschema
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.session import ServerSession
from mcp.shared.exceptions import MCPError

from streamrt import __version__
from streamrt.errors import StreamrtError
from streamrt.jsoncodec import to_json
from streamrt.mcpserve.events import SESSION_SCOPE
from streamrt.mcpserve.tools import RESOURCE_PREFIX, TOOLS, resource_uri
from streamrt.runtime import StreamView
from streamrt.serve import Problem, StreamService
from streamrt.serve.problems import problem_of

__all__ = ["ERROR_META", "ClientOf", "Subscriptions", "build_server", "opened"]

log: Final = logging.getLogger("streamrt.mcp")
_JSON: Final = "application/json"


def _text(data: Any) -> list[types.ContentBlock]:
    return [types.TextContent(type="text", text=json.dumps(data, ensure_ascii=False))]


ERROR_META: Final = "dev.streamrt/error"
"""The ``_meta`` key of a refusal's ``{"code", "message"}``."""


def _refusal(problem: Problem) -> types.CallToolResult:
    """A tool error: the text says why; no structured content, which clients check against the output schema."""
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=f"{problem.code}: {problem.detail}")],
        is_error=True,
        _meta={ERROR_META: {"code": problem.code, "message": problem.detail}},
    )


def _resource_view(service: StreamService, client: str, uri: str) -> StreamView:
    """The stream a resource URI names; an unknown one is the JSON-RPC error "invalid params", with the reason."""
    try:
        if not uri.startswith(RESOURCE_PREFIX) or len(uri) == len(RESOURCE_PREFIX):
            raise Problem("not-found", f"no resource {uri!r}; streams are {RESOURCE_PREFIX}{{id}}")
        return service.view(client, uri[len(RESOURCE_PREFIX) :])
    except Problem as problem:
        raise MCPError(types.INVALID_PARAMS, f"{problem.code}: {problem.detail}") from None


class Subscriptions:
    """Per session and resource URI, the task that tells the session when the stream's log grows."""

    def __init__(self, service: StreamService) -> None:
        self.service = service
        self._tasks: dict[tuple[int, str], asyncio.Task[None]] = {}
        self._scopes: dict[tuple[int, str], str] = {}
        """The session scope (:data:`SESSION_SCOPE`) each subscription was made in, to release a closed session's."""

    def add(self, session: ServerSession, uri: str, stream_id: str) -> None:
        key = (id(session), uri)
        if key not in self._tasks:
            task = asyncio.get_running_loop().create_task(
                self._notify(session, uri, stream_id), name=f"streamrt-mcp-subscription-{stream_id}"
            )
            self._tasks[key] = task
            self._scopes[key] = SESSION_SCOPE.get() or ""
            task.add_done_callback(lambda _: self._forget(key))

    def _forget(self, key: tuple[int, str]) -> None:
        self._tasks.pop(key, None)
        self._scopes.pop(key, None)

    def release(self, scope: str) -> None:
        """Stop the subscriptions of the session of ``scope`` (it is closed)."""
        for key in [k for k, s in self._scopes.items() if s == scope]:
            task = self._tasks.pop(key, None)
            self._scopes.pop(key, None)
            if task is not None:
                task.cancel()

    def remove(self, session: ServerSession, uri: str) -> None:
        self._scopes.pop((id(session), uri), None)
        task = self._tasks.pop((id(session), uri), None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _notify(self, session: ServerSession, uri: str, stream_id: str) -> None:
        service = self.service
        seen = service.log.last_id(stream_id)
        try:
            while not service.closing and service.log.known(stream_id):
                await service.log.wait(stream_id, seen)
                last = service.log.last_id(stream_id)
                if last > seen:
                    seen = last
                    await session.send_resource_updated(uri)
        except Exception as exc:  # the session went away: nobody is left to tell
            log.debug("resource subscription %s ended: %s", uri, exc)


ClientOf = Callable[[ServerRequestContext[Any]], str]
"""Whose streams a request may see and steer: a constant over stdio, the request's credentials over HTTP."""


def build_server(service: StreamService, client_of: ClientOf, subscriptions: Subscriptions) -> Server[Any]:
    """The SDK server whose tools and resources act on ``service`` for the client ``client_of(ctx)`` names."""

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=tool.name,
                    description=tool.description,
                    input_schema=tool.input_schema,
                    output_schema=tool.output_schema,
                )
                for tool in TOOLS.values()
            ]
        )

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tool = TOOLS.get(params.name)
        if tool is None:
            return _refusal(Problem("not-found", f"no tool {params.name!r}; tools: {', '.join(TOOLS)}"))
        arguments: Mapping[str, Any] = params.arguments or {}
        try:
            jsonschema.validate(arguments, tool.input_schema)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "arguments"
            return _refusal(Problem("bad-request", f"{tool.name}: {where}: {exc.message}"))

        async def report(n: int, message: str) -> None:
            await ctx.session.report_progress(n, None, message)

        try:
            result = await tool.handler(service, client_of(ctx), arguments, report)
        except Problem as problem:
            return _refusal(problem)
        except StreamrtError as exc:
            return _refusal(problem_of(exc))
        return types.CallToolResult(content=_text(result), structured_content=result)

    async def list_resources(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return types.ListResourcesResult(
            resources=[
                types.Resource(
                    uri=resource_uri(view.id),
                    name=view.id,
                    title=f"stream {view.id} ({view.processor_name})",
                    mime_type=_JSON,
                )
                for view in service.visible(client_of(ctx))
            ]
        )

    async def list_templates(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        template = types.ResourceTemplate(
            uri_template=RESOURCE_PREFIX + "{id}",
            name="stream",
            description="a stream: status, stats, state, options and source health (as stream.inspect shows it)",
            mime_type=_JSON,
        )
        return types.ListResourceTemplatesResult(resource_templates=[template])

    async def read_resource(
        ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        view = _resource_view(service, client_of(ctx), params.uri)
        doc = to_json(service.provider.inspect(view.id, include_state=True))
        doc["last_event_id"] = service.log.last_id(view.id)
        text = json.dumps(doc, ensure_ascii=False)
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=params.uri, mime_type=_JSON, text=text)]
        )

    async def subscribe(
        ctx: ServerRequestContext[Any], params: types.SubscribeRequestParams
    ) -> types.EmptyResult:
        view = _resource_view(service, client_of(ctx), params.uri)
        subscriptions.add(ctx.session, params.uri, view.id)
        return types.EmptyResult()

    async def unsubscribe(
        ctx: ServerRequestContext[Any], params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        subscriptions.remove(ctx.session, params.uri)
        return types.EmptyResult()

    return Server(
        "streamrt",
        version=__version__,
        instructions=(
            "streamrt runs stateful stream processors. Start a stream of a processor with stream.start, feed it "
            "with stream.push (or give it a source URI), follow its outputs with stream.watch, and read or "
            "subscribe to streamrt://streams/{id} for its state."
        ),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_subscribe_resource=subscribe,
        on_unsubscribe_resource=unsubscribe,
    )


@asynccontextmanager
async def opened(service: StreamService) -> AsyncIterator[Subscriptions]:
    """The service open for the lifetime of a server, with the subscriptions it owns."""
    await service.open()
    subscriptions = Subscriptions(service)
    try:
        yield subscriptions
    finally:
        await subscriptions.close()
        await service.close()
