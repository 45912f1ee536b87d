"""Any node answers any request: what concerns a stream owned elsewhere goes to its owner over HTTP.

Theory of operation
-------------------
:class:`ClusterRouting` is ASGI middleware in front of the server's app. A request about one stream
(``/streams/{id}`` and below) for a stream this node runs goes straight to the app. Otherwise:

- **Events** (``GET /streams/{id}/events``) are answered here: every node reads every stream's events from Redis, so
  a subscriber that reconnects through the load balancer to another node replays from ``Last-Event-ID`` there.
- **Everything else** (pushes, directives, inspecting, deleting) is forwarded to the owner's URL (its lease names
  the node, the node's announcement its URL) and the owner's answer is passed back as it is: the owner applies its
  own backpressure (a full queue is its 429) and idempotency, so a forwarded push behaves exactly as a local one.
  A stream nobody holds (its owner just died) is taken over here first and then served locally.

Why HTTP and not Redis for forwarding: the request already is HTTP, with its body, headers and status codes; the
owner's answer carries backpressure (how many chunks were taken, ``Retry-After``) back to the client unchanged; a
forward costs one loopback or LAN round trip and no Redis load per chunk; and the owner authenticates the client
again. Redis would need a request/reply protocol of its own (a reply stream per request, timeouts) for the same.

A forwarded request carries ``X-Streamrt-Forwarded``; a node never forwards such a request again (the lease moved
meanwhile): it answers 503 with ``Retry-After: 1`` and the client retries.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote

import httpx
from sse_starlette import EventSourceResponse
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from streamrt.errors import StoreError
from streamrt.serve.auth import authenticate
from streamrt.serve.engine import SHARED
from streamrt.serve.problems import Problem, problem_response
from streamrt.serve.subscribe import follow, parse_last_event_id

if TYPE_CHECKING:
    from streamrt.cluster.node import ClusterService

__all__ = ["FORWARDED", "ClusterRouting"]

FORWARDED: Final = "x-streamrt-forwarded"
_STREAM_PATH: Final = re.compile(r"^/streams/([^/]+)(/[a-z]+)?$")
_HOP_BY_HOP: Final = frozenset(
    {"host", "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}
)
_TERMINAL: Final = frozenset({"completed", "stopped", "cancelled", "error"})


class ClusterRouting:
    """Sends what concerns a stream owned by another node to that node; serves every stream's events."""

    def __init__(self, app: ASGIApp, service: ClusterService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        match = _STREAM_PATH.match(scope["path"])
        service = self.service
        if match is None or not service.opened or service.closing:
            await self.app(scope, receive, send)
            return
        sid, tail = unquote(match[1]), match[2] or ""
        if sid in service.provider.streams:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self._elsewhere(request, sid, tail)
        except Problem as problem:
            response = problem_response(problem)
        except StoreError as exc:
            # the store or Redis is unreachable while the stream is looked up or taken over (a restart, a blip):
            # the client waits and retries, as it does for a stream moving between nodes
            response = problem_response(
                Problem(
                    "unavailable",
                    f"stream {sid!r} cannot be reached now: {exc}; retry",
                    headers={"Retry-After": "1"},
                )
            )
        except ClientDisconnect:
            return  # the client went away while its request was being forwarded: nobody to answer
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)

    async def _elsewhere(self, request: Request, sid: str, tail: str) -> Response | None:
        """The answer for a stream this node does not run; None: serve it locally (it was just taken over)."""
        service = self.service
        if tail == "/events" and request.method == "GET":
            return await self._events(request, sid)
        holder, url = await service.owner_url(sid)
        if holder is None:
            await service.take_over([sid])
            if sid in service.provider.streams:
                return None
            raise Problem(
                "unavailable", f"stream {sid!r} is moving between nodes; retry", headers={"Retry-After": "1"}
            )
        if url is None or request.headers.get(FORWARDED) or holder == service.owner:
            raise Problem(
                "unavailable",
                f"stream {sid!r} is moving between nodes; retry",
                headers={"Retry-After": "1"},
            )
        return await self._forward(request, url)

    async def _forward(self, request: Request, url: str) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers[FORWARDED] = self.service.owner
        target = url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        try:
            answer = await self.service.http.request(
                request.method, target, headers=headers, content=await request.body()
            )
        except httpx.HTTPError as exc:
            raise Problem(
                "unavailable",
                f"the stream's node did not answer ({type(exc).__name__}); retry",
                headers={"Retry-After": "1"},
            ) from None
        self.service.forwarded += 1
        out = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP | {"content-encoding"}}
        return Response(answer.content, status_code=answer.status_code, headers=out)

    async def _events(self, request: Request, sid: str) -> Response:
        service = self.service
        config = service.config
        client = authenticate(request, config.tokens, no_auth=config.no_auth)
        owner = (await service.events.directory.lookup([sid])).get(sid)
        if owner is None or owner.client not in (client, SHARED):
            raise Problem("unknown-stream", f"no stream {sid!r}")
        after = parse_last_event_id(request.headers.get("last-event-id") or request.query_params.get("after"))
        status: dict[str, str] = {}

        async def refresh() -> None:
            status.update(await service.events.directory.statuses([sid]))

        await refresh()
        events = service.events

        def finished() -> bool:
            return status.get(sid, "") in _TERMINAL

        last = await events.read(sid, after, limit=1)
        if finished() and not last:
            return Response(status_code=204)

        async def stream() -> Any:
            async for chunk in follow(
                events,
                sid,
                after,
                finished=finished,
                closing=lambda: service.closing,
                retry_ms=config.retry_ms,
                limit=config.events_per_connection,
            ):
                yield chunk
                await refresh()

        return EventSourceResponse(
            stream(), ping=config.heartbeat, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )
