"""Tool discovery: the tools an MCP server offers, over either transport (``streamrt tools URI``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from streamrt.errors import SourceError
from streamrt.sources.config import auth_headers
from streamrt.sources.registry import parse_source_uri

__all__ = ["list_tools"]

_HTTP = ("mcp+http", "mcp+https")
_STDIO = "mcp+stdio"


async def list_tools(
    uri: str, *, env: Mapping[str, str] | None = None, options: Mapping[Any, Any] | None = None
) -> list[dict[str, Any]]:
    """Every tool of the server ``uri`` names (``mcp+http(s)://…`` or ``mcp+stdio:…``; a ``tool`` in it is ignored),
    each ``{"name", "description", "inputSchema", ...}`` as the server describes it.

    Credentials for HTTP come from ``env`` (default ``os.environ``) and ``options`` as for the MCP source; the
    session is ended afterwards, and a stdio server is stopped.
    """
    environ = os.environ if env is None else env
    parsed = parse_source_uri(uri, environ)
    if parsed.scheme in _HTTP:
        from streamrt.sources.mcp import McpSource

        source = McpSource(parsed.text, headers=auth_headers(environ, options), require_tool=False)
        source.delete_on_close = True
        async with source:
            return await source.list_tools()
    if parsed.scheme == _STDIO:
        from streamrt.sources.mcp_stdio import McpStdioSource

        return await McpStdioSource(parsed.text, env=environ, require_tool=False).list_tools()
    raise SourceError(
        f"{parsed.text}: not an MCP server; use mcp+http(s)://HOST:PORT/PATH or mcp+stdio:COMMAND?args=ARG"
    )
