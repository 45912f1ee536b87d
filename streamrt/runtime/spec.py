"""What a stream is asked to be: the :class:`StreamSpec`, parsed and checked once.

Theory of operation
-------------------
A stream's options reach the runtime from four places: an ``mcp-stream`` form's options map (keyword keys), the
keywords of :meth:`Provider.start <streamrt.runtime.provider.Provider.start>`, the command line's flags, and a
snapshot's recorded options on resume; a network face adds a JSON body (string keys). Each of them is turned into
one :class:`StreamSpec` by :meth:`StreamSpec.parse` (or :meth:`StreamSpec.from_json`), which checks every value
once and says what is wrong by the option's name. Everything after that reads typed fields: the provider, the
guard, the limits, the snapshot.

Options the runtime does not know (a source's ``:retry``, ``:headers``, ``:bearer-token``, a host's own keys) are
kept as they are in :attr:`StreamSpec.extra`: the source factory reads them, and :meth:`StreamSpec.options` gives
the whole map back, keyword-keyed, as snapshots record it and inspect shows it.

A spec is data: it holds no functions (an ``:on-end`` function is named, and the script-aware caller finds it), so
it survives a snapshot and can travel between processes.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import msgspec

from streamrt.errors import UsageError
from streamrt.jsoncodec import from_json
from streamrt.policy.guard import OnError
from streamrt.policy.limits import Limits
from streamrt.printer import pr_str
from streamrt.values import Keyword

if TYPE_CHECKING:
    from streamrt.policy.schema import Schema

__all__ = [
    "ENDPOINT",
    "INPUT_SCHEMA",
    "LIMITS",
    "ON_END",
    "ON_ERROR",
    "OUTPUT_SCHEMA",
    "QUEUE_CAPACITY",
    "RESULT",
    "SCRIPT",
    "STATE_SCHEMA",
    "STREAM_ID",
    "StreamSpec",
]

STREAM_ID: Final = Keyword("stream-id")
QUEUE_CAPACITY: Final = Keyword("queue-capacity")
ON_END: Final = Keyword("on-end")
ENDPOINT: Final = Keyword("endpoint")
INPUT_SCHEMA: Final = Keyword("input-schema")
OUTPUT_SCHEMA: Final = Keyword("output-schema")
STATE_SCHEMA: Final = Keyword("state-schema")
ON_ERROR: Final = Keyword("on-error")
LIMITS: Final = Keyword("limits")
RESULT: Final = Keyword("result")
"""``:result :strict``: every result must be a result map; a bare map (taken as the new state) is refused."""
SCRIPT: Final = Keyword("script")
"""The script's path, recorded so that ``resume`` can find the script again."""

_FIELDS: Final = {
    STREAM_ID: "stream_id",
    QUEUE_CAPACITY: "queue_capacity",
    ON_END: "on_end",
    ENDPOINT: "endpoint",
    INPUT_SCHEMA: "input_schema",
    OUTPUT_SCHEMA: "output_schema",
    STATE_SCHEMA: "state_schema",
    ON_ERROR: "on_error",
    LIMITS: "limits",
    RESULT: "result",
    SCRIPT: "script",
}
"""Each known option and the field that holds it."""
_EMPTY: Final[Mapping[Keyword, Any]] = MappingProxyType({})
_KEPT_APART: Final = frozenset({STREAM_ID, QUEUE_CAPACITY})


