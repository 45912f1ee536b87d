"""HTTP for the MCP source: one endpoint, its session headers, retries, and what each status code means.

Kept apart from the call logic in :mod:`streamrt.sources.mcp`: this layer knows nothing of tools or events, only
that a request either gets a 2xx response (returned unread, so an event stream can be consumed as it arrives) or
becomes the :class:`SourceError` its status means. Retries follow the :class:`RetryPolicy`; only errors that prove a
POST was never delivered are retried for POSTs, so a tool is never run twice by a retry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

import httpx
import tenacity

from streamrt.errors import SourceAuthError, SourceError
from streamrt.secrets import redact
from streamrt.sources.base import SourceHealth
from streamrt.sources.mcp_protocol import PROTOCOL_VERSION, McpTarget, server_message
from streamrt.sources.retry import RetryAfter, RetryPolicy, parse_retry_after, root_cause, wait_note
from streamrt.sources.sse_parse import read_at_most

__all__ = ["DEFAULT_TIMEOUT", "McpHttp", "SessionLost"]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=10.0, read=300.0, write=30.0, pool=10.0)
"""Long reads: a tool may think for minutes between events; a dead stream then counts as dropped and is resumed."""

_ACCEPT: Final = "application/json, text/event-stream"
_ERROR_BODY_READ: Final = 4096
_RETRY_STATUS: Final = frozenset({429, 502, 503, 504})
_POST_RETRY_ON: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Errors that prove a POST was not delivered, so sending it again cannot run a tool twice."""


class SessionLost(SourceError):
    """404 for a request that carried our session id: the server forgot the session."""


class _Unavailable(SourceError):
    """A status worth retrying (429, 502, 503, 504)."""


class McpHttp:
    """Requests to one MCP endpoint with the session's headers; owns the httpx client."""

    def __init__(
        self,
        target: McpTarget,
        health: SourceHealth,
        *,
        headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.target = target
        self.health = health
        self.retry_policy = retry or RetryPolicy()
        self.session_id: str | None = None
        self.protocol_version = PROTOCOL_VERSION
        self._extra_headers = dict(headers or {})
        self._timeout = timeout or DEFAULT_TIMEOUT
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._closed = False

    @property
    def where(self) -> str:
        """How messages name the server (no credentials)."""
        return f"MCP server at {self.target.display_endpoint}"

    def redact(self, text: str) -> str:
        """``text`` without any header value we send, nor the URL's user info (the source's secrets)."""
        return redact(text, self.health.secrets)

    def client(self) -> httpx.AsyncClient:
        """The httpx client, created on first use."""
        if self._closed:
            raise SourceError(f"{self.where}: the MCP source is closed")
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, transport=self._transport)
        return self._client

    def headers(self, *, session: bool = True) -> dict[str, str]:
        """Our headers; with ``session`` also the protocol version and session id (all but ``initialize``)."""
        headers = {**self._extra_headers, "Accept": _ACCEPT}
        if session:
            headers["MCP-Protocol-Version"] = self.protocol_version
            if self.session_id is not None:
                headers["Mcp-Session-Id"] = self.session_id
        return headers

    async def send(
        self,
        method: str,
        body: Mapping[str, Any] | None = None,
        *,
        what: str,
        session: bool = True,
        last_event_id: str | None = None,
    ) -> httpx.Response:
        """One request with retries; returns a streaming 2xx response, or raises the error its status means."""
        client = self.client()
        headers = self.headers(session=session)
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        with_session = session and self.session_id is not None
        post = method == "POST"
        retry_on = (*_POST_RETRY_ON, _Unavailable) if post else (httpx.TransportError, _Unavailable)
        try:
            async for attempt in self.retry_policy.retrying(
                retry_on=retry_on, before_sleep=self._before_retry
            ):
                with attempt:
                    request = client.build_request(method, self.target.endpoint, json=body, headers=headers)
                    response = await client.send(request, stream=True)
                    await self._check_status(response, method, what, with_session)
                    return response
        except tenacity.RetryError as err:
            raise SourceError(
                f"{self.where}: {what}: {self.redact(self.retry_policy.explain(err))}"
            ) from None
        except httpx.HTTPError as err:
            reason = self.redact(str(err)) or type(err).__name__
            raise SourceError(f"{self.where}: {what} failed: {reason}") from None
        raise AssertionError("tenacity ended without a result")  # pragma: no cover

    async def post(self, body: Mapping[str, Any], *, what: str) -> None:
        """POST a message that gets no reply of its own (a notification, our answer to a server request)."""
        response = await self.send("POST", body, what=what)
        await response.aclose()

    async def aclose(self, *, end_session: bool) -> None:
        """Close connections, first ending the session with DELETE if ``end_session``; idempotent."""
        self._closed = True
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if end_session and self.session_id is not None:
                try:
                    response = await client.delete(self.target.endpoint, headers=self.headers(), timeout=5.0)
                    logger.debug("MCP DELETE session: HTTP %s", response.status_code)
                except httpx.HTTPError as err:
                    logger.debug("MCP DELETE session failed: %s", err)
                self.session_id = None
        finally:
            await client.aclose()

    async def _check_status(
        self, response: httpx.Response, method: str, what: str, with_session: bool
    ) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        try:
            body, _ = await read_at_most(response.aiter_bytes(), _ERROR_BODY_READ)
        finally:
            await response.aclose()
        detail = f"HTTP {status}: {self.redact(server_message(body))}"
        if status in (401, 403):
            hint = "check the stream's credentials" if self._extra_headers else "no credentials were sent"
            raise SourceAuthError(f"{self.where} refused the {what} ({detail}); {hint}")
        if status == 404 and with_session:
            raise SessionLost(f"{self.where} no longer knows our session ({detail})")
        if status in _RETRY_STATUS:
            unavailable = _Unavailable(f"{self.where} answered the {what} with {detail}")
            delay = parse_retry_after(response.headers.get("retry-after"))
            if delay is not None:
                raise RetryAfter(delay, unavailable)
            raise unavailable
        if status == 405 and method == "GET":
            raise SourceError(f"{self.where} cannot resume a response stream ({detail})")
        if status in (400, 406):
            raise SourceError(f"{self.where} rejected the {what} ({detail})")
        raise SourceError(f"{self.where} answered the {what} with {detail}")

    async def _before_retry(self, state: tenacity.RetryCallState) -> None:
        raised = state.outcome.exception() if state.outcome is not None else None
        error = root_cause(raised)
        self.health.reconnects += 1
        text = self.redact(f"{type(error).__name__}: {error}") + wait_note(raised) if error else None
        self.health.set("reconnecting", text, retry_in=state.upcoming_sleep)
