"""The MCP face: streamrt as an MCP server (``streamrt mcp`` over stdio), on the official MCP SDK.

The tools (``stream.start``, ``stream.push``, ``stream.inspect``, ``stream.list``, ``stream.pause``,
``stream.resume``, ``stream.cancel``, ``stream.watch``) and the resources (``streamrt://streams/{id}``, with
subscriptions) act on a :class:`~streamrt.serve.StreamService`, the same service the HTTP API drives. See
docs/mcp.md.
"""

from __future__ import annotations

from streamrt.mcpserve.server import Subscriptions, build_server, opened
from streamrt.mcpserve.stdio import STDIO_CLIENT, serve_stdio
from streamrt.mcpserve.tools import RESOURCE_PREFIX, TOOLS, Tool, resource_uri, stream_doc

__all__ = [
    "RESOURCE_PREFIX",
    "STDIO_CLIENT",
    "TOOLS",
    "Subscriptions",
    "Tool",
    "build_server",
    "opened",
    "resource_uri",
    "serve_stdio",
    "stream_doc",
]
