"""Read-only views of a provider's streams: what hosts, metrics, progress lines and inspect read.

A :class:`StreamView` is one slot around the live record, so making one costs an allocation and reading it reads
the stream as it is now; listing ten thousand streams is ten thousand small objects and no copying. It has no
setters: a host changes a stream only through the provider's methods (push, directives, release). Values inside
(state, chunks, options) are language values and immutable by the language's rules; the queue is returned as a
tuple copy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from streamrt.runtime.machine import Status
from streamrt.runtime.spec import StreamSpec
from streamrt.runtime.stream import Entry, StreamRecord, StreamStats
from streamrt.secrets import redact_url, shown_options
from streamrt.sources.base import Continuation
from streamrt.values import Keyword

if TYPE_CHECKING:
    from streamrt.store.snapshot import DeadLetter

__all__ = ["StreamView", "StreamsView"]


class StreamView:
    """One stream, read-only and live."""

    __slots__ = ("_r",)

    def __init__(self, record: StreamRecord) -> None:
        self._r = record

    def __repr__(self) -> str:
        r = self._r
        return f"<StreamView {r.id} {r.status.value} processed={r.processed} queued={len(r.queue)}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StreamView) and other._r is self._r

    def __hash__(self) -> int:
        return id(self._r)

    # --- identity and spec -------------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._r.id

    @property
    def processor_name(self) -> str:
        return self._r.program.name

    @property
    def spec(self) -> StreamSpec:
        """The spec as the host gave it (secrets included: it is the host's own configuration)."""
        return self._r.spec

    @property
    def result_shape(self) -> str | None:
        """What every result of the processor is, if its script's compiler proved it (``"bare"``, ``"state"``)."""
        return self._r.program.shape

    @property
    def options(self) -> dict[Keyword, Any]:
        """The stream's options as a keyword-keyed map of data (a fresh copy), secrets shown as ``"[redacted]"``."""
        return shown_options(self._r.spec.options())

    @property
    def source_kind(self) -> str:
        return self._r.source_kind

    @property
    def source_uri(self) -> str | None:
        """The source's URI, user info shown as ``***``."""
        source = self._r.tasks.source
        return redact_url(source.uri) if source is not None else None

    # --- where it is ---------------------------------------------------------------------------------------------

    @property
    def status(self) -> Status:
        return self._r.status

    @property
    def message(self) -> str | None:
        return self._r.message

    @property
    def state(self) -> Any:
        return self._r.state

    @property
    def initial_state(self) -> Any:
        return self._r.initial_state

    @property
    def seq(self) -> int:
        """Chunks accepted so far."""
        return self._r.seq

    @property
    def output_seq(self) -> int:
        return self._r.output_seq

    @property
    def input_ended(self) -> bool:
        return self._r.input_ended

    @property
    def continuation(self) -> Continuation | None:
        return self._r.continuation

    @property
    def capacity(self) -> int:
        return self._r.queue.capacity

    @property
    def queue_depth(self) -> int:
        return len(self._r.queue)

    @property
    def full(self) -> bool:
        return len(self._r.queue) >= self._r.queue.capacity

    @property
    def queue(self) -> tuple[Entry, ...]:
        """The queued chunks as ``(seq, chunk, meta, received_at)`` entries, oldest first (a copy)."""
        return tuple(self._r.queue)

    @property
    def fault(self) -> tuple[int, str] | None:
        """The first queued chunk the source could not decode, ``(seq, message)``, if any."""
        faults = self._r.faults
        return next(iter(faults.items()), None) if faults else None

    @property
    def faults(self) -> dict[int, str]:
        """The queued chunks the source could not decode: ``{seq: message}``, oldest first (a copy)."""
        return dict(self._r.faults or {})

    @property
    def timers(self) -> dict[Any, float]:
        """The stream's timers, due or not: name -> due time (seconds since the epoch, the provider's clock)."""
        due = {name: when for name, _, when in self._r.due or ()}
        return {**due, **(self._r.timers or {})}

    # --- counters ------------------------------------------------------------------------------------------------

    def statistics(self) -> StreamStats:
        return self._r.statistics()

    @property
    def processed(self) -> int:
        return self._r.processed

    @property
    def dropped(self) -> int:
        return self._r.dropped

    @property
    def errors(self) -> int:
        return self._r.errors

    @property
    def outputs(self) -> int:
        return self._r.outputs

    @property
    def skipped(self) -> int:
        return self._r.skipped

    @property
    def timers_run(self) -> int:
        """Timer chunks the processor was called with (not counted in :attr:`processed`)."""
        return self._r.timers_run

    @property
    def dead_lettered(self) -> int:
        return self._r.dead_lettered

    @property
    def backpressure_wait(self) -> float:
        return self._r.backpressure_wait

    @property
    def last_latency(self) -> float | None:
        return self._r.last_latency

    @property
    def last_event_time(self) -> float | None:
        return self._r.last_event_time

    @property
    def queue_high_watermark(self) -> int:
        return self._r.queue.high_watermark

    @property
    def dead_letters(self) -> tuple[DeadLetter, ...]:
        """Dead letters kept in memory (streams without a store), oldest first."""
        letters = self._r.letters
        return tuple(letters) if letters is not None else ()

    @property
    def dead_letters_dropped(self) -> int:
        """In-memory dead letters pushed out by newer ones."""
        letters = self._r.letters
        return letters.dropped if letters is not None else 0

    # --- what it waits for ---------------------------------------------------------------------------------------

    @property
    def producers_waiting(self) -> int:
        """Producers blocked on the full queue now."""
        return len(self._r.tasks.space_waiters or ())

    @property
    def source_reconnects(self) -> int:
        source = self._r.tasks.source
        return source.health.reconnects if source is not None else 0

    @property
    def source_reconnecting(self) -> bool:
        source = self._r.tasks.source
        return source is not None and source.health.state == "reconnecting"

    def source_description(self) -> dict[str, Any] | None:
        """What the source says about itself (``Source.describe``), or None for a stream fed by its host."""
        source = self._r.tasks.source
        return dict(source.describe()) if source is not None else None

    def activity(self) -> dict[str, Any]:
        """What the stream is doing or waiting for now: "why is my stream stuck?" without a debugger."""
        r = self._r
        tasks = r.tasks
        return {
            "processing": tasks.worker is not None and not tasks.worker.done(),
            "producers_waiting": len(tasks.space_waiters or ()),
            "snapshot_in_flight": tasks.pending is not None,
            "source_reading": tasks.reader is not None and not tasks.reader.done(),
            "queue_full": len(r.queue) >= r.queue.capacity,
        }


class StreamsView(Mapping[str, StreamView]):
    """A provider's streams by id, read-only and live (``len``, ``in``, iteration over ids, ``[id]``)."""

    __slots__ = ("_records",)

    def __init__(self, records: Mapping[str, StreamRecord]) -> None:
        self._records = records

    def __getitem__(self, stream_id: str) -> StreamView:
        return StreamView(self._records[stream_id])

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._records))

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, stream_id: object) -> bool:
        return stream_id in self._records

    def views(self) -> list[StreamView]:
        """Every stream's view, in start order (a list taken now: safe while streams start and end)."""
        return [StreamView(r) for r in list(self._records.values())]
