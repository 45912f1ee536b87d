"""The OpenAPI description: served without a token, naming every route the app has (and no other), and
docs/api.md rendered from it and current."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from starlette.routing import Route, WebSocketRoute

from streamrt.serve.app import api_routes
from streamrt.serve.openapi import render_markdown, spec
from tests.serve.conftest import client, config, running

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_docs_api_md_is_rendered_from_the_description() -> None:
    assert (DOCS / "api.md").read_text(encoding="utf-8") == render_markdown(spec()), (
        "docs/api.md is stale: run .venv/bin/python scripts/render_api_docs.py"
    )


def test_every_route_is_described_and_every_description_is_a_route() -> None:
    served: set[tuple[str, str]] = set()
    for route in api_routes():
        if isinstance(route, WebSocketRoute):
            served.add((route.path, "get"))
        elif isinstance(route, Route):
            served |= {(route.path, m.lower()) for m in route.methods or () if m != "HEAD"}
    described = {
        (path, method) for path, item in spec()["paths"].items() for method in item if method != "parameters"
    }
    assert served == described


async def test_openapi_is_served_without_a_token_and_metrics_with_one() -> None:
    async with running(config()) as server, client(server) as c:
        async with httpx.AsyncClient(base_url=server.url) as anon:
            r = await anon.get("/openapi.json")
            assert r.status_code == 200 and r.json()["openapi"].startswith("3.1")
            assert (await anon.get("/metrics")).status_code == 401
        sid = (await c.post("/streams", json={"processor": "echo"})).json()["id"]
        await c.post(f"/streams/{sid}/chunks", json=[1, 2, 3])
        async with c.stream("GET", f"/streams/{sid}/events"):
            text = (await c.get("/metrics")).text
        values = dict(re.findall(r"^(streamrt_serve_\w+) (\S+)$", text, re.M))
        assert float(values["streamrt_serve_subscribers"]) == 1
        assert float(values["streamrt_serve_events_logged_total"]) >= 3
        assert float(values["streamrt_serve_streams"]) == 1
        assert re.search(r'^streamrt_chunks_processed_total\{processor="echo"\} 3\.0$', text, re.M)
