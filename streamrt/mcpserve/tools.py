"""The tools of the MCP face: what each one takes (a JSON Schema), what it returns (structured), and what it does.

Each tool is a small function over the server's :class:`~streamrt.serve.StreamService`, the same service the HTTP
API drives, for one client: a client sees and steers its own streams and the scripts' shared ones. Arguments are
checked against the tool's input schema before it runs (``jsonschema``, which the MCP SDK depends on); a refusal
(a bad argument, an unknown stream, a full queue) is a :class:`~streamrt.serve.Problem` that the server turns into
a tool error with its code, never a protocol error, so a model calling the tool reads why.

``stream.watch`` is the one long call: it replays the stream's logged events after ``after`` and follows the log
until the stream has ended, reporting each output as it comes (:data:`Report`); the result holds every output.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import msgspec

from streamrt.jsoncodec import from_json, to_json
from streamrt.runtime import StreamSpec, StreamView
from streamrt.serve import Problem, StreamService, stream_json

__all__ = ["RESOURCE_PREFIX", "TOOLS", "Report", "Tool", "resource_uri", "stream_doc"]

RESOURCE_PREFIX: Final = "streamrt://streams/"

Report = Callable[[int, str], Awaitable[None]]
"""``report(n, message)``: the ``n``-th output of a watch, as a progress notification (``message`` its JSON)."""

Handler = Callable[[StreamService, str, Mapping[str, Any], Report], Awaitable[dict[str, Any]]]


class Tool(msgspec.Struct, frozen=True):
    """One tool: its name, what it is for, its input and output schemas, and its handler."""

    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    handler: Handler


def resource_uri(stream_id: str) -> str:
    return RESOURCE_PREFIX + stream_id


def stream_doc(view: StreamView) -> dict[str, Any]:
    """A stream as the tools show it: the HTTP API's summary, with its resource URI instead of URLs."""
    doc = {k: v for k, v in stream_json(view, "").items() if k != "urls"}
    doc["resource"] = resource_uri(view.id)
    return doc


# --- schemas ---------------------------------------------------------------------------------------------------

_ID: Final = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "pattern": "^[^/]+$",
    "description": "the stream's id",
}
_STREAM: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "processor": {"type": ["string", "null"]},
        "status": {"enum": ["active", "paused", "completed", "stopped", "cancelled", "error"]},
        "message": {"type": ["string", "null"]},
        "processed": {"type": "integer"},
        "queue_depth": {"type": "integer"},
        "queue_capacity": {"type": "integer"},
        "outputs": {"type": "integer"},
        "resource": {"type": "string"},
    },
    "required": ["id", "status", "resource"],
}


