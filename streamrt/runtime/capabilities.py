"""The host capabilities a script can ``call``, bound to a :class:`~streamrt.runtime.provider.Provider` (through
the :class:`CapabilityHost` port, which the provider implements).

``:mcp.stream.start`` starts a stream right away (``mcp-stream`` forms at the top level of a script start streams
while the script loads) and returns its id; ``:mcp.stream.inspect`` returns what ``Provider.inspect`` does, with
kebab-case keyword keys (``:queue-capacity``) so scripts read it naturally; ``:mcp.stream.pause`` / ``resume`` /
``cancel`` apply host directives and return the new status; ``:log`` writes to the ``streamrt.script`` logger;
``:clock`` returns the provider's processing time in ms since the epoch (the clock timers run by, so a test's fake
clock too).

Host-side failures (unknown stream, duplicate id, a source that cannot be opened) become
:class:`~streamrt.errors.CapabilityError`, which the script reports at the line of the ``call``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from streamrt.errors import CapabilityError, ScriptError, StreamrtError, UsageError
from streamrt.lang.script import stream_request
from streamrt.printer import pr_str
from streamrt.runtime.spec import STREAM_ID, StreamSpec
from streamrt.runtime.views import StreamView
from streamrt.sources.base import Source
from streamrt.values import Keyword

if TYPE_CHECKING:
    from streamrt.lang.script import CallContext, Capability, Script, StreamRequest

__all__ = [
    "CapabilityHost",
    "SourceFactory",
    "build_capabilities",
    "request_spec",
    "script_function",
    "start_from_request",
]

SourceFactory = Callable[[str, Mapping[Keyword, Any]], "Source | None"]
"""Opens the source of a stream from its endpoint and options; ``None`` means the host feeds it."""


class CapabilityHost(Protocol):
    """What the capabilities ask of the provider they are bound to (:class:`~streamrt.runtime.provider.Provider`)."""

    @property
    def clock(self) -> Callable[[], float]: ...
    def start(
        self,
        processor: Callable[..., Any],
        *,
        initial_state: Any = None,
        source: Source | None = None,
        on_end: Callable[..., Any] | None = None,
        processor_name: str | None = None,
        spec: StreamSpec | None = None,
    ) -> str: ...
    def inspect(
        self, stream_id: str | None = None, *, include_state: bool = False, include_queue: bool = False
    ) -> dict[str, Any]: ...
    def record(self, stream_id: str) -> StreamView: ...
    def pause(self, stream_id: str) -> None: ...
    def resume(self, stream_id: str) -> None: ...
    def cancel(self, stream_id: str) -> None: ...


_MESSAGE: Final = Keyword("message")
_LEVEL: Final = Keyword("level")
_INCLUDE_STATE: Final = Keyword("include-state")
_INCLUDE_QUEUE: Final = Keyword("include-queue")
_RAW: Final = frozenset({"state", "initial_state", "options", "chunk", "meta"})

log = logging.getLogger("streamrt.script")


def script_function(script: Script, ref: Any, what: str) -> Callable[..., Any]:
    """The function of ``script`` that ``ref`` names (a string or keyword); a callable is taken as it is."""
    if isinstance(ref, Keyword):
        ref = ref.qualified
    if isinstance(ref, str):
        return script.processor(ref)
    if callable(ref):
        return ref  # type: ignore[no-any-return]
    raise UsageError(f"{what} must name a function of the script, got {pr_str(ref)}")


def request_spec(request: StreamRequest, overrides: StreamSpec | None = None) -> StreamSpec:
    """The spec of an ``mcp-stream`` request: its options, its endpoint, and ``overrides`` on top."""
    spec = StreamSpec.parse(request.options, endpoint=request.endpoint)
    return spec if overrides is None else spec.merged(overrides)


def start_from_request(
    provider: CapabilityHost,
    script: Script,
    request: StreamRequest,
    *,
    source: Source | None = None,
    overrides: StreamSpec | None = None,
    source_factory: SourceFactory | None = None,
) -> str:
    """Start the stream ``request`` describes; ``overrides`` win over the request's options."""
    spec = request_spec(request, overrides)
    processor = script.processor(request.processor)
    on_end = None if spec.on_end is None else script_function(script, spec.on_end, ":on-end")
    if source is None and source_factory is not None:
        source = source_factory(request.endpoint, spec.options())
    return provider.start(
        processor,
        spec=spec,
        initial_state=request.initial_state,
        source=source,
        on_end=on_end,
        processor_name=request.processor,
    )


