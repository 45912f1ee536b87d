"""The API's OpenAPI 3.1 description (served at ``/openapi.json``) and its Markdown rendering (``docs/api.md``).

The description is written here once, as data; ``scripts/render_api_docs.py`` writes ``docs/api.md`` from it and
``tests/serve/test_openapi.py`` checks that the page is current and that every route the app serves is described
(and nothing else is).
"""

from __future__ import annotations

import json
from typing import Any, Final

from streamrt import __version__
from streamrt.serve.problems import CODES

__all__ = ["SPEC", "render_markdown", "spec"]


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


_ID: Final = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_STREAM: Final = {"$ref": "#/components/schemas/Stream"}
_COMMON: Final = {"401": _problem("no token, or one the server does not know (`unauthorized`)")}
_MINE: Final = {**_COMMON, "404": _problem("no stream with that id among the caller's (`unknown-stream`)")}

SPEC: Final[dict[str, Any]] = {
    "openapi": "3.1.0",
    "info": {
        "title": "streamrt serve",
        "version": __version__,
        "description": "Start, feed, steer and follow stateful stream processors. Every refusal is a problem "
        "document (RFC 9457) with a stable `code`.",
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Problem": {
                "type": "object",
                "required": ["type", "title", "status", "code", "detail"],
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "code": {"type": "string", "enum": sorted(CODES)},
                    "detail": {"type": "string"},
                },
            },
            "StartRequest": {
                "type": "object",
                "required": ["processor"],
                "additionalProperties": False,
                "properties": {
                    "processor": {"type": "string", "description": "a processor (defn) of the served scripts"},
                    "state": {"description": "the initial state (default {})"},
                    "source": {"type": ["string", "null"], "description": "a source URI the server reads, or null"},
                    "options": {"type": "object", "description": "stream options (queue_capacity, schemas, ...)"},
                    "id": {"type": "string", "description": "the stream id (default: generated)"},
                },
            },
            "Stream": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "processor": {"type": "string"},
                    "status": {
                        "type": "string",
                        "enum": ["active", "paused", "completed", "stopped", "cancelled", "error"],
                    },
                    "message": {"type": ["string", "null"]},
                    "processed": {
                        "type": ["integer", "null"],
                        "description": "null in a cluster listing for a stream another node runs, until it "
                        "publishes its figures (at its next rebalance)",
                    },
                    "queue_depth": {"type": ["integer", "null"]},
                    "queue_capacity": {"type": ["integer", "null"]},
                    "outputs": {"type": "integer"},
                    "node": {
                        "type": ["string", "null"],
                        "description": "cluster nodes only: the URL of the node that runs the stream (null while "
                        "it moves between nodes)",
                    },
                    "urls": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
            "PushResult": {
                "type": "object",
                "properties": {
                    "accepted": {"type": "integer", "description": "chunks taken (the first ones, in order)"},
                    "total": {"type": "integer"},
                    "replayed": {"type": "boolean", "description": "a retry under a known Idempotency-Key"},
                },
            },
            "Directive": {
                "type": "object",
                "required": ["action"],
                "properties": {
                    "action": {
                        "type": "string",
                        "enum": ["pause", "resume", "cancel", "stop", "complete", "checkpoint", "end"],
                    }
                },
            },
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/streams": {
            "post": {
                "summary": "Start a stream of one of the scripts' processors",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StartRequest"}}}},
                "responses": {
                    "201": _json(_STREAM, "started; `Location` is its URL"),
                    "400": _problem("a bad body, processor or option (`bad-request`)"),
                    "403": _problem("the source needs an effect the server does not allow (`effect-denied`)"),
                    "409": _problem("the id is taken (`stream-exists`)"),
                    "429": _problem("the caller has its most live streams (`too-many-streams`)"),
                    **_COMMON,
                },
            },
            "get": {
                "summary": "The caller's streams",
                "responses": {
                    "200": _json({"type": "object", "properties": {"streams": {"type": "array", "items": _STREAM}}}, "the streams"),
                    **_COMMON,
                },
            },
        },
        "/streams/{id}": {
            "parameters": [_ID],
            "get": {
                "summary": "One stream in detail (status, stats, state, options, activity); `?queue=1` adds the queue",
                "responses": {"200": _json({"type": "object"}, "the stream"), **_MINE},
            },
            "delete": {
                "summary": "Cancel the stream and forget it: its snapshot, events and id",
                "responses": {"204": {"description": "forgotten"}, **_MINE},
            },
        },
        "/streams/{id}/chunks": {
            "parameters": [
                _ID,
                {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 200}},
            ],
            "post": {
                "summary": "Push a chunk (JSON), a batch (JSON array) or NDJSON lines; waits a bounded time for room",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {}}, "application/x-ndjson": {"schema": {"type": "string"}}},
                },
                "responses": {
                    "202": _json({"$ref": "#/components/schemas/PushResult"}, "every chunk taken"),
                    "400": _problem("a body or NDJSON line that is not JSON; nothing pushed (`bad-request`)"),
                    "409": _problem("the stream has ended (`stream-closed`)"),
                    "415": _problem("neither JSON nor NDJSON (`unsupported-media-type`)"),
                    "429": _problem("the queue stayed full (`queue-full`, with `accepted`) or too many pushes "
                                    "(`rate-limited`); see `Retry-After`"),
                    **_MINE,
                },
            },
        },
        "/streams/{id}/directives": {
            "parameters": [_ID],
            "post": {
                "summary": "Pause, resume, cancel, stop, complete, checkpoint, or end the input",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Directive"}}}},
                "responses": {
                    "200": _json(_STREAM, "directed"),
                    "400": _problem("an unknown action (`bad-request`)"),
                    "409": _problem("the stream has ended (`stream-closed`)"),
                    **_MINE,
                },
            },
        },
        "/streams/{id}/events": {
            "parameters": [
                _ID,
                {"name": "Last-Event-ID", "in": "header", "schema": {"type": "integer", "minimum": 0}},
                {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
            ],
            "get": {
                "summary": "Server-sent events (`output`, `status`, `error`) after Last-Event-ID, then live",
                "responses": {
                    "200": {"description": "an event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                    "204": {"description": "the stream has ended and nothing is newer than Last-Event-ID"},
                    "429": _problem("the caller has its most open event streams (`too-many-subscribers`)"),
                    **_MINE,
                },
            },
        },
        "/streams/{id}/ws": {
            "parameters": [_ID, {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}}],
            "get": {
                "summary": "WebSocket: the stream's events out (`{id, event, data}`); `{chunks}` / `{chunk}` and "
                           "`{action}` in, answered `{ack}`, `{done}` or `{problem}`",
                "responses": {"101": {"description": "switching protocols; closed with 1008 when refused"}},
            },
        },
        "/events": {
            "parameters": [
                {"name": "Last-Event-ID", "in": "header", "schema": {"type": "integer", "minimum": 0}},
                {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
            ],
            "get": {
                "summary": "Server-sent events of all the caller's streams, merged in log order; each event's data "
                           "names its `stream`, and its id (a place in the whole log) resumes them all",
                "responses": {
                    "200": {"description": "an event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                    "429": _problem("the caller has its most open event streams (`too-many-subscribers`)"),
                    **_COMMON,
                },
            },
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics of the streams (`streamrt_*`) and the server (`streamrt_serve_*`)",
                "responses": {"200": {"description": "Prometheus text", "content": {"text/plain": {"schema": {"type": "string"}}}}, **_COMMON},
            }
        },
        "/": {
            "get": {
                "summary": "The live status page: streams with status, rates, queue depth, last outputs, and "
                           "pause / resume / cancel buttons (no token for the page itself)",
                "security": [],
                "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
            }
        },
        "/session": {
            "post": {
                "summary": "Exchange `{\"token\"}` for the HttpOnly session cookie the status page uses (no token header)",
                "security": [],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {"204": {"description": "the cookie is set"}, "400": _problem("no token in the body (`bad-request`)"), **_COMMON},
            },
            "delete": {
                "summary": "Forget the session cookie",
                "security": [],
                "responses": {"204": {"description": "the cookie is cleared"}},
            },
        },
        "/healthz": {
            "get": {
                "summary": "The process answers (no token)",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "alive")},
            }
        },
        "/readyz": {
            "get": {
                "summary": "The streams are open (no token)",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "ready"), "503": _json({"type": "object"}, "starting or stopping")},
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This description (no token)",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
            }
        },
    },
}  # fmt: skip