def _object(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


def _by_id() -> dict[str, Any]:
    return _object({"stream_id": _ID}, "stream_id")


# --- handlers --------------------------------------------------------------------------------------------------


async def _start(
    service: StreamService, client: str, args: Mapping[str, Any], report: Report
) -> dict[str, Any]:
    options = args.get("options") or {}
    view = await service.start(
        client,
        args["processor"],
        initial_state=from_json(args.get("initial_state")),
        source=args.get("source"),
        options=StreamSpec.from_json(options),
        stream_id=args.get("stream_id"),
    )
    return stream_doc(view)


async def _push(
    service: StreamService, client: str, args: Mapping[str, Any], report: Report
) -> dict[str, Any]:
    view = service.view(client, args["stream_id"])
    chunks = [from_json(chunk) for chunk in args["chunks"]]
    outcome = await service.push(view.id, chunks, args.get("key"))
    return {
        "accepted": outcome.accepted,
        "total": outcome.total,
        "replayed": outcome.replayed,
        "stream": stream_doc(service.provider.streams[view.id]),
    }


async def _inspect(
    service: StreamService, client: str, args: Mapping[str, Any], report: Report
) -> dict[str, Any]:
    view = service.view(client, args["stream_id"])
    doc: dict[str, Any] = to_json(
        service.provider.inspect(
            view.id,
            include_state=args.get("include_state", True),
            include_queue=args.get("include_queue", False),
        )
    )
    doc["last_event_id"] = service.log.last_id(view.id)
    doc["resource"] = resource_uri(view.id)
    return doc


async def _list(
    service: StreamService, client: str, args: Mapping[str, Any], report: Report
) -> dict[str, Any]:
    return {"streams": [stream_doc(v) for v in service.visible(client)]}


def _directive(action: str) -> Handler:
    async def direct(
        service: StreamService, client: str, args: Mapping[str, Any], report: Report
    ) -> dict[str, Any]:
        view = service.view(client, args["stream_id"])
        service.direct(view.id, action)
        return stream_doc(service.provider.streams[view.id])

    return direct


async def _watch(
    service: StreamService, client: str, args: Mapping[str, Any], report: Report
) -> dict[str, Any]:
    view = service.view(client, args["stream_id"])
    sid = view.id
    log = service.log
    after = max(int(args.get("after", 0)), log.floor(sid))
    outputs: list[dict[str, Any]] = []
    while True:
        batch = await log.read(sid, after)
        for event in batch:
            after = event.id
            if event.kind == "output":
                output = {**json.loads(event.data), "event_id": event.id}
                outputs.append(output)
                await report(len(outputs), json.dumps(output, ensure_ascii=False, separators=(",", ":")))
        if batch:
            continue
        current = service.provider.streams.get(sid) if service.opened else None
        if current is None or current.status.terminal or service.closing:
            break
        await log.wait(sid, after)
    current = service.provider.streams.get(sid) if service.opened else None
    if service.closing or not service.opened:
        raise Problem("unavailable", f"the server is stopping; watch {sid!r} again with after={after}")
    if current is None:
        raise Problem("unknown-stream", f"stream {sid!r} was deleted while it was watched")
    return {
        "stream_id": sid,
        "status": current.status.value,
        "message": current.message,
        "outputs": outputs,
        "last_event_id": after,
    }


_OUTPUT_ITEM: Final = {
    "type": "object",
    "properties": {"seq": {"type": "integer"}, "value": {}, "event_id": {"type": "integer"}},
    "required": ["seq", "value", "event_id"],
}

TOOLS: Final[dict[str, Tool]] = {
    tool.name: tool
    for tool in (
        Tool(
            "stream.start",
            "Start a stream of one of the server's processors, fed by a source URI or by stream.push.",
            _object(
                {
                    "processor": {
                        "type": "string",
                        "minLength": 1,
                        "description": "a processor of the scripts",
                    },
                    "source": {
                        "type": "string",
                        "description": "a source URI (mcp+http://..., http://... SSE, ws://...); omit to push",
                    },
                    "initial_state": {"description": "the processor's first state (JSON)"},
                    "stream_id": _ID,
                    "options": {
                        "type": "object",
                        "description": "stream options as JSON (queue-capacity, input-schema, on-error, ...)",
                    },
                },
                "processor",
            ),
            _STREAM,
            _start,
        ),
        Tool(
            "stream.push",
            "Push chunks (JSON values) to a stream in order; waits a bounded time for room and says how many "
            "were taken. With a key, a retry of the same push applies each chunk once.",
            _object(
                {
                    "stream_id": _ID,
                    "chunks": {"type": "array", "minItems": 1, "description": "the chunks, in order"},
                    "key": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 200,
                        "description": "idempotency key",
                    },
                },
                "stream_id",
                "chunks",
            ),
            {
                "type": "object",
                "properties": {
                    "accepted": {"type": "integer"},
                    "total": {"type": "integer"},
                    "replayed": {"type": "boolean"},
                    "stream": _STREAM,
                },
                "required": ["accepted", "total", "replayed", "stream"],
            },
            _push,
        ),
        Tool(
            "stream.inspect",
            "A stream in detail: status, message, stats, state, options, source health.",
            _object(
                {
                    "stream_id": _ID,
                    "include_state": {"type": "boolean", "default": True},
                    "include_queue": {"type": "boolean", "default": False},
                },
                "stream_id",
            ),
            {"type": "object", "properties": {"stream_id": {"type": "string"}, "status": {"type": "string"}}},
            _inspect,
        ),
        Tool(
            "stream.list",
            "The streams this client can see: its own and the scripts' shared ones.",
            _object({}),
            {
                "type": "object",
                "properties": {"streams": {"type": "array", "items": _STREAM}},
                "required": ["streams"],
            },
            _list,
        ),
        *(
            Tool(f"stream.{action}", description, _by_id(), _STREAM, _directive(action))
            for action, description in (
                ("pause", "Pause a stream: chunks queue up (then pushes wait) and nothing is processed."),
                ("resume", "Resume a paused stream: its queue drains at once, in order."),
                (
                    "cancel",
                    "Cancel a stream: its queue is discarded and its source stopped; it ends cancelled.",
                ),
            )
        ),
        Tool(
            "stream.watch",
            "Follow a stream until it ends: each output is reported as a progress notification (its JSON as the "
            "message) as it is produced, and the result holds every output with the final status. `after` (an "
            "event id from an earlier watch's last_event_id) continues where that watch stopped.",
            _object(
                {"stream_id": _ID, "after": {"type": "integer", "minimum": 0, "default": 0}},
                "stream_id",
            ),
            {
                "type": "object",
                "properties": {
                    "stream_id": {"type": "string"},
                    "status": {"type": "string"},
                    "message": {"type": ["string", "null"]},
                    "outputs": {"type": "array", "items": _OUTPUT_ITEM},
                    "last_event_id": {"type": "integer"},
                },
                "required": ["stream_id", "status", "outputs", "last_event_id"],
            },
            _watch,
        ),
    )
}
"""Every tool by name."""