class StreamSpec(msgspec.Struct, frozen=True):
    """A stream's options, typed and checked; build one with :meth:`parse` or :meth:`from_json`.

    ``None`` means "not given": the provider's default applies (its queue capacity, a generated id, ...).
    """

    stream_id: str | None = None
    queue_capacity: int | None = None
    on_end: str | None = None
    """The name of the script function to run when the input ends."""
    endpoint: str | None = None
    """Where the stream's chunks come from, as the ``mcp-stream`` form named it."""
    input_schema: Schema | None = None
    output_schema: Schema | None = None
    state_schema: Schema | None = None
    on_error: OnError = OnError.FAIL
    limits: Mapping[Keyword | str, Any] | None = None
    """The ``:limits`` override (``{:fuel N ...}``), checked; the provider's limits fill in the rest."""
    result: str | None = None
    """``"strict"``: a processor must return a result map (``{:state ...}`` and the like); None: a map with none
    of the result keys is the new state (the default)."""
    script: str | None = None
    extra: Mapping[Keyword, Any] = msgspec.field(default_factory=lambda: _EMPTY)
    """Every other option, as given (a source's ``:retry``, ``:headers``, ...)."""

    def __post_init__(self) -> None:
        sid = self.stream_id
        if sid is not None and (type(sid) is not str or not sid):
            raise UsageError(f":stream-id must be a non-empty string, got {pr_str(sid)}")
        capacity = self.queue_capacity
        if capacity is not None and (type(capacity) is not int or capacity < 1):
            raise UsageError(f":queue-capacity must be a positive integer, got {pr_str(capacity)}")
        for key in (ON_END, ENDPOINT, SCRIPT):
            value = getattr(self, _FIELDS[key])
            if value is not None and (type(value) is not str or not value):
                raise UsageError(f"{pr_str(key)} must be a non-empty string, got {pr_str(value)}")
        if type(self.on_error) is not OnError:
            raise UsageError(f":on-error must be an OnError, got {self.on_error!r}")
        if self.limits is not None:
            Limits().merged(self.limits)  # raises on an unknown key or a bad value
        if self.result not in (None, "strict"):
            raise UsageError(f":result must be :strict (or left out), got {pr_str(self.result)}")

    # --- building -------------------------------------------------------------------------------------------

    @classmethod
    def parse(cls, options: Mapping[Any, Any] | None = None, **given: Any) -> StreamSpec:
        """The spec of an options map (keyword or string keys), with ``given`` fields (not None) on top.

        Values are checked here, once: a schema is compiled, ``:on-error`` must name a policy, ``:limits`` must be a
        map of known limits. ``given`` takes the field names (``stream_id=...``), as ``Provider.start`` does.
        """
        fields: dict[str, Any] = {}
        extra: dict[Keyword, Any] = {}
        for key, value in (options or {}).items():
            kw = key if type(key) is Keyword else Keyword(str(key).lstrip(":").replace("_", "-"))
            name = _FIELDS.get(kw)
            if name is None:
                extra[kw] = value
            elif value is not None:
                fields[name] = value
        fields.update((k, v) for k, v in given.items() if v is not None)
        unknown = set(fields) - set(_FIELDS.values())
        if unknown:
            raise UsageError(f"unknown stream spec field(s): {', '.join(sorted(unknown))}")
        if not fields and not extra and cls is StreamSpec:
            return EMPTY_SPEC
        return cls(**_typed(fields), extra=MappingProxyType(extra) if extra else _EMPTY)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> StreamSpec:
        """The spec of a JSON object's options (string keys, ``"queue_capacity"`` or ``"queue-capacity"``).

        Values are JSON data: they become language values (maps get keyword keys) before they are parsed, and
        schemas may be written as language text (``"[:map [:value :int]]"``).
        """
        if not isinstance(body, Mapping):
            raise UsageError(f"stream options must be a JSON object, got {type(body).__name__}")
        options: dict[Keyword, Any] = {}
        for key, value in body.items():
            if not isinstance(key, str) or not key:
                raise UsageError(f"an option name is a non-empty string, got {key!r}")
            options[Keyword(key.replace("_", "-"))] = from_json(value)
        return cls.parse(options)

    def merged(self, overrides: StreamSpec) -> StreamSpec:
        """This spec with every field ``overrides`` gives (not None, or a policy other than ``:fail``) on top."""
        changes: dict[str, Any] = {
            name: getattr(overrides, name)
            for name in _FIELDS.values()
            if getattr(overrides, name) is not None and name != "on_error"
        }
        if overrides.on_error is not OnError.FAIL:
            changes["on_error"] = overrides.on_error
        if overrides.extra:
            changes["extra"] = MappingProxyType({**self.extra, **overrides.extra})
        return msgspec.structs.replace(self, **changes) if changes else self

    def kept(self) -> StreamSpec:
        """This spec without the stream id and queue capacity, which a stream keeps apart (its ``id``, its
        queue's ``capacity``); the shared :data:`EMPTY_SPEC` when nothing else is set (most streams)."""
        if self.stream_id is None and self.queue_capacity is None:
            return self
        bare = msgspec.structs.replace(self, stream_id=None, queue_capacity=None)
        return EMPTY_SPEC if bare == EMPTY_SPEC else bare

    @staticmethod
    def overriding(
        spec: StreamSpec | None, stream_id: str | None, queue_capacity: int | None
    ) -> StreamSpec | None:
        """Overrides of a script's streams: ``spec``, with ``stream_id`` and ``queue_capacity`` (flags) on top."""
        if stream_id is None and queue_capacity is None:
            return spec
        given = StreamSpec(stream_id=stream_id, queue_capacity=queue_capacity)
        return given if spec is None else spec.merged(given)

    # --- reading --------------------------------------------------------------------------------------------

    @property
    def guarded(self) -> bool:
        """Whether the stream checks anything per chunk (a schema, or an ``:on-error`` other than ``:fail``)."""
        return (
            self.on_error is not OnError.FAIL
            or self.input_schema is not None
            or self.output_schema is not None
            or self.state_schema is not None
        )

    def options(self) -> dict[Keyword, Any]:
        """The spec as a keyword-keyed options map of plain data (what snapshots record and inspect shows).

        The stream id and the queue capacity are left out: a stream keeps them apart (its ``id`` and its queue's
        ``capacity``, which hold the defaults the provider filled in).
        """
        out: dict[Keyword, Any] = dict(self.extra)
        for key, name in _FIELDS.items():
            value = getattr(self, name)
            if value is None or key in _KEPT_APART:
                continue
            if name.endswith("_schema"):  # a compiled Schema: its spec is the option
                value = value.spec
            elif type(value) is OnError:
                if value is OnError.FAIL:
                    continue
                value = value.keyword
            elif key is RESULT:
                value = Keyword(value)
            out[key] = value
        return out


