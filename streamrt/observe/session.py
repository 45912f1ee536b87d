"""What ``streamrt run`` turns on around a provider: logs, the ``/metrics`` server and the live progress lines.

The runner creates an :class:`Observation` when its provider exists, routes its stdout sink through
:meth:`Observation.guard`, calls :meth:`Observation.start` once the streams are started and
:meth:`Observation.stop` before it prints the closing summary (and again, harmlessly, on every way out).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TextIO

import msgspec

from streamrt.errors import UsageError
from streamrt.observe.logs import LEVELS, Console, LogFormat, LogHandler

if TYPE_CHECKING:
    from streamrt.observe.metrics import MetricsServer, StreamMetrics
    from streamrt.observe.progress import Progress
    from streamrt.runtime.outputs import Sink
    from streamrt.runtime.provider import Provider

__all__ = ["ObserveOptions", "Observation", "add_observe_arguments", "observe_options"]


class ObserveOptions(msgspec.Struct, frozen=True):
    """The observability flags of ``streamrt run``."""

    log_level: str = "warning"
    log_format: LogFormat = "text"
    metrics_port: int | None = None
    """Serve ``/metrics`` on this port (0: any free port, printed on stderr); ``None``: no server."""
    metrics_host: str = "127.0.0.1"
    metrics_per_stream: bool = False
    progress: bool | None = None
    """``None``: when stderr is a terminal; ``False``: never (``--no-progress``)."""

    def __post_init__(self) -> None:
        if self.log_level.lower() not in LEVELS:
            raise UsageError(f"--log-level: expected one of {', '.join(LEVELS)}, got {self.log_level!r}")
        if self.log_format not in ("text", "json"):
            raise UsageError(f"--log-format: expected text or json, got {self.log_format!r}")
        if self.metrics_port is not None and not 0 <= self.metrics_port <= 65535:
            raise UsageError(f"--metrics-port: expected 0..65535, got {self.metrics_port}")


class Observation:
    """The metrics server and progress display of one run (logging itself is set up before, by the runner)."""

    def __init__(
        self,
        provider: Provider,
        options: ObserveOptions,
        *,
        out: TextIO,
        err: TextIO,
        log_handler: LogHandler | None = None,
        command: str = "run",
        console: Console | None = None,
    ) -> None:
        self.provider = provider
        self.options = options
        self.out = out
        self.err = err
        self.log_handler = log_handler
        self.command = command
        self.console = console if console is not None else Console(err, options.log_format)
        self.metrics: StreamMetrics | None = None
        self.server: MetricsServer | None = None
        self.progress: Progress | None = None
        # the live lines are not JSON: under --log-format json every stderr line must be
        if options.log_format == "text" and options.progress is not False:
            # imported here, for start-up speed: the live lines need asyncio and the runtime's views, the command
            # line not; and only when they may be drawn (a run with --no-progress imports none of it)
            from streamrt.observe.progress import Progress, wants_progress

            if wants_progress(err, options.progress):
                self.progress = Progress(provider, err)

    def guard(self, sink: Sink) -> Sink:
        """The stdout sink, clearing the progress lines first when stdout is the same terminal."""
        progress = self.progress
        isatty = getattr(self.out, "isatty", None)
        if progress is None or isatty is None or not isatty():
            return sink
        return progress.guard(sink)

    def start(self) -> None:
        """Serve metrics (raises :class:`UsageError` if the port is taken) and start drawing progress."""
        if self.options.metrics_port is not None and self.server is None:
            # here, not at the top: prometheus-client loads only for runs that serve metrics (start-up time)
            from prometheus_client import CollectorRegistry

            from streamrt.observe.metrics import instrument, serve_metrics

            registry = CollectorRegistry()
            self.metrics = instrument(self.provider, registry, per_stream=self.options.metrics_per_stream)
            self.server = serve_metrics(
                registry, port=self.options.metrics_port, host=self.options.metrics_host
            )
            self.console.say(
                f"streamrt {self.command}: serving metrics at {self.server.url}",
                event="metrics",
                url=self.server.url,
            )
        if self.progress is not None:
            if self.log_handler is not None:
                self.log_handler.before_write = self.progress.clear
            self.console.before_write = self.progress.clear
            self.progress.start()

    async def stop(self) -> None:
        """Erase the progress lines and stop the metrics server; safe to call more than once."""
        if self.progress is not None:
            await self.progress.stop()
            if self.log_handler is not None:
                self.log_handler.before_write = None
            self.console.before_write = None
        server, self.server = self.server, None
        if server is not None:
            server.close()
        metrics, self.metrics = self.metrics, None
        if metrics is not None:
            metrics.close()


def add_observe_arguments(parser: argparse.ArgumentParser) -> None:
    """The observability flags, for ``streamrt run`` (and any command that runs streams)."""
    group = parser.add_argument_group("observability (logs and progress go to stderr; stdout stays outputs)")
    group.add_argument(
        "--log-level",
        choices=LEVELS,
        default="warning",
        type=str.lower,
        help="lifecycle logs at this level and up",
    )
    group.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="text lines, or JSON lines: then every stderr line is one JSON object (no live status lines)",
    )
    group.add_argument(
        "--metrics-port",
        metavar="PORT",
        type=int,
        help="serve Prometheus /metrics on this port (0: any free one)",
    )
    group.add_argument(
        "--metrics-host", metavar="HOST", default="127.0.0.1", help="address for /metrics (default 127.0.0.1)"
    )
    group.add_argument(
        "--metrics-per-stream", action="store_true", help="add a stream_id label to every stream metric"
    )
    group.add_argument(
        "--no-progress", action="store_true", help="no live status lines, even when stderr is a terminal"
    )


def observe_options(args: argparse.Namespace) -> ObserveOptions:
    """The :class:`ObserveOptions` that :func:`add_observe_arguments`' flags ask for."""
    return ObserveOptions(
        log_level=args.log_level,
        log_format=args.log_format,
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
        metrics_per_stream=args.metrics_per_stream,
        progress=False if args.no_progress else None,
    )
