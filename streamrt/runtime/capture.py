"""A stream's snapshot, taken from its record and put back into a fresh one.

Kept apart from the policies of :mod:`streamrt.runtime.persist` (when to write): this is only what a snapshot holds.
:func:`snapshot_of` runs between chunks and copies the record at one moment (state, status, queued chunks with the
time each was received, the source's continuation, the counters), so every snapshot is a consistent cut;
:func:`restore` is its inverse on a fresh record. Queued chunks whose metadata was a fault (a line that was not
JSON, say) keep the fault under an option key, since a fault is not a value the codec can store.
"""

from __future__ import annotations

import time
from typing import Any, Final

from streamrt.runtime.batch import _Fault
from streamrt.runtime.machine import Status
from streamrt.runtime.reading import is_source_failure
from streamrt.runtime.stream import StreamRecord
from streamrt.store import Snapshot
from streamrt.values import Keyword, type_name

__all__ = ["SCRIPT_KEY", "restore", "snapshot_of", "source_failed"]

SCRIPT_KEY: Final = Keyword("script")
"""The option under which a snapshot records the script's path, so ``resume`` can find the script again."""
_FAULT_KEY: Final = Keyword("streamrt-fault")
_STATS: Final = (
    "processed",
    "dropped",
    "errors",
    "outputs",
    "queue_high_watermark",
    "backpressure_wait",
    "skipped",
    "dead_lettered",
)
_OPTIONAL_STATS: Final = ("last_latency", "last_event_time")


def snapshot_of(
    record: StreamRecord,
    *,
    processor_hash: str = "",
    source_uri: str | None = None,
    script_path: str | None = None,
) -> Snapshot:
    """Everything needed to bring ``record`` back, taken now (cheap: values are immutable, the queue is copied)."""
    queue = [
        (chunk, {_FAULT_KEY: meta.message} if type(meta) is _Fault else (meta or {}))
        for _, chunk, meta, _ in record.queue
    ]
    received = [entry[3] for entry in record.queue]
    # functions cannot be stored; keywords and sets are callable too but are data (:on-error :skip, #{:a :b})
    options = {k: v for k, v in (record.options or {}).items() if type_name(v) != "function"}
    if script_path is not None:
        options[SCRIPT_KEY] = script_path
    stats: dict[str, int | float] = {name: getattr(record, name) for name in _STATS}
    for name in _OPTIONAL_STATS:
        value = getattr(record, name)
        if value is not None:
            stats[name] = value
    return Snapshot(
        stream_id=record.id,
        processor=record.processor_name,
        processor_hash=processor_hash,
        state=record.state,
        initial_state=record.initial_state,
        status=record.status.value,
        status_message=record.message,
        queue=queue,
        continuation=dict(record.continuation) if record.continuation is not None else None,
        source_uri=source_uri,
        queue_capacity=record.capacity,
        options=options,
        stats=stats,
        seq=record.seq,
        output_seq=record.output_seq,
        input_ended=record.input_ended,
        source_kind=record.source_kind,
        source_failed=_source_failed(record),
        queue_received_at=received,
    )


def _source_failed(record: StreamRecord) -> bool:
    """The driver's mark (its records only): the source gave up and the stream drains or failed because of it.

    An ``:error`` with another message failed for another reason (the processor, while draining), and stays so.
    """
    failure = getattr(record, "source_failure", None)
    return failure is not None and (record.status is not Status.ERROR or record.message == failure)


def restore(record: StreamRecord, snapshot: Snapshot, *, now: float | None = None) -> None:
    """Put a snapshot's state, status, queue, counters, continuation and input-ended flag into a fresh record.

    A driver's record also gets its source-failure mark back (the status message, as the driver keeps it), so the
    one deciding what to do with the stream (:mod:`streamrt.runtime.resume`) reads it where the driver left it.
    Queued chunks keep the time they were received (their ``:received-at``); snapshots that did not record it
    (before format 4) stamp them with ``now``.
    """
    now = time.time() if now is None else now
    record.state = snapshot.state
    record.initial_state = snapshot.initial_state
    record.status = Status(snapshot.status)
    record.message = snapshot.status_message
    record.seq = snapshot.seq
    record.output_seq = snapshot.output_seq
    record.continuation = dict(snapshot.continuation) if snapshot.continuation is not None else None
    record.input_ended = snapshot.input_ended
    if snapshot.source_kind:
        record.source_kind = snapshot.source_kind
    if hasattr(record, "source_failure"):
        failed = source_failed(snapshot)
        record.source_failure = (snapshot.status_message or "source failed") if failed else None
    for name in (*_STATS, *_OPTIONAL_STATS):
        if name in snapshot.stats:
            setattr(record, name, snapshot.stats[name])
    first = snapshot.seq - len(snapshot.queue) + 1
    received = snapshot.queue_received_at
    if received is None or len(received) != len(snapshot.queue):
        received = [now] * len(snapshot.queue)
    record.queue.clear()
    for i, (chunk, meta) in enumerate(snapshot.queue):
        fault = meta.get(_FAULT_KEY) if isinstance(meta, dict) else None
        slot: Any = _Fault(str(fault)) if fault is not None else (meta or None)
        record.queue.append((first + i, chunk, slot, received[i]))


def source_failed(snapshot: Snapshot) -> bool:
    """Whether the stream's source gave up, so a resume reopens it (see :attr:`Snapshot.source_failed`).

    Snapshots before format 3 did not record it: for them an ``:error`` message of the driver's
    ``source URI: cause`` shape is the only sign.
    """
    if snapshot.source_failed is not None:
        return snapshot.source_failed
    return snapshot.status == Status.ERROR.value and is_source_failure(
        snapshot.status_message, snapshot.source_uri
    )