EMPTY_SPEC: Final = StreamSpec()
"""The spec of a stream started with no options (shared: a spec is immutable)."""


def _typed(fields: dict[str, Any]) -> dict[str, Any]:
    """Turn option values into the fields' types (schemas compiled, the policy looked up, names as strings)."""
    for name in ("input_schema", "output_schema", "state_schema"):
        spec = fields.get(name)
        if spec is not None:
            # the schema language loads with the first stream that has a schema (most have none)
            from streamrt.policy.schema import compile_schema

            fields[name] = compile_schema(spec, ":" + name.replace("_", "-"))
    if "on_error" in fields:
        fields["on_error"] = OnError.parse(fields["on_error"])
    on_end = fields.get("on_end")
    if type(on_end) is Keyword:
        fields["on_end"] = on_end.qualified
    result = fields.get("result")
    if type(result) is Keyword or (type(result) is str and result.startswith(":")):
        fields["result"] = str(getattr(result, "qualified", result)).lstrip(":")
    limits = fields.get("limits")
    if limits is not None:
        if isinstance(limits, Limits):
            limits = limits.as_option()
        elif not isinstance(limits, Mapping):
            raise UsageError(
                f":limits must be a map such as {{:fuel 1000000 :time-ms 500}}, got {pr_str(limits)}"
            )
        fields["limits"] = MappingProxyType(dict(limits))
    return fields
