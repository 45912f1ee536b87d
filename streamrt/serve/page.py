"""The live status page at ``/`` (plain HTML and a little JS on EventSource, no build step) and its session.

The page itself holds no data (it is served without a token); its script reads ``GET /streams`` and follows
``GET /events``. A browser's EventSource cannot send an Authorization header, so ``POST /session`` exchanges a token
for an HttpOnly, SameSite=Strict cookie that the other routes accept in its place; cross-site pages cannot use it,
and every POST they could forge without CORS is refused because the API reads only JSON bodies (a form's content
type is not JSON).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from streamrt.serve.auth import COOKIE, client_of_token
from streamrt.serve.config import ServeConfig
from streamrt.serve.http import json_body
from streamrt.serve.problems import Problem

__all__ = ["end_session", "start_session", "status_page"]


@cache
def _page() -> str:
    return files("streamrt.serve").joinpath("static/status.html").read_text(encoding="utf-8")


async def status_page(request: Request) -> Response:
    """The live status page (no token: it shows nothing until its requests are authorised)."""
    return HTMLResponse(_page(), headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})


async def start_session(request: Request) -> Response:
    """Exchange ``{"token": ...}`` for the session cookie the status page's requests carry."""
    config: ServeConfig = request.app.state.config
    body = await json_body(request)
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise Problem("bad-request", 'send {"token": "..."}')
    if not config.no_auth:
        client_of_token(token, config.tokens)
    response = Response(status_code=204)
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
    )
    return response


async def end_session(request: Request) -> Response:
    """Forget the session cookie."""
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response