def spec() -> dict[str, Any]:
    """A copy of :data:`SPEC` (a caller may add its own paths)."""
    copied: dict[str, Any] = json.loads(json.dumps(SPEC))
    return copied


def render_markdown(description: dict[str, Any]) -> str:
    """``docs/api.md``: every path and method with its summary, parameters and responses, then the problem codes."""
    lines = [
        "# HTTP API reference",
        "",
        "<!-- rendered from streamrt/serve/openapi.py by scripts/render_api_docs.py; a test checks it is current -->",
        "",
        f"{description['info']['description']} The server serves this description at `/openapi.json`; "
        "[serving](serving.md) explains the API.",
        "",
        "Every path needs `Authorization: Bearer TOKEN` unless it says *no token*.",
        "",
    ]
    for path, item in description["paths"].items():
        shared = item.get("parameters", [])
        for method in ("get", "post", "delete"):
            op = item.get(method)
            if op is None:
                continue
            lines += [f"## `{method.upper()} {path}`", "", op["summary"], ""]
            params = [*shared, *op.get("parameters", [])]
            if params:
                lines.append("Parameters: " + ", ".join(f"`{p['name']}` ({p['in']})" for p in params) + ".")
                lines.append("")
            body = op.get("requestBody")
            if body is not None:
                lines.append("Body: " + ", ".join(f"`{media}`" for media in body["content"]) + ".")
                lines.append("")
            lines += ["| status | meaning |", "|---|---|"]
            for status, response in sorted(op["responses"].items()):
                lines.append(f"| {status} | {response['description']} |")
            lines.append("")
    lines += ["## Problem codes", "", "| code | status |", "|---|---|"]
    lines += [
        f"| `{code}` | {status} |" for code, status in sorted(CODES.items(), key=lambda kv: (kv[1], kv[0]))
    ]
    return "\n".join(lines) + "\n"
