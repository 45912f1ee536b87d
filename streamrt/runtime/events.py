"""The event port: what a provider tells its observers, in order, while it runs.

Theory of operation
-------------------
An :class:`Observer` is handed to ``Provider(observers=[...])`` or :meth:`Provider.add_observer
<streamrt.runtime.provider.Provider.add_observer>`; it overrides the methods it cares about. The provider calls
them synchronously, inside its processing loop, in the order things happen to each stream: a chunk's outputs before
the status change that chunk's result asked for, a dead letter before the chunk after it. So a host that appends
what it is told to a durable log (a server's event log with per-stream ids, say) records each stream's history in
order, and nothing happens to a stream between two events that the log does not show.

- :meth:`Observer.output`: every value a processor (or ``:on-end``) emits, as an :class:`Output` with its seq.
- :meth:`Observer.status`: every change of status (from, to, the event, the message, the chunk that led to it).
- :meth:`Observer.dead_letter`: every chunk given up under ``:on-error :dead-letter``.
- :meth:`Observer.started` / :meth:`Observer.released`: a stream appeared (started or restored) / was handed over.
- :meth:`Observer.batch` and :meth:`Observer.snapshots`: for metrics, once per processed batch (never per chunk)
  and once per committed snapshot write.

Only the methods an observer overrides are called (the hub keeps a list per event), so an observer of status
changes costs the per-chunk path nothing. An exception from :meth:`Observer.output` fails the stream that emitted
(an output that could not be delivered is not lost quietly), as an output sink's does; one from any other method
is logged and the stream goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import msgspec

from streamrt.errors import SinkError
from streamrt.runtime.callables import failure_text, name_of
from streamrt.runtime.machine import Event, Status
from streamrt.runtime.outputs import Output, OutputSubscription, Sink

if TYPE_CHECKING:
    from streamrt.runtime.stream import StreamRecord
    from streamrt.runtime.views import StreamView
    from streamrt.store.snapshot import DeadLetter, Snapshot

__all__ = ["EventHub", "Observer", "StatusChange"]

log: Final = logging.getLogger("streamrt.stream")


class StatusChange(msgspec.Struct, frozen=True):
    """A stream's status changed: from ``source`` to ``target`` on ``event``."""

    stream_id: str
    source: Status
    target: Status
    event: Event
    message: str | None
    """The stream's message after the change (why it failed, for ``:error``)."""
    seq: int | None
    """The chunk whose result or failure led to the change, when there is one."""
    accepted: int
    """Chunks the stream had accepted by then (its ``seq``)."""


class Observer:
    """Base class of the event port: override what you need; every method does nothing here."""

    def started(self, stream: StreamView) -> None:
        """A stream was started or restored on the provider."""

    def output(self, output: Output) -> None:
        """A value was emitted (raise to fail the stream: the output could not be delivered)."""

    def status(self, change: StatusChange) -> None:
        """A stream's status changed."""

    def dead_letter(self, letter: DeadLetter) -> None:
        """A chunk was given up and kept as a dead letter (``:on-error :dead-letter``)."""

    def released(self, stream_id: str) -> None:
        """A stream left the provider without ending (:meth:`Provider.release`): it goes on elsewhere."""

    def batch(self, stream_id: str, processor: str, n: int, latency: float | None) -> None:
        """A stream processed ``n`` chunks; ``latency`` is the last one's, acceptance to end of processing."""

    def snapshots(self, snapshots: Sequence[Snapshot], seconds: float) -> None:
        """``snapshots`` were committed together in ``seconds``."""


def _overrides(observer: Any, name: str) -> bool:
    mine = getattr(type(observer), name, None)
    return mine is not None and mine is not getattr(Observer, name)


class EventHub:
    """The provider's observers, output sinks and subscriptions, with one list of callbacks per event."""

    __slots__ = (
        "_observers",
        "_sinks",
        "on_batch",
        "on_letter",
        "on_output",
        "on_released",
        "on_snapshots",
        "on_started",
        "on_status",
        "subs",
    )

    def __init__(self) -> None:
        self._observers: list[Observer] = []
        self._sinks: list[Sink] = []
        self.subs: list[OutputSubscription] = []
        self.on_output: tuple[Callable[[Output], Any], ...] = ()
        self.on_status: tuple[Callable[[StatusChange], None], ...] = ()
        self.on_letter: tuple[Callable[[DeadLetter], None], ...] = ()
        self.on_started: tuple[Callable[[StreamView], None], ...] = ()
        self.on_released: tuple[Callable[[str], None], ...] = ()
        self.on_batch: tuple[Callable[[str, str, int, float | None], None], ...] = ()
        self.on_snapshots: tuple[Callable[[Sequence[Snapshot], float], None], ...] = ()

    @property
    def observers(self) -> tuple[Observer, ...]:
        return tuple(self._observers)

    def add(self, observer: Observer) -> None:
        self._observers.append(observer)
        self._rebuild()

    def remove(self, observer: Observer) -> None:
        self._observers.remove(observer)
        self._rebuild()

    def add_sink(self, sink: Sink) -> None:
        self._sinks.append(sink)
        self._rebuild()

    def _rebuild(self) -> None:
        def bound(name: str) -> tuple[Any, ...]:
            return tuple(getattr(o, name) for o in self._observers if _overrides(o, name))

        self.on_output = (*self._sinks, *bound("output"))
        self.on_status = bound("status")
        self.on_letter = bound("dead_letter")
        self.on_started = bound("started")
        self.on_released = bound("released")
        self.on_batch = bound("batch")
        self.on_snapshots = bound("snapshots")

    # --- telling -------------------------------------------------------------------------------------------------

    def emit(self, rec: StreamRecord, values: tuple[Any, ...]) -> None:
        """Number each value as the stream's next output and hand it to every sink, observer and subscription."""
        targets = self.on_output
        subs = self.subs
        for value in values:
            rec.output_seq += 1
            rec.outputs += 1
            if targets or subs:
                out = Output(rec.id, rec.output_seq, value)
                for target in targets:
                    try:
                        target(out)
                    except Exception as exc:
                        raise SinkError(f"output sink {name_of(target)} failed: {failure_text(exc)}") from exc
                for sub in subs:
                    sub.put(out)

    def tell(self, callbacks: tuple[Callable[..., None], ...], *args: Any) -> None:
        """Call each of ``callbacks`` with ``args``; a failing observer is logged, and the others still told."""
        for callback in callbacks:
            try:
                callback(*args)
            except Exception:
                log.exception("observer %s failed", name_of(callback))
