"""Errors as RFC 9457 problem documents, each with a stable ``code`` a client can switch on.

Every refusal the server makes is a :class:`Problem`; streamrt's own errors map to one by class
(:func:`problem_of`), so a bad body, an unknown processor or a closed stream is a 4xx with a message, and only a
bug in the server is a 500 (with no traceback in the body; it goes to the server's log).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from starlette.responses import JSONResponse

from streamrt.errors import (
    DuplicateStreamError,
    EffectDeniedError,
    QueueFullError,
    ScriptError,
    SourceError,
    StoreError,
    StreamClosedError,
    StreamrtError,
    UnknownStreamError,
    UsageError,
)

__all__ = ["CODES", "Problem", "problem_of", "problem_response"]

CODES: Final = {
    "bad-request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not-found": 404,
    "unknown-stream": 404,
    "method-not-allowed": 405,
    "unsupported-media-type": 415,
    "stream-exists": 409,
    "stream-closed": 409,
    "effect-denied": 403,
    "payload-too-large": 413,
    "queue-full": 429,
    "rate-limited": 429,
    "too-many-streams": 429,
    "too-many-subscribers": 429,
    "source-failed": 502,
    "store-failed": 503,
    "unavailable": 503,
    "internal": 500,
}
"""Every problem code and its HTTP status (docs/api.md lists them)."""


class Problem(Exception):
    """A refusal: ``code`` (one of :data:`CODES`), a human ``detail``, extra members and headers."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.status = CODES[code]
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {
            "type": f"https://streamrt.dev/problems/{self.code}",
            "title": self.code.replace("-", " "),
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
            **self.extra,
        }


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        problem.body(),
        status_code=problem.status,
        headers=problem.headers,
        media_type="application/problem+json",
    )


def problem_of(exc: StreamrtError) -> Problem:
    """The problem a streamrt error is for a client."""
    text = exc.format() if isinstance(exc, ScriptError) else str(exc)
    if isinstance(exc, UnknownStreamError):
        return Problem("unknown-stream", text)
    if isinstance(exc, DuplicateStreamError):
        return Problem("stream-exists", text)
    if isinstance(exc, StreamClosedError):
        return Problem("stream-closed", text)
    if isinstance(exc, QueueFullError):
        return Problem("queue-full", text, headers={"Retry-After": "1"})
    if isinstance(exc, EffectDeniedError):
        return Problem("effect-denied", text)
    if isinstance(exc, SourceError):
        return Problem("source-failed", text)
    if isinstance(exc, StoreError):
        return Problem("store-failed", text)
    if isinstance(exc, UsageError | ScriptError):
        return Problem("bad-request", text)
    return Problem("bad-request", text)
