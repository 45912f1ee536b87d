"""The HTTP face: a Starlette app over a :class:`StreamService`, its routes small and the work in the service.

:func:`create_app` is the factory; other faces mount on the same app through ``routes`` (an MCP endpoint at
``/mcp``, say) and run their own start-up through ``lifespans``, entered after the streams are open. Every route
but ``/healthz`` and ``/readyz`` authenticates first (:mod:`streamrt.serve.auth`); every refusal is a problem
document (:mod:`streamrt.serve.problems`).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Final

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from streamrt.errors import StreamrtError, UnknownStreamError
from streamrt.jsoncodec import from_json, to_json
from streamrt.runtime import StreamSpec
from streamrt.serve.config import ServeConfig
from streamrt.serve.engine import StreamService
from streamrt.serve.http import (
    authed,
    base_url,
    json_body,
    read_body,
    service_of,
    stream_json,
    stream_urls,
)
from streamrt.serve.openapi import spec
from streamrt.serve.page import end_session, start_session, status_page
from streamrt.serve.problems import CODES, Problem, problem_of, problem_response
from streamrt.serve.streaming import all_events, stream_events, stream_socket

__all__ = ["Lifespan", "api_routes", "create_app"]

log: Final = logging.getLogger("streamrt.serve")
Lifespan = Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]
_DECODE: Final = json.JSONDecoder().decode
"""One decoder for every NDJSON line (``json.loads`` checks the input's type and encoding on each call)."""
_NDJSON: Final = ("application/x-ndjson", "application/jsonl", "application/ndjson", "application/json-lines")


# --- streams ---------------------------------------------------------------------------------------------------


@authed
async def start_stream(request: Request, client: str) -> Response:
    """Start a stream of one of the scripts' processors."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise Problem("bad-request", "the body must be a JSON object with a 'processor'")
    unknown = set(body) - {"processor", "state", "source", "options", "id"}
    if unknown:
        raise Problem("bad-request", f"unknown field(s): {', '.join(sorted(unknown))}")
    processor, source, sid = body.get("processor"), body.get("source"), body.get("id")
    if not isinstance(processor, str) or not processor:
        raise Problem("bad-request", "'processor' must be the name of a processor")
    if source is not None and not isinstance(source, str):
        raise Problem("bad-request", "'source' must be a source URI or null")
    if sid is not None and (not isinstance(sid, str) or not sid or len(sid) > 200 or "/" in sid):
        raise Problem("bad-request", "'id' must be a non-empty string of at most 200 characters, without '/'")
    options = body.get("options") or {}
    spec = StreamSpec.from_json(options)
    service = service_of(request)
    view = await service.start(
        client,
        processor,
        initial_state=from_json(body.get("state")),
        source=source,
        options=spec,
        stream_id=sid,
    )
    doc = stream_json(view, base_url(request))
    return JSONResponse(doc, status_code=201, headers={"Location": doc["urls"]["self"]})


@authed
async def list_streams(request: Request, client: str) -> Response:
    """The caller's streams (on a cluster node, every node's, each with its ``node``)."""
    base = base_url(request)
    docs = await service_of(request).listing(client)
    return JSONResponse({"streams": [{**doc, "urls": stream_urls(doc["id"], base)} for doc in docs]})


@authed
async def get_stream(request: Request, client: str) -> Response:
    """One stream in detail: status, stats, state, options (and the queue with ``?queue=1``)."""
    service = service_of(request)
    view = service.view(client, request.path_params["id"])
    queue = request.query_params.get("queue", "") not in ("", "0", "false")
    doc = to_json(service.provider.inspect(view.id, include_state=True, include_queue=queue))
    doc["last_event_id"] = service.log.last_id(view.id)
    doc.update({k: v for k, v in stream_json(view, base_url(request)).items() if k in ("id", "urls")})
    return JSONResponse(doc)


@authed
async def delete_stream(request: Request, client: str) -> Response:
    """Cancel the stream and forget it: its snapshot, events and id."""
    service = service_of(request)
    view = service.view(client, request.path_params["id"])
    await service.forget(view.id)
    return Response(status_code=204)


def _chunks(body: bytes, content_type: str) -> list[Any]:
    media = content_type.split(";", 1)[0].strip().lower()
    if media in _NDJSON:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Problem("bad-request", "the body is not UTF-8; nothing was pushed") from None
        chunks = []
        decode = _DECODE
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    chunks.append(from_json(decode(line)))
                except ValueError as exc:
                    raise Problem("bad-request", f"line {n} is not JSON: {exc}; nothing was pushed") from None
        return chunks
    if media not in ("application/json", ""):
        raise Problem("unsupported-media-type", f"send application/json or application/x-ndjson, not {media}")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise Problem("bad-request", f"the body is not JSON: {exc}; nothing was pushed") from None
    return [from_json(c) for c in data] if isinstance(data, list) else [from_json(data)]


@authed
async def push_chunks(request: Request, client: str) -> Response:
    """Push one chunk (a JSON value), a batch (a JSON array) or NDJSON lines, waiting a bounded time for room."""
    service = service_of(request)
    view = service.view(client, request.path_params["id"])
    service.budget.take_push(client)
    chunks = _chunks(await read_body(request), request.headers.get("content-type", ""))
    key = request.headers.get("idempotency-key")
    if key is not None and not 0 < len(key) <= 200:
        raise Problem("bad-request", "Idempotency-Key must be 1 to 200 characters")
    outcome = await service.push(view.id, chunks, key)
    body = {"accepted": outcome.accepted, "total": outcome.total, "replayed": outcome.replayed}
    if not outcome.complete:
        raise Problem(
            "queue-full",
            f"the stream's queue stayed full; {outcome.accepted} of {outcome.total} chunks were taken, retry the "
            "rest (with the same Idempotency-Key, send the same body: the taken chunks are skipped)",
            headers={"Retry-After": "1"},
            **body,
        )
    return JSONResponse(body, status_code=202)


@authed
async def direct_stream(request: Request, client: str) -> Response:
    """Pause, resume, cancel, stop, complete, checkpoint, or end the input."""
    service = service_of(request)
    view = service.view(client, request.path_params["id"])
    body = await json_body(request)
    action = body.get("action") if isinstance(body, dict) else None
    if not isinstance(action, str):
        raise Problem("bad-request", 'the body must be {"action": "pause" | "resume" | ...}')
    service.direct(view.id, action)
    return JSONResponse(stream_json(view, base_url(request)))


# --- health ------------------------------------------------------------------------------------------------------


async def healthz(request: Request) -> Response:
    """The process answers (no token needed: it says nothing about streams)."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """The streams are open (restored from the store) and requests are served."""
    ready = service_of(request).ready
    return JSONResponse({"ready": ready}, status_code=200 if ready else 503)


@authed
async def metrics(request: Request, client: str) -> Response:
    """Prometheus metrics of the streams and the server."""
    body, content_type = service_of(request).metrics_text()
    return Response(body, media_type=content_type)


async def openapi(request: Request) -> Response:
    """The API's OpenAPI description (no token: it says nothing about streams)."""
    return JSONResponse(spec())


