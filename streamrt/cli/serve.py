"""``streamrt serve``: the HTTP/SSE API over the scripts' processors (see docs/serving.md).

Only argparse is imported here: the server (Starlette, uvicorn, SQLAlchemy) is imported when the command runs, so
``streamrt --help`` stays fast.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from streamrt.errors import ScriptError, StreamrtError, UsageError

__all__ = ["add_serve_parser", "cmd_serve"]


def add_serve_parser(sub: Any) -> None:
    serve = sub.add_parser(
        "serve", help="serve the scripts' processors over HTTP: start, push, steer and watch streams"
    )
    serve.add_argument(
        "scripts", nargs="+", metavar="SCRIPT", help="scripts whose processors clients may start"
    )
    add_server_arguments(serve)
    serve.add_argument(
        "--mcp",
        action="store_true",
        help="also serve MCP (Streamable HTTP) at /mcp: the same streams, tokens and tenancy (docs/mcp.md)",
    )
    serve.add_argument(
        "--mcp-session-idle",
        type=float,
        default=1800.0,
        metavar="S",
        help="close an MCP session with no request in flight for S seconds (default 1800)",
    )


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's flags, shared by ``serve`` (and ``run --api``)."""
    add_store_arguments(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8750, help="port (default 8750; 0 picks a free one)")
    parser.add_argument("--tokens", metavar="FILE", help="'CLIENT TOKEN' or 'CLIENT sha256:HEX' per line")
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="no tokens: every request is client 'anonymous' (loopback only)",
    )
    parser.add_argument(
        "--push-timeout", type=float, default=5.0, metavar="S", help="wait for room, then 429"
    )
    parser.add_argument("--heartbeat", type=float, default=15.0, metavar="S", help="event-stream heartbeat")
    parser.add_argument(
        "--retry-ms",
        type=int,
        default=1000,
        metavar="MS",
        help="the retry: hint sent to event-stream clients",
    )
    parser.add_argument(
        "--idle-ttl", type=float, default=3600.0, metavar="S", help="cancel idle streams after"
    )
    parser.add_argument("--keep-events", type=int, default=10_000, metavar="N", help="events kept per stream")
    parser.add_argument(
        "--keep-seconds", type=float, default=86_400.0, metavar="S", help="age of kept events"
    )
    parser.add_argument(
        "--cors",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="allow browser requests from ORIGIN (repeat)",
    )
    parser.add_argument("--max-streams", type=int, default=5, metavar="N", help="live streams per client")
    parser.add_argument(
        "--max-subscribers", type=int, default=50, metavar="N", help="event streams per client"
    )
    parser.add_argument(
        "--max-pushes-per-minute",
        type=int,
        default=6000,
        metavar="N",
        help="push requests per client per minute",
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn's log level (default warning)")
    add_secret_argument(parser)
    cluster = parser.add_argument_group("cluster (docs/scaling.md)")
    cluster.add_argument(
        "--cluster",
        metavar="REDIS_URL",
        help="run as one node of a cluster coordinated through this Redis (leases, event log); needs a shared --store",
    )
    cluster.add_argument(
        "--advertise",
        metavar="URL",
        help="this node's URL for requests other nodes forward to it (default http://HOST:PORT)",
    )
    cluster.add_argument(
        "--lease-ttl",
        type=float,
        default=10.0,
        metavar="S",
        help="how long a dead node's streams wait (default 10)",
    )
    cluster.add_argument(
        "--rebalance-every",
        type=float,
        default=1.0,
        metavar="S",
        help="look for streams to take over (default 1)",
    )
    cluster.add_argument(
        "--cleanup-ttl",
        type=float,
        default=86_400.0,
        metavar="S",
        help="finished streams leave Redis this long after they end (default a day)",
    )


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """``--store URL`` and ``--snapshot-every``: where a server (``serve``, ``mcp``) keeps its streams and log."""
    parser.add_argument(
        "--store", metavar="URL", default="memory:", help="snapshots and event log (default memory:)"
    )
    parser.add_argument("--snapshot-every", metavar="N|Tms", help="snapshot policy (default every chunk)")


def add_secret_argument(parser: argparse.ArgumentParser) -> None:
    """``--secret NAME=VARIABLE``: where resumed or restored streams find the secrets their snapshots only name
    (``run`` and ``resume``, ``serve`` and ``mcp``)."""
    parser.add_argument(
        "--secret",
        metavar="NAME=VARIABLE",
        action="append",
        help="resumed or restored streams take the secret NAME (bearer-token, auth-header, source-password), which "
        "snapshots never store, from the environment variable VARIABLE; by default from NAME's standard variable "
        "(see docs/sources.md)",
    )


def _config(args: argparse.Namespace) -> Any:
    from streamrt.secrets import secret_flags
    from streamrt.serve import ClientLimits, ServeConfig, load_tokens

    tokens = {} if args.no_auth else load_tokens(args.tokens)
    config = ServeConfig(
        scripts=list(args.scripts),
        store=args.store,
        tokens=tokens,
        no_auth=args.no_auth,
        host=args.host,
        port=args.port,
        push_timeout=args.push_timeout,
        heartbeat=args.heartbeat,
        retry_ms=args.retry_ms,
        idle_ttl=args.idle_ttl,
        keep_events=args.keep_events,
        keep_seconds=args.keep_seconds,
        snapshot_every=args.snapshot_every,
        cors_origins=tuple(args.cors),
        secrets=secret_flags(args.secret or ()),
        mcp_session_idle=getattr(args, "mcp_session_idle", 1800.0),
        limits=ClientLimits(
            streams=args.max_streams,
            subscribers=args.max_subscribers,
            pushes_per_minute=args.max_pushes_per_minute,
        ),
    )
    config.check()
    return config


async def _serve(args: argparse.Namespace, err: TextIO) -> int:
    from streamrt.serve import ApiServer, create_app

    config = _config(args)
    mcp = getattr(args, "mcp", False)
    if mcp and getattr(args, "cluster", None):
        raise UsageError("--mcp is not served by cluster nodes yet; run it on a plain streamrt serve")
    if mcp:
        from streamrt.mcpserve.http import MCP_PATH, create_mcp_app  # the MCP SDK: only when asked for

        app = create_mcp_app(config)
    else:
        app = _cluster_app(args, config) if getattr(args, "cluster", None) else create_app(config)
    server = ApiServer(app, config.host, config.port, log_level=args.log_level, handle_signals=True)
    await server.start()
    err.write(f"streamrt serve: listening on {server.url}" + (f" (MCP at {MCP_PATH})" if mcp else "") + "\n")
    err.flush()
    try:
        await server.wait()
    finally:
        await server.stop()
    if server.signal is None:
        return 0
    return 128 + int(server.signal)


def _cluster_app(args: argparse.Namespace, config: Any) -> Any:
    """The app of one cluster node: the server's, with requests for other nodes' streams sent to them."""
    from streamrt.cluster.node import ClusterService
    from streamrt.cluster.routing import ClusterRouting
    from streamrt.errors import UsageError
    from streamrt.serve import create_app

    if (config.store or "memory:").startswith("memory"):
        raise UsageError("--cluster needs a --store every node shares (postgresql://... or redis://...)")
    if not config.port:
        raise UsageError("--cluster needs a fixed --port (other nodes forward requests to it)")
    host = f"[{config.host}]" if ":" in config.host else config.host
    service = ClusterService(
        config,
        args.cluster,
        advertise=args.advertise or f"http://{host}:{config.port}",
        lease_ttl=args.lease_ttl,
        rebalance_every=args.rebalance_every,
        cleanup_ttl=args.cleanup_ttl,
    )
    app = create_app(config, service=service)
    app.add_middleware(ClusterRouting, service=service)
    return app


def cmd_serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import asyncio  # for start-up speed: `streamrt --help` imports this module for its flags

    try:
        return asyncio.run(_serve(args, err))
    except StreamrtError as exc:
        text = exc.format() if isinstance(exc, ScriptError) else str(exc)
        err.write(f"streamrt serve: {text}\n")
        return 2
    except OSError as exc:
        err.write(f"streamrt serve: cannot listen on {args.host}:{args.port}: {exc.strerror}\n")
        return 2


def parse_address(text: str) -> tuple[str, int]:
    """``[HOST:]PORT`` of ``run --api`` (HOST defaults to 127.0.0.1)."""
    from streamrt.errors import UsageError

    host, sep, port = text.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--api takes [HOST:]PORT, got {text!r}")
    return (host.strip("[]") if sep and host else "127.0.0.1"), int(port)


async def serve_run(provider: Any, address: str, script: str, err: TextIO) -> Any:
    """Serve the API for a run's provider (``streamrt run --api``); returns the started ApiServer.

    Tokens come from ``STREAMRT_API_TOKENS``; without any, the API is open to the loopback address only.
    """
    from streamrt.serve import ApiServer, ServeConfig, StreamService, create_app, load_tokens

    host, port = parse_address(address)
    tokens = load_tokens()
    config = ServeConfig(
        scripts=[script], store=None, tokens=tokens, no_auth=not tokens, host=host, port=port
    )
    config.check()
    service = StreamService(config, provider=provider)
    server = ApiServer(create_app(config, service=service), host, port)
    await server.start()
    err.write(f"streamrt run: API on {server.url}\n")
    err.flush()
    return server
