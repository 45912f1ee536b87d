"""The runtime: the directive machine, the result contract, stream specs and records, and the asyncio provider.

The names below are imported on first use (PEP 562), so importing one light module of the package
(``runtime.lifelog``, which the observers' log module needs, or ``runtime.views``) does not load the provider, the
compiler and asyncio with it: ``streamrt --version`` and ``streamrt check`` start without them.
"""

from __future__ import annotations

from streamrt.lazy import lazy_exports

TYPE_CHECKING = (
    False  # not typing.TYPE_CHECKING: the package's import stays free of typing (mypy reads the name)
)
if TYPE_CHECKING:
    from streamrt.runtime.contract import interpret, result
    from streamrt.runtime.events import Observer, StatusChange
    from streamrt.runtime.machine import (
        DIRECTIVES,
        KNOWN_ACTIONS,
        Effect,
        Event,
        Status,
        Transition,
        transition,
    )
    from streamrt.runtime.outputs import Output
    from streamrt.runtime.persist import Persister, SnapshotPolicy
    from streamrt.runtime.ports import Leases, Persistence, PersistenceHost
    from streamrt.runtime.provider import Provider, takes_meta
    from streamrt.runtime.spec import StreamSpec
    from streamrt.runtime.stream import DEFAULT_QUEUE_CAPACITY, StreamRecord, StreamStats
    from streamrt.runtime.views import StreamsView, StreamView

__all__ = [
    "DEFAULT_QUEUE_CAPACITY",
    "DIRECTIVES",
    "KNOWN_ACTIONS",
    "Effect",
    "Event",
    "Leases",
    "Observer",
    "Output",
    "Persistence",
    "PersistenceHost",
    "Persister",
    "Provider",
    "SnapshotPolicy",
    "Status",
    "StatusChange",
    "StreamRecord",
    "StreamSpec",
    "StreamStats",
    "StreamView",
    "StreamsView",
    "Transition",
    "interpret",
    "result",
    "takes_meta",
    "transition",
]

_HOME: dict[str, str] = {
    "interpret": "streamrt.runtime.contract",
    "result": "streamrt.runtime.contract",
    "Observer": "streamrt.runtime.events",
    "StatusChange": "streamrt.runtime.events",
    "DIRECTIVES": "streamrt.runtime.machine",
    "KNOWN_ACTIONS": "streamrt.runtime.machine",
    "Effect": "streamrt.runtime.machine",
    "Event": "streamrt.runtime.machine",
    "Status": "streamrt.runtime.machine",
    "Transition": "streamrt.runtime.machine",
    "transition": "streamrt.runtime.machine",
    "Output": "streamrt.runtime.outputs",
    "Persister": "streamrt.runtime.persist",
    "SnapshotPolicy": "streamrt.runtime.persist",
    "Leases": "streamrt.runtime.ports",
    "Persistence": "streamrt.runtime.ports",
    "PersistenceHost": "streamrt.runtime.ports",
    "Provider": "streamrt.runtime.provider",
    "takes_meta": "streamrt.runtime.provider",
    "StreamSpec": "streamrt.runtime.spec",
    "DEFAULT_QUEUE_CAPACITY": "streamrt.runtime.stream",
    "StreamRecord": "streamrt.runtime.stream",
    "StreamStats": "streamrt.runtime.stream",
    "StreamsView": "streamrt.runtime.views",
    "StreamView": "streamrt.runtime.views",
}
"""Each public name and the module that defines it."""


__getattr__, __dir__ = lazy_exports(globals(), _HOME)