def _for_script(value: Any) -> Any:
    """An inspect report with kebab-case keyword keys; script-owned values (state, chunks) left as they are."""
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if k == "streams" and isinstance(v, dict):
                out[Keyword("streams")] = {sid: _for_script(row) for sid, row in v.items()}
            elif isinstance(k, str):
                out[Keyword(k.replace("_", "-"))] = v if k in _RAW else _for_script(v)
            else:
                out[k] = v
        return out
    if isinstance(value, list):
        return tuple(_for_script(v) for v in value)
    return value


def _stream_id(args: Any, name: str) -> str:
    sid = args.get(STREAM_ID) if isinstance(args, Mapping) else args
    if not isinstance(sid, str):
        raise CapabilityError(f':{name} needs :stream-id, a string, e.g. {{:stream-id "my-stream"}}')
    return sid


def build_capabilities(
    provider: CapabilityHost,
    *,
    source_factory: SourceFactory | None = None,
    overrides: StreamSpec | None = None,
) -> dict[str, Capability]:
    """The capability table; an ``overrides`` stream id names the one stream the script may start."""
    started: list[str] = []
    only = overrides.stream_id if overrides is not None else None

    def start(args: dict[Keyword, Any], ctx: CallContext) -> str:
        request = stream_request(args, ctx.pos)
        if only is not None and started:
            raise CapabilityError(
                f"the stream id {only!r} was given for one stream, but the script starts more than one"
            )
        try:
            sid = start_from_request(
                provider, ctx.script, request, overrides=overrides, source_factory=source_factory
            )
        except ScriptError:
            raise
        except StreamrtError as exc:
            raise CapabilityError(str(exc)) from None
        started.append(sid)
        return sid

    def inspect(args: dict[Keyword, Any], ctx: CallContext) -> Any:
        sid = args.get(STREAM_ID) if isinstance(args, Mapping) else None
        include_state = bool(args.get(_INCLUDE_STATE)) if isinstance(args, Mapping) else False
        include_queue = bool(args.get(_INCLUDE_QUEUE)) if isinstance(args, Mapping) else False
        try:
            report = provider.inspect(sid, include_state=include_state, include_queue=include_queue)
        except StreamrtError as exc:
            raise CapabilityError(str(exc)) from None
        return _for_script(report)

    def directive(name: str, apply: Callable[[str], None]) -> Capability:
        def call(args: dict[Keyword, Any], ctx: CallContext) -> Keyword:
            sid = _stream_id(args, name)
            try:
                apply(sid)
                return provider.record(sid).status.keyword
            except StreamrtError as exc:
                raise CapabilityError(str(exc)) from None

        return call

    def log_capability(args: dict[Keyword, Any], ctx: CallContext) -> None:
        message = args.get(_MESSAGE, args) if isinstance(args, Mapping) else args
        level_name = args.get(_LEVEL) if isinstance(args, Mapping) else None
        if isinstance(level_name, Keyword):
            level_name = level_name.name
        level = logging.getLevelNamesMapping().get(str(level_name or "info").upper(), logging.INFO)
        log.log(
            level,
            "%s",
            message if isinstance(message, str) else pr_str(message),
            extra={"script": ctx.script.filename, "line": ctx.pos.line if ctx.pos else None},
        )

    def clock(args: Any, ctx: CallContext) -> int:
        return round(provider.clock() * 1000)

    return {
        "clock": clock,
        "mcp.stream.start": start,
        "mcp.stream.inspect": inspect,
        "mcp.stream.pause": directive("mcp.stream.pause", provider.pause),
        "mcp.stream.resume": directive("mcp.stream.resume", provider.resume),
        "mcp.stream.cancel": directive("mcp.stream.cancel", provider.cancel),
        "log": log_capability,
    }
