"""streamrt: a stateful stream-processor runtime with a small Lisp-like language.

The names below are the embedding surface: everything a host program needs to load scripts, run streams, plug in
its own sources, sinks and stores, and handle errors (``docs/embedding.md``; the exception tree is drawn in
:mod:`streamrt.errors`). They are imported on first use, so ``import streamrt`` (and the CLI) starts without
loading the compiler, asyncio machinery, SQLAlchemy or httpx. ``tests/architecture/test_public_api.py`` keeps
``__all__``, the lazy table and the names type checkers see in step.
"""

from __future__ import annotations

from streamrt.lazy import lazy_exports

# Not typing.TYPE_CHECKING: importing typing would cost `import streamrt` ten milliseconds (mypy reads the name).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from streamrt.errors import (
        ApiError,
        CapabilityError,
        DuplicateStreamError,
        EffectDeniedError,
        LimitExceededError,
        ProcessorChangedError,
        ProcessorResultError,
        QueueFullError,
        SchemaViolation,
        ScriptCompileError,
        ScriptError,
        ScriptRuntimeError,
        ScriptSyntaxError,
        SinkError,
        SnapshotConflictError,
        SnapshotCorruptError,
        SnapshotNotFoundError,
        SourceAuthError,
        SourceError,
        StoreError,
        StoreOperationError,
        StoreUnavailableError,
        StreamClosedError,
        StreamError,
        StreamOwnedError,
        StreamrtError,
        TooManyStreamsError,
        UnknownStreamError,
        UnstorableValueError,
        UsageError,
        ValueLimitError,
    )
    from streamrt.jsoncodec import from_json, to_json
    from streamrt.lang.effects import declare_effects
    from streamrt.lang.meter import DEFAULT_LIMITS, Limits
    from streamrt.lang.repl import ReplSession
    from streamrt.lang.script import CallContext, Script, StreamRequest, compile_script, load_script
    from streamrt.observe.metrics import instrument
    from streamrt.policy.effects import SecurityContext
    from streamrt.policy.schema import Schema, compile_schema
    from streamrt.pos import Pos
    from streamrt.printer import pr_str
    from streamrt.runtime.events import Observer, StatusChange
    from streamrt.runtime.machine import Status
    from streamrt.runtime.outputs import Output
    from streamrt.runtime.persist import Persister, SnapshotPolicy
    from streamrt.runtime.ports import Leases, Persistence
    from streamrt.runtime.provider import Provider
    from streamrt.runtime.spec import StreamSpec
    from streamrt.runtime.stream import StreamRecord
    from streamrt.runtime.views import StreamView
    from streamrt.sinks import OutputSink, SinkRequest, SinkType, open_sink
    from streamrt.sources.base import Chunk, ChunkFault, Control, Source
    from streamrt.sources.registry import SourceRequest, SourceType, open_source
    from streamrt.store.base import SnapshotStore
    from streamrt.store.memory import MemoryStore
    from streamrt.store.registry import StoreType, open_store
    from streamrt.store.snapshot import Snapshot
    from streamrt.values import Keyword, LList, LSet, Symbol

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "ApiError",
    "CallContext",
    "CapabilityError",
    "Chunk",
    "ChunkFault",
    "compile_schema",
    "compile_script",
    "Control",
    "declare_effects",
    "DEFAULT_LIMITS",
    "DuplicateStreamError",
    "EffectDeniedError",
    "from_json",
    "instrument",
    "Keyword",
    "Leases",
    "LimitExceededError",
    "Limits",
    "LList",
    "load_script",
    "LSet",
    "MemoryStore",
    "Observer",
    "open_sink",
    "open_source",
    "open_store",
    "Output",
    "OutputSink",
    "Persistence",
    "Persister",
    "Pos",
    "pr_str",
    "ProcessorChangedError",
    "ProcessorResultError",
    "Provider",
    "QueueFullError",
    "ReplSession",
    "Schema",
    "SchemaViolation",
    "Script",
    "ScriptCompileError",
    "ScriptError",
    "ScriptRuntimeError",
    "ScriptSyntaxError",
    "SecurityContext",
    "SinkError",
    "SinkRequest",
    "SinkType",
    "Snapshot",
    "SnapshotConflictError",
    "SnapshotCorruptError",
    "SnapshotNotFoundError",
    "SnapshotPolicy",
    "SnapshotStore",
    "Source",
    "SourceAuthError",
    "SourceError",
    "SourceRequest",
    "SourceType",
    "Status",
    "StatusChange",
    "StoreError",
    "StoreOperationError",
    "StoreType",
    "StoreUnavailableError",
    "StreamClosedError",
    "StreamError",
    "StreamOwnedError",
    "StreamRecord",
    "StreamRequest",
    "StreamrtError",
    "StreamSpec",
    "StreamView",
    "Symbol",
    "to_json",
    "TooManyStreamsError",
    "UnknownStreamError",
    "UnstorableValueError",
    "UsageError",
    "ValueLimitError",
]