# --- errors ------------------------------------------------------------------------------------------------------


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc)


async def _on_streamrt_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StreamrtError)
    if isinstance(exc, UnknownStreamError):
        return problem_response(Problem("unknown-stream", str(exc)))
    return problem_response(problem_of(exc))


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = next((c for c, s in CODES.items() if s == exc.status_code), "bad-request")
    return problem_response(Problem(code, str(exc.detail), headers=exc.headers))


async def _on_bug(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(Problem("internal", "internal server error (the server's log has the details)"))


# --- the app -----------------------------------------------------------------------------------------------------


def api_routes() -> list[BaseRoute]:

    return [
        Route("/streams", start_stream, methods=["POST"]),
        Route("/streams", list_streams, methods=["GET"]),
        Route("/streams/{id}", get_stream, methods=["GET"]),
        Route("/streams/{id}", delete_stream, methods=["DELETE"]),
        Route("/streams/{id}/chunks", push_chunks, methods=["POST"]),
        Route("/streams/{id}/directives", direct_stream, methods=["POST"]),
        Route("/streams/{id}/events", stream_events, methods=["GET"]),
        Route("/events", all_events, methods=["GET"]),
        WebSocketRoute("/streams/{id}/ws", stream_socket),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/", status_page, methods=["GET"]),
        Route("/session", start_session, methods=["POST"]),
        Route("/session", end_session, methods=["DELETE"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]


def create_app(
    config: ServeConfig,
    *,
    routes: Sequence[BaseRoute] = (),
    lifespans: Sequence[Lifespan] = (),
    service: StreamService | None = None,
) -> Starlette:
    """The ASGI app; ``routes`` are added after the API's, ``lifespans`` entered once the streams are open.

    The app's state holds ``config`` and ``service`` (the :class:`StreamService`), for mounted faces.
    """
    config.check()
    the_service = service or StreamService(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        opened_here = not the_service.opened  # ApiServer opens it before uvicorn starts
        if opened_here:
            await the_service.open()
        try:
            async with contextlib.AsyncExitStack() as stack:
                for extra in lifespans:
                    await stack.enter_async_context(extra(app))
                yield
        finally:
            if opened_here:
                await the_service.close()

    middleware = []
    if config.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(config.cors_origins),
                allow_methods=["GET", "POST", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"],
                expose_headers=["Location", "Retry-After"],
                max_age=600,
            )
        )
    app = Starlette(
        middleware=middleware,
        routes=[*api_routes(), *routes],
        lifespan=lifespan,
        exception_handlers={
            Problem: _on_problem,
            StreamrtError: _on_streamrt_error,
            HTTPException: _on_http,
            Exception: _on_bug,
        },
    )
    app.state.config = config
    app.state.service = the_service
    return app
