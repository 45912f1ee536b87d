"""What every route shares: the service, authentication, bodies within bounds, and how a stream is shown."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from streamrt.runtime import StreamView
from streamrt.serve.auth import authenticate
from streamrt.serve.config import ServeConfig
from streamrt.serve.engine import StreamService, stream_fields
from streamrt.serve.problems import Problem

__all__ = [
    "MAX_BODY",
    "authed",
    "base_url",
    "json_body",
    "read_body",
    "service_of",
    "stream_json",
    "stream_urls",
]

MAX_BODY: Final = 16 * 1024 * 1024
Handler = Callable[[Request, str], Awaitable[Response]]


def service_of(request: Request) -> StreamService:
    service: StreamService = request.app.state.service
    return service


def authed(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        config: ServeConfig = request.app.state.config
        client = authenticate(request, config.tokens, no_auth=config.no_auth)
        return await handler(request, client)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


async def json_body(request: Request) -> Any:
    body = await read_body(request)
    if not body.strip():
        raise Problem("bad-request", "the request body is empty; send a JSON object")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise Problem("bad-request", f"the body is not JSON: {exc}") from None


async def read_body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise Problem("payload-too-large", f"bodies are limited to {MAX_BODY} bytes")
    chunks = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > MAX_BODY:
            raise Problem("payload-too-large", f"bodies are limited to {MAX_BODY} bytes")
        chunks.append(part)
    return b"".join(chunks)


def stream_json(view: StreamView, base: str) -> dict[str, Any]:
    """A stream as the API shows it in lists and after a start."""
    return {**stream_fields(view), "urls": stream_urls(view.id, base)}


def stream_urls(stream_id: str, base: str) -> dict[str, str]:
    """A stream's resources on the server at ``base``."""
    url = f"{base}/streams/{stream_id}"
    return {
        "self": url,
        "chunks": f"{url}/chunks",
        "directives": f"{url}/directives",
        "events": f"{url}/events",
        "ws": f"{url}/ws".replace("http", "ws", 1),
    }


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")
