"""The MCP source: one tool call over the MCP Streamable HTTP transport, its notifications and result as chunks.

Theory of operation
-------------------
The source speaks the transport directly on httpx (event streams through the bounded parser of :mod:`streamrt.sources.sse_parse`)::

    POST initialize            -> Mcp-Session-Id, negotiated protocol version
    POST notifications/initialized
    POST tools/call (_meta.progressToken = request id)
        -> application/json: the reply alone
        -> text/event-stream: notifications/progress, notifications/message, ..., then the reply
    GET  + Last-Event-ID       -> the rest of a dropped event stream (replayed by the server's event store)
    DELETE                     -> end the session (on aclose, once the call is over: see ``delete_on_close``)

Every message becomes at most one :class:`Chunk` with ``:kind`` ``progress``, ``log``, ``result`` or ``error``; the
reply (``result``/``error``) ends the source. Every chunk carries the continuation *after* it::

    {"session_id", "last_event_id", "request_id", "done", "protocol_version"}

What happens on trouble:

- connect errors, 429, 502, 503, 504: the request is retried under the :class:`RetryPolicy` (``Retry-After`` is
  honoured); when the policy gives up the source fails with :class:`SourceError`.
- the event stream ends or breaks before the reply: reconnect with ``GET`` and ``Last-Event-ID`` (after the server's
  ``retry:`` hint), so every event is delivered once and in order. Never after the reply: ``done`` is final. A server
  that gives no event ids cannot be resumed, and the source fails rather than run the tool twice.
- 404 on a request that carried our session: the server forgot the session (expired, restarted). The source
  initializes a new session and calls the tool again, under a new request id; the tool starts over, so progress
  restarts (``:request-id`` in the metadata tells the calls apart).
- resuming from a continuation: ``done`` -> nothing more to read; a live session and an event id -> ``GET`` with
  ``Last-Event-ID`` picks up where the snapshot was taken; a forgotten session -> as for 404 above; no event id ->
  the tool is called again in the same session.
- 400, 406 and other refusals: :class:`SourceError` with the server's message; 401 and 403:
  :class:`SourceAuthError`, whose message never contains a header value we sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

import httpx

from streamrt.errors import SourceError, StreamrtError
from streamrt.secrets import redact_url, secrets_of
from streamrt.sources.base import Chunk, ChunkFault, Continuation, Item, Source, bounded_raw
from streamrt.sources.mcp_protocol import (
    PROTOCOL_VERSION,
    McpTarget,
    call_meta,
    initialize_request,
    initialized_notification,
    initialized_version,
    parse_mcp_uri,
    read_message,
    server_request_reply,
    tool_call_request,
    tool_summary,
    tools_list_request,
    tools_page,
)
from streamrt.sources.mcp_transport import McpHttp, SessionLost
from streamrt.sources.retry import RetryPolicy
from streamrt.sources.sse_parse import (
    DEFAULT_EVENT_TIMEOUT,
    DEFAULT_MAX_EVENT_SIZE,
    EventStalled,
    EventTooLarge,
    SseParser,
    read_at_most,
    read_events,
)
from streamrt.values import Keyword

__all__ = ["McpSource"]

logger = logging.getLogger(__name__)


def _as_messages(payload: Any) -> list[Any]:
    """A JSON-RPC body is one message or (before 2025-06-18) a batch."""
    return payload if isinstance(payload, list) else [payload]


def _content_type(response: httpx.Response) -> str:
    return str(response.headers.get("content-type", "")).partition(";")[0].strip().lower()


class McpSource(Source):
    """Calls one MCP tool and yields its progress, log messages and result as chunks."""

    kind = "mcp"
    finite = True

    def __init__(
        self,
        uri: str,
        continuation: Continuation | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        require_tool: bool = True,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        event_timeout: float | None = DEFAULT_EVENT_TIMEOUT,
    ) -> None:
        super().__init__(uri, continuation)
        self.target: McpTarget = parse_mcp_uri(uri, require_tool=require_tool)
        self.secrets = secrets_of(headers, uri)
        self.max_event_size = max_event_size
        self.event_timeout = event_timeout
        self.http = McpHttp(
            self.target, self.health, headers=headers, retry=retry, timeout=timeout, transport=transport
        )
        #: whether :meth:`aclose` ends the session with DELETE: ``None`` (the default) decides by itself: yes once
        #: the call's reply arrived or the host set :attr:`closing_for_good` (the stream completed, was stopped or
        #: cancelled), no otherwise, so a shutdown meant to be resumed (Ctrl-C, SIGTERM, a provider closing with
        #: snapshots, a failure) leaves the call running and a resumed source picks up its events; ``True`` or
        #: ``False`` force it (``:delete-on-close`` option)
        self.delete_on_close: bool | None = None
        self._active: httpx.Response | None = None
        self._initialized = False
        self._request_id: int | None = None
        self._last_event_id: str | None = None
        self._retry_hint: float | None = None
        self._done = False
        self._next_id = 1
        self._drop_reason = ""
        self._restore(continuation)

    # --- continuation ------------------------------------------------------------------------------------------

    def _restore(self, cont: Continuation | None) -> None:
        if not cont:
            return
        session_id, request_id = cont.get("session_id"), cont.get("request_id")
        last_event_id, version = cont.get("last_event_id"), cont.get("protocol_version")
        if (
            not isinstance(session_id, str | None)
            or not isinstance(request_id, int | None)
            or isinstance(request_id, bool)
            or not isinstance(last_event_id, str | None)
            or not isinstance(version, str | None)
        ):
            raise SourceError(
                f"{redact_url(self.uri)}: bad continuation {cont!r} (expected session_id, last_event_id, request_id, done)"
            )
        self._done = bool(cont.get("done"))
        self.http.session_id = session_id
        self.http.protocol_version = version or PROTOCOL_VERSION
        self._initialized = session_id is not None
        self._request_id = request_id
        self._last_event_id = last_event_id
        if request_id is not None:
            self._next_id = request_id + 1

    def continuation(self) -> Continuation:
        """Where this source would resume from now."""
        return {
            "session_id": self.http.session_id,
            "last_event_id": self._last_event_id,
            "request_id": self._request_id,
            "done": self._done,
            "protocol_version": self.http.protocol_version,
        }

    def describe(self) -> Mapping[str, Any]:
        """Inspect: the endpoint (no credentials), tool, call and health; never the session id."""
        return {
            **super().describe(),
            "uri": redact_url(self.uri),
            "endpoint": self.target.display_endpoint,
            "tool": self.target.tool,
            "request_id": self._request_id,
            "protocol_version": self.http.protocol_version,
            "done": self._done,
        }

    # --- lifecycle ---------------------------------------------------------------------------------------------

    async def open(self) -> None:
        """Create the HTTP client; the session starts with the first :meth:`items` step."""
        self.http.client()

    @property
    def ends_session_on_close(self) -> bool:
        """Whether :meth:`aclose` would send DELETE now (see :attr:`delete_on_close`)."""
        if self.delete_on_close is not None:
            return self.delete_on_close
        return self._done or self.closing_for_good

    async def aclose(self) -> None:
        """Close connections, first ending the session with DELETE when :attr:`ends_session_on_close`; idempotent."""
        active, self._active = self._active, None
        if active is not None:
            await active.aclose()
        await self.http.aclose(end_session=self.ends_session_on_close)
        if self.http.session_id is None:
            self._initialized = False

    # --- the conversation --------------------------------------------------------------------------------------

    async def items(self) -> AsyncGenerator[Item, None]:
        """Initialize, call the tool (or resume the call), and yield chunks up to and including the reply."""
        if self._done:
            self.health.set("ended")
            return
        self.http.client()
        resume = self._request_id is not None
        stalls = 0  # reconnects in a row that brought no new event
        drops = 0  # response streams in a row that ended before the result, each before it was stable
        clock = asyncio.get_running_loop().time
        try:
            while True:
                opened = clock()
                try:
                    if not self._initialized:
                        await self._initialize()
                        resume = False
                    if resume and self._last_event_id is not None:
                        response = await self.http.send(
                            "GET", what="resume request", last_event_id=self._last_event_id
                        )
                    else:
                        response = await self._call()
                        resume = True
                except SessionLost as lost:
                    stalls = self._count_stall(stalls, str(lost))
                    self.health.reconnects += 1
                    self.health.set(
                        "reconnecting", f"{lost}; starting a new session and calling the tool again"
                    )
                    self._forget_session()
                    resume = False
                    continue
                self.health.set("connected")
                before = self._last_event_id
                async for item in self._read(response):
                    yield item
                if self._done:
                    self.health.set("ended")
                    return
                if self._last_event_id is None:
                    raise SourceError(
                        f"{self.http.where}: the response stream ended before the result "
                        f"({self._drop_reason}) and the server gives no event ids to resume it"
                    )
                stalls = 0 if self._last_event_id != before else self._count_stall(stalls, self._drop_reason)
                drops = 1 if self.http.retry_policy.stable(clock() - opened) else drops + 1
                delay = self._resume_delay(stalls, drops)
                self.health.reconnects += 1
                self.health.set(
                    "reconnecting",
                    f"response stream ended before the result: {self._drop_reason}",
                    retry_in=delay,
                )
                await asyncio.sleep(delay)
        except StreamrtError as err:
            self.health.set("failed", str(err))
            raise

    async def _initialize(self) -> None:
        http = self.http
        http.session_id = None
        http.protocol_version = PROTOCOL_VERSION
        request_id = self._new_id()
        response = await http.send(
            "POST", initialize_request(request_id), what="initialize request", session=False
        )
        session_id = response.headers.get("mcp-session-id")
        reply: Any = None
        try:
            async for message in self._messages(response, track=False):
                if isinstance(message, dict) and message.get("id") == request_id and "method" not in message:
                    reply = message
                    break
        except (httpx.TransportError, EventStalled) as err:
            raise SourceError(
                f"{http.where}: connection lost during initialize: {http.redact(str(err))}"
            ) from None
        finally:
            await response.aclose()
        version = initialized_version(http.where, reply, http.redact)
        http.protocol_version = version
        http.session_id = session_id
        self._initialized = True
        await http.post(initialized_notification(), what="initialized notification")

    async def list_tools(self) -> list[dict[str, Any]]:
        """The server's tools (every page of ``tools/list``), each as :func:`tool_summary` shows it."""
        self.http.client()
        if not self._initialized:
            await self._initialize()
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            request_id = self._new_id()
            response = await self.http.send(
                "POST", tools_list_request(request_id, cursor), what="tools/list request"
            )
            reply: Any = None
            try:
                async for message in self._messages(response, track=False):
                    if (
                        isinstance(message, dict)
                        and message.get("id") == request_id
                        and "method" not in message
                    ):
                        reply = message
                        break
            finally:
                await response.aclose()
            result = tools_page(self.http.where, reply)
            tools.extend(tool_summary(tool) for tool in result["tools"])
            cursor = result.get("nextCursor")
            if not isinstance(cursor, str) or not cursor:
                return tools

    async def _call(self) -> httpx.Response:
        """Start a new tools/call; its events and resume position start afresh."""
        request_id = self._new_id()
        self._request_id = request_id
        self._last_event_id = None
        self._retry_hint = None
        request = tool_call_request(request_id, self.target.tool, self.target.arguments)
        return await self.http.send("POST", request, what="tools/call request")

    async def _read(self, response: httpx.Response) -> AsyncIterator[Item]:
        """Chunks from one response, up to the reply; a broken stream just ends (``_drop_reason`` says why)."""
        self._active = response
        self._drop_reason = "the server closed the stream"
        try:
            async for message in self._messages(response, track=True):
                item = message if isinstance(message, ChunkFault) else await self._on_message(message)
                if item is not None:
                    yield item
                if self._done:
                    return
        except (httpx.TransportError, EventStalled) as err:
            self._drop_reason = self.http.redact(f"{type(err).__name__}: {err}".rstrip(": "))
        finally:
            self._active = None
            await response.aclose()
        if _content_type(response) != "text/event-stream":
            raise SourceError(
                f"{self.http.where} answered the tool call with a JSON body that holds no reply to it"
            )

    async def _messages(self, response: httpx.Response, *, track: bool) -> AsyncIterator[Any]:
        """Decoded JSON-RPC messages of a JSON or SSE body; ``track`` keeps the event id and retry hint."""
        content_type = _content_type(response)
        if content_type == "application/json":
            body, whole = await read_at_most(response.aiter_bytes(), self.max_event_size)
            if not whole:
                raise self._too_large(f"a JSON reply passed {self.max_event_size} bytes")
            try:
                payload = json.loads(body)
            except ValueError:
                yield self._fault(f"the JSON reply is not valid JSON: {body[:80]!r}", body)
                return
            for message in _as_messages(payload):
                yield message
        elif content_type == "text/event-stream":
            events = read_events(response.aiter_bytes(), SseParser(self.max_event_size), self.event_timeout)
            try:
                async for event in events:
                    if track:
                        if event.retry is not None:
                            self._retry_hint = event.retry / 1000
                        if event.id:
                            self._last_event_id = event.id
                    if not event.data.strip():
                        continue  # the priming event (id only) and keep-alives
                    try:
                        payload = json.loads(event.data)
                    except ValueError:
                        yield self._fault(f"an SSE event holds no JSON: {event.data[:80]!r}", event.data)
                        continue
                    for message in _as_messages(payload):
                        yield message
            except EventTooLarge as err:
                raise self._too_large(str(err)) from None
            finally:
                await events.aclose()
        else:
            raise SourceError(
                f"{self.http.where} answered with content type {content_type or 'none'!r}; "
                "expected application/json or text/event-stream"
            )

    async def _on_message(self, message: Any) -> Item | None:
        """Turn one JSON-RPC message into a chunk (:func:`read_message`); answer server requests."""
        incoming = read_message(message, self._request_id)
        if incoming is None:
            return None
        if incoming.kind == "request":
            await self._answer(incoming.value)
            return None
        if incoming.kind == "fault":
            return self._fault(incoming.value)
        if incoming.final:
            self._done = True
        return self._chunk(incoming.kind, incoming.value)

    async def _answer(self, request: Mapping[str, Any]) -> None:
        """Reply to a server request (a ping, say) on a POST of its own; failure only costs the server a reply."""
        try:
            await self.http.post(server_request_reply(request), what="reply to a server request")
        except StreamrtError as err:
            logger.debug("could not answer MCP server request %r: %s", request.get("method"), err)

    # --- helpers -----------------------------------------------------------------------------------------------

    def _new_id(self) -> int:
        request_id = self._next_id
        self._next_id += 1
        return request_id

    def _forget_session(self) -> None:
        self.http.session_id = None
        self._initialized = False
        self._request_id = None
        self._last_event_id = None

    def _count_stall(self, stalls: int, reason: str) -> int:
        stalls += 1
        limit = self.http.retry_policy.max_attempts
        if limit and stalls >= limit:
            raise SourceError(
                f"{self.http.where}: gave up after {stalls} reconnects without progress: {reason}"
            )
        return stalls

    def _resume_delay(self, stalls: int, drops: int = 1) -> float:
        """The server's ``retry:`` hint, or the policy's backoff after ``drops`` drops in a row; growing backoff
        when reconnects bring nothing new."""
        policy = self.http.retry_policy
        hint = policy.after_drop(self._retry_hint, drops)
        if stalls == 0:
            return hint
        return max(hint, min(policy.maximum, policy.initial * 2.0 ** (stalls - 1)))

    def _meta(self, kind: str) -> dict[Keyword, Any]:
        return call_meta(kind, self.target.tool, self._request_id, self._last_event_id)

    def _chunk(self, kind: str, value: Any) -> Chunk:
        return Chunk(value, self._meta(kind), self.continuation())

    def _too_large(self, what: str) -> SourceError:
        return SourceError(f"{self.http.where}: {what} (the :max-event-size option)")

    def _fault(self, message: str, raw: bytes | str | None = None) -> ChunkFault:
        text = bounded_raw(raw) if raw is not None else None
        return ChunkFault(f"{self.http.where}: {message}", self._meta("fault"), self.continuation(), text)
