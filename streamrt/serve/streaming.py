"""The routes that stream: one stream's events (SSE), all of a client's streams merged (SSE), and a WebSocket.

Each holds one of the client's subscriber places while it is open (a 429 when there is none left) and counts as a
subscriber of its stream for the idle TTL. The WebSocket carries the same events out (one JSON message each:
``{"id", "event", "data"}``) and takes chunks and directives in: ``{"chunks": [...]}`` (or ``{"chunk": x}``) is
answered ``{"ack": {"accepted", "total"}}``, ``{"action": "pause"}`` ``{"done": "pause"}``; a refusal is
``{"problem": {...}}`` and the socket stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from streamrt.errors import StreamrtError
from streamrt.jsoncodec import from_json
from streamrt.serve.auth import authenticate
from streamrt.serve.config import ServeConfig
from streamrt.serve.engine import StreamService
from streamrt.serve.http import authed, service_of
from streamrt.serve.problems import Problem, problem_of
from streamrt.serve.subscribe import follow, follow_merged, parse_last_event_id

__all__ = ["all_events", "stream_events", "stream_socket", "subscription"]

_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def subscription(
    service: StreamService, client: str, sid: str | None, events: AsyncIterator[bytes]
) -> AsyncIterator[bytes]:
    """``events`` holding one of the client's subscriber places (a 429 here if it has none left) until it ends."""
    service.budget.hold_subscriber(client)
    feed = service.feed(sid) if sid is not None else None
    if feed is not None:
        feed.subscribers += 1

    async def held() -> AsyncIterator[bytes]:
        try:
            async for event in events:
                yield event
        finally:
            if feed is not None:
                feed.subscribers -= 1
            service.budget.release_subscriber(client)

    return held()


@authed
async def stream_events(request: Request, client: str) -> Response:
    """Server-sent events of one stream, replayed after ``Last-Event-ID`` (or ``?after=``)."""
    service = service_of(request)
    sid = service.view(client, request.path_params["id"]).id
    after = parse_last_event_id(request.headers.get("last-event-id") or request.query_params.get("after"))
    config: ServeConfig = request.app.state.config
    finished = service.finished(sid)
    if finished() and after >= service.log.last_id(sid):
        return Response(status_code=204)  # nothing more will come: EventSource stops reconnecting
    events = follow(
        service.log,
        sid,
        after,
        finished=finished,
        closing=lambda: service.closing,
        retry_ms=config.retry_ms,
        limit=config.events_per_connection,
    )
    return EventSourceResponse(
        subscription(service, client, sid, events), ping=config.heartbeat, headers=_HEADERS
    )


@authed
async def all_events(request: Request, client: str) -> Response:
    """Server-sent events of every stream the caller sees, merged in log order; each event's data names its
    ``stream``, and ``Last-Event-ID`` resumes them all."""
    service = service_of(request)
    after = parse_last_event_id(request.headers.get("last-event-id") or request.query_params.get("after"))
    config: ServeConfig = request.app.state.config
    events = follow_merged(
        service.log,
        lambda: [v.id for v in service.visible(client)],
        after,
        closing=lambda: service.closing,
        retry_ms=config.retry_ms,
        limit=config.events_per_connection,
    )
    return EventSourceResponse(
        subscription(service, client, None, events), ping=config.heartbeat, headers=_HEADERS
    )


async def stream_socket(websocket: WebSocket) -> None:
    """``/streams/{id}/ws``: events out (after ``?after=N``), chunks and directives in."""
    config: ServeConfig = websocket.app.state.config
    service: StreamService = websocket.app.state.service
    try:
        client = authenticate(websocket, config.tokens, no_auth=config.no_auth)
        sid = service.view(client, websocket.path_params["id"]).id
        after = parse_last_event_id(websocket.query_params.get("after"))
        service.budget.hold_subscriber(client)
    except Problem as problem:
        await websocket.close(code=1008, reason=f"{problem.status} {problem.code}")
        return
    feed = service.feed(sid)
    feed.subscribers += 1
    lock = asyncio.Lock()

    async def send(text: str) -> None:
        async with lock:
            await websocket.send_text(text)

    async def pump() -> None:
        async for event in service.log_events(sid, after):
            await send(event.ws_text())

    try:
        await websocket.accept()
        sender = asyncio.create_task(pump())
        try:
            while True:
                try:
                    message = await websocket.receive_json()
                except (ValueError, KeyError):
                    await send(_problem_text(Problem("bad-request", "a message is one JSON object")))
                    continue
                await send(await _answer(service, client, sid, message))
        except WebSocketDisconnect:
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await sender
    finally:
        feed.subscribers -= 1
        service.budget.release_subscriber(client)


async def _answer(service: StreamService, client: str, sid: str, message: Any) -> str:
    try:
        if not isinstance(message, dict):
            raise Problem("bad-request", 'send {"chunks": [...]}, {"chunk": ...} or {"action": ...}')
        if "action" in message:
            service.direct(sid, str(message["action"]))
            return json.dumps({"done": message["action"]})
        if "chunks" in message or "chunk" in message:
            raw = message["chunks"] if "chunks" in message else [message["chunk"]]
            if not isinstance(raw, list):
                raise Problem("bad-request", '"chunks" must be a JSON array')
            service.budget.take_push(client)
            outcome = await service.push(sid, [from_json(c) for c in raw], message.get("key"))
            ack: dict[str, Any] = {
                "accepted": outcome.accepted,
                "total": outcome.total,
                "replayed": outcome.replayed,
            }
            if not outcome.complete:
                raise Problem("queue-full", "the stream's queue stayed full; send the rest again", **ack)
            return json.dumps({"ack": ack})
        raise Problem("bad-request", 'send {"chunks": [...]}, {"chunk": ...} or {"action": ...}')
    except Problem as problem:
        return _problem_text(problem)
    except StreamrtError as exc:
        return _problem_text(problem_of(exc))


def _problem_text(problem: Problem) -> str:
    return json.dumps({"problem": problem.body()})
