"""A chunk that failed, under its stream's ``:on-error``: the stream fails, or the chunk is skipped or kept.

A chunk fails when its processor raised, its result broke the contract or a schema, or its source could not
decode it. Under ``:on-error :fail`` (the default) the stream goes to ``:error``. Under ``:skip`` it is counted
and passed over; under ``:dead-letter`` it is also kept as a :class:`~streamrt.store.snapshot.DeadLetter` (the
chunk, its metadata and the message): observers are told, and the persistence writes it to the store, or, without
one, the stream keeps its last ``MEMORY_DEAD_LETTERS`` in memory. A letter's write is one the stream waits for
(``tasks.pending``), so the batch stops there. The engine's chunk loops reach these through
:meth:`Engine.skip <streamrt.runtime.engine.Engine.skip>`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from streamrt.meta import RECEIVED_AT, SEQ, SOURCE, STREAM_ID
from streamrt.policy.guard import MEMORY_DEAD_LETTERS, OnError
from streamrt.runtime.events import EventHub
from streamrt.runtime.loops import chunk_failure
from streamrt.runtime.stream import DeadLetters, StreamRecord
from streamrt.store.snapshot import DeadLetter
from streamrt.values import Keyword

if TYPE_CHECKING:
    from streamrt.runtime.ports import Persistence

__all__ = ["FailureHost", "give_up", "skip", "undecodable"]


class FailureHost(Protocol):
    """What a failed chunk asks of the engine that ran it (:class:`~streamrt.runtime.engine.Engine`)."""

    @property
    def hub(self) -> EventHub: ...
    @property
    def persistence(self) -> Persistence | None: ...
    def fail(self, rec: StreamRecord, message: str, seq: int | None = None) -> None: ...
    def batch_done(self, rec: StreamRecord, n: int, received: float, queued: bool) -> None: ...


def skip(
    host: FailureHost,
    rec: StreamRecord,
    exc: Exception,
    seq: int,
    chunk: Any,
    meta: Mapping[Keyword, Any] | None,
    received: float,
) -> bool:
    """A chunk failed under ``:on-error :skip`` or ``:dead-letter``: count it, keep its letter; whether the
    batch may go on (not while the letter's write is in flight)."""
    message = chunk_failure(exc, seq)
    policy = rec.program.guard.on_error if rec.program.guard is not None else OnError.FAIL
    if policy is OnError.FAIL:
        host.fail(rec, message, seq)
        return False
    return give_up(host, rec, message, seq, chunk, meta, received, policy)


def undecodable(host: FailureHost, rec: StreamRecord, message: str) -> None:
    """The chunk at the head of the queue is one the source could not decode: under ``:on-error :fail`` the
    stream fails (the chunk counted as dropped), else it is skipped or dead-lettered like a failed chunk, with
    its raw text, and reading goes on."""
    seq, raw, meta, received = rec.queue.popleft()
    text = f"chunk {seq}: {message}"
    guard = rec.program.guard
    if guard is None or guard.on_error is OnError.FAIL:
        rec.dropped += 1
        host.fail(rec, text, seq)
    else:
        rec.processed += 1
        give_up(host, rec, text, seq, raw, meta, received, guard.on_error)
    host.batch_done(rec, 1, received, True)


def give_up(
    host: FailureHost,
    rec: StreamRecord,
    message: str,
    seq: int,
    chunk: Any,
    meta: Mapping[Keyword, Any] | None,
    received: float,
    policy: OnError,
) -> bool:
    """Pass over a failed chunk (``:skip``) or keep it as a dead letter too; whether the batch may go on."""
    rec.errors += 1
    rec.skipped += 1
    if policy is OnError.SKIP:
        return True
    letter_meta: dict[Keyword, Any] = {
        STREAM_ID: rec.id,
        SEQ: seq,
        SOURCE: rec.source_kind,
        RECEIVED_AT: received,
    }
    if isinstance(meta, Mapping) and meta:
        letter_meta = {**meta, **letter_meta}
    rec.dead_lettered += 1
    letter = DeadLetter(rec.id, seq, chunk, letter_meta, message, time.time())
    hub = host.hub
    if hub.on_letter:
        hub.tell(hub.on_letter, letter)
    persistence = host.persistence
    pending = persistence.dead_letter(rec, letter) if persistence is not None else None
    if pending is None:
        if rec.letters is None:
            rec.letters = DeadLetters(MEMORY_DEAD_LETTERS)
        rec.letters.keep(letter)
        return True
    rec.tasks.pending = pending
    return False
