"""The MCP SDK's ``EventStore`` on the server's event log, so a Streamable HTTP client resumes with Last-Event-ID.

Theory of operation
-------------------
Every message the SDK sends on a request's event stream (a ``stream.watch``'s progress, its result) is stored
first, as an event of the server's :class:`~streamrt.serve.EventLog`: in memory for ``memory:`` stores, otherwise
in the store's database (SQLite or PostgreSQL) next to the snapshots and the streams' own events. The log key is
``mcp/SCOPE/STREAM``: ``STREAM`` is the SDK's stream id (a request id, or its standalone GET stream) and ``SCOPE``
names the MCP session that stored it, because request ids repeat across sessions (every client counts from 1) and
one store serves them all. An event id is ``KEY#N``.

The SDK calls :meth:`LogEventStore.store_event` from the session's own tasks, which run in the context of the request
that opened the session; the HTTP face (:mod:`streamrt.mcpserve.http`) sets :data:`SESSION_SCOPE` there, so the
scope needs nothing from the SDK's internals.

Replay closes the SDK's "replay → live-tail" window: the SDK registers a resumed stream for live delivery only after
``replay_events_after`` returns, so a message stored in between would be kept but sent nowhere. Here replay does not
return once the stored events are out: it follows the log, sending each new event of that stream as it is stored,
until the call's reply is out (then it returns None and the SDK ends the response). Until then the SDK has not
registered the stream, so every message goes out exactly once, from here. The standalone GET stream has no reply: its
replay returns after the stored events, as the SDK expects. The test runs this with a store that takes 10 ms a write.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Final

import mcp_types as types
from mcp.server.streamable_http import (
    GET_STREAM_KEY,
    EventCallback,
    EventId,
    EventMessage,
    EventStore,
    StreamId,
)

from streamrt.serve import StreamService

__all__ = ["KEY_PREFIX", "SESSION_SCOPE", "LogEventStore"]

KEY_PREFIX: Final = "mcp/"
SESSION_SCOPE: ContextVar[str | None] = ContextVar("streamrt_mcp_session_scope", default=None)
"""The scope of the MCP session whose tasks run in this context (set by the HTTP face when a session opens)."""
_KIND: Final = "mcp"


class LogEventStore(EventStore):
    """The SDK's event store on ``service.log`` (see the module docs)."""

    def __init__(self, service: StreamService) -> None:
        self.service = service
        self._keys: dict[str, set[str]] = {}
        """Per session scope, the log keys its messages went to (forgotten when the session is released)."""

    async def store_event(self, stream_id: StreamId, message: types.JSONRPCMessage | None) -> EventId:
        scope = SESSION_SCOPE.get() or "-"
        key = f"{KEY_PREFIX}{scope}/{stream_id}"
        self._keys.setdefault(scope, set()).add(key)
        data = "" if message is None else message.model_dump_json(by_alias=True, exclude_unset=True)
        event = self.service.log.append(key, _KIND, data)
        if event is None:  # only outputs can be refused (by seq), and these are not outputs
            raise RuntimeError(f"the event log refused an event of {key}")
        return f"{key}#{event.id}"

    async def release(self, scope: str) -> None:
        """The session of ``scope`` is closed: nobody can resume its streams, so its messages leave the log."""
        for key in self._keys.pop(scope, ()):
            await self.service.log.forget(key)

    async def replay_events_after(
        self, last_event_id: EventId, send_callback: EventCallback
    ) -> StreamId | None:
        key, _, number = last_event_id.rpartition("#")
        if not key.startswith(KEY_PREFIX) or not number.isdigit() or "/" not in key[len(KEY_PREFIX) :]:
            return None
        stream_id = key[len(KEY_PREFIX) :].partition("/")[2]
        service = self.service
        after = int(number)
        while True:
            log = service.log
            batch = await log.read(key, after)
            for event in batch:
                after = event.id
                if not event.data:
                    continue  # a priming event: an id and nothing to send
                message = types.jsonrpc_message_adapter.validate_json(event.data)
                await send_callback(EventMessage(message, f"{key}#{event.id}"))
                if (
                    isinstance(message, types.JSONRPCResponse | types.JSONRPCError)
                    and str(message.id) == stream_id
                ):
                    return None  # the reply is out: the response ends here
            if batch:
                continue
            if stream_id == GET_STREAM_KEY or service.closing or not log.known(key):
                return stream_id if stream_id == GET_STREAM_KEY else None
            await log.wait(key, after)
