"""``streamrt mcp``: the scripts' processors as an MCP server over stdio (see docs/mcp.md).

Only argparse is imported here; the MCP SDK and the server load when the command runs.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from streamrt.cli.serve import add_secret_argument, add_store_arguments

__all__ = ["add_mcp_parser", "cmd_mcp"]


def add_mcp_parser(sub: Any) -> None:
    mcp = sub.add_parser(
        "mcp",
        help="serve the scripts' processors as an MCP server over stdio (tools stream.start, push, watch, ...)",
    )
    mcp.add_argument(
        "scripts", nargs="+", metavar="SCRIPT", help="scripts whose processors clients may start"
    )
    add_store_arguments(mcp)
    mcp.add_argument("--queue-capacity", metavar="N", type=int, help="queue capacity per stream")
    mcp.add_argument(
        "--push-timeout", type=float, default=5.0, metavar="S", help="how long stream.push waits for room"
    )
    mcp.add_argument(
        "--allow-sources",
        metavar="EFFECTS",
        help="effects a client's source URI may need (default network: no files, programs or stdin)",
    )
    mcp.add_argument(
        "--log-level", default="warning", help="streamrt's log level on stderr (default warning)"
    )
    add_secret_argument(mcp)


def _config(args: argparse.Namespace) -> Any:
    from streamrt.policy.effects import SecurityContext
    from streamrt.secrets import secret_flags
    from streamrt.serve import ServeConfig

    allowed = "network" if args.allow_sources is None else args.allow_sources
    # stdin is the protocol channel: a source reading it would steal the client's messages
    security = SecurityContext.parse(allow=[allowed], deny=["stdin"])
    return ServeConfig(
        scripts=list(args.scripts),
        store=args.store,
        no_auth=True,
        push_timeout=args.push_timeout,
        snapshot_every=args.snapshot_every,
        queue_capacity=args.queue_capacity,
        source_security=security,
        secrets=secret_flags(args.secret or ()),
    )


def cmd_mcp(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import asyncio  # for start-up speed: `streamrt --help` imports this module for its flags

    from streamrt.errors import ScriptError, StreamrtError
    from streamrt.mcpserve import serve_stdio
    from streamrt.observe.logs import configure_logging, unconfigure_logging

    handler = None
    try:
        handler = configure_logging(args.log_level, stream=err)
        config = _config(args)
        asyncio.run(serve_stdio(config))
    except ScriptError as exc:
        err.write(
            exc.format() + "\n"
        )  # file:line:col: message, the line and a caret, as every command prints it
        return 2
    except StreamrtError as exc:
        err.write(f"streamrt mcp: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        if handler is not None:
            unconfigure_logging(handler)
    return 0