_HOME: dict[str, str] = {
    "CallContext": "streamrt.lang.script",
    "CapabilityError": "streamrt.errors",
    "Chunk": "streamrt.sources.base",
    "ChunkFault": "streamrt.sources.base",
    "compile_schema": "streamrt.policy.schema",
    "compile_script": "streamrt.lang.script",
    "Control": "streamrt.sources.base",
    "declare_effects": "streamrt.lang.effects",
    "DEFAULT_LIMITS": "streamrt.lang.meter",
    "DuplicateStreamError": "streamrt.errors",
    "EffectDeniedError": "streamrt.errors",
    "from_json": "streamrt.jsoncodec",
    "instrument": "streamrt.observe.metrics",
    "Keyword": "streamrt.values",
    "Leases": "streamrt.runtime.ports",
    "LimitExceededError": "streamrt.errors",
    "Limits": "streamrt.lang.meter",
    "LList": "streamrt.values",
    "LSet": "streamrt.values",
    "load_script": "streamrt.lang.script",
    "MemoryStore": "streamrt.store.memory",
    "Observer": "streamrt.runtime.events",
    "open_sink": "streamrt.sinks",
    "open_source": "streamrt.sources.registry",
    "open_store": "streamrt.store.registry",
    "Output": "streamrt.runtime.outputs",
    "OutputSink": "streamrt.sinks",
    "Persistence": "streamrt.runtime.ports",
    "Persister": "streamrt.runtime.persist",
    "Pos": "streamrt.pos",
    "pr_str": "streamrt.printer",
    "ProcessorChangedError": "streamrt.errors",
    "ProcessorResultError": "streamrt.errors",
    "Provider": "streamrt.runtime.provider",
    "QueueFullError": "streamrt.errors",
    "ReplSession": "streamrt.lang.repl",
    "Schema": "streamrt.policy.schema",
    "SchemaViolation": "streamrt.errors",
    "Script": "streamrt.lang.script",
    "ScriptCompileError": "streamrt.errors",
    "ScriptError": "streamrt.errors",
    "ScriptRuntimeError": "streamrt.errors",
    "ScriptSyntaxError": "streamrt.errors",
    "SecurityContext": "streamrt.policy.effects",
    "SinkError": "streamrt.errors",
    "SinkRequest": "streamrt.sinks",
    "SinkType": "streamrt.sinks",
    "Snapshot": "streamrt.store.snapshot",
    "SnapshotConflictError": "streamrt.errors",
    "SnapshotCorruptError": "streamrt.errors",
    "SnapshotNotFoundError": "streamrt.errors",
    "SnapshotPolicy": "streamrt.runtime.persist",
    "SnapshotStore": "streamrt.store.base",
    "Source": "streamrt.sources.base",
    "SourceAuthError": "streamrt.errors",
    "ApiError": "streamrt.errors",
    "SourceError": "streamrt.errors",
    "SourceRequest": "streamrt.sources.registry",
    "SourceType": "streamrt.sources.registry",
    "Status": "streamrt.runtime.machine",
    "StatusChange": "streamrt.runtime.events",
    "StoreError": "streamrt.errors",
    "StoreOperationError": "streamrt.errors",
    "StoreType": "streamrt.store.registry",
    "StoreUnavailableError": "streamrt.errors",
    "StreamClosedError": "streamrt.errors",
    "StreamError": "streamrt.errors",
    "StreamOwnedError": "streamrt.errors",
    "StreamRecord": "streamrt.runtime.stream",
    "StreamRequest": "streamrt.lang.script",
    "StreamrtError": "streamrt.errors",
    "StreamSpec": "streamrt.runtime.spec",
    "StreamView": "streamrt.runtime.views",
    "Symbol": "streamrt.values",
    "to_json": "streamrt.jsoncodec",
    "TooManyStreamsError": "streamrt.errors",
    "UnknownStreamError": "streamrt.errors",
    "UnstorableValueError": "streamrt.errors",
    "UsageError": "streamrt.errors",
    "ValueLimitError": "streamrt.errors",
}
"""Each public name and the module that defines it."""


__getattr__, __dir__ = lazy_exports(globals(), _HOME)
