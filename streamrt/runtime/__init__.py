"""The runtime: the directive machine, the result contract, stream specs and records, and the asyncio provider."""

from __future__ import annotations

from streamrt.runtime.contract import interpret, result
from streamrt.runtime.events import Observer, StatusChange
from streamrt.runtime.machine import DIRECTIVES, KNOWN_ACTIONS, Effect, Event, Status, Transition, transition
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
