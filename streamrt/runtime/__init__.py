"""The runtime: the directive machine, the result contract, stream records and the asyncio provider."""

from __future__ import annotations

from streamrt.runtime.contract import interpret, result
from streamrt.runtime.machine import DIRECTIVES, KNOWN_ACTIONS, Effect, Event, Status, Transition, transition
from streamrt.runtime.outputs import Output
from streamrt.runtime.provider import Provider, takes_meta
from streamrt.runtime.stream import DEFAULT_QUEUE_CAPACITY, StreamRecord, StreamStats

__all__ = [
    "DEFAULT_QUEUE_CAPACITY",
    "DIRECTIVES",
    "KNOWN_ACTIONS",
    "Effect",
    "Event",
    "Output",
    "Provider",
    "Status",
    "StreamRecord",
    "StreamStats",
    "Transition",
    "interpret",
    "result",
    "takes_meta",
    "transition",
]
