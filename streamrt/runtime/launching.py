"""Starting, restoring and releasing streams: from a spec or a snapshot to a stream the engine runs, and back out.

The provider's public methods (:class:`~streamrt.runtime.provider.Provider`) check and parse what a host gives
them; the :class:`Launcher` does the work between that and a running stream. It builds the record
(:class:`~streamrt.runtime.building.StreamBuilder`), registers it with the engine and the persistence, tells the
observers and starts the source's reader (:class:`~streamrt.runtime.reading.SourceReader`). A restored stream
also gets its recorded state, status, queue and timers back; a released one is taken off, stopped, snapshotted,
and its lease given up, without ending it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any, Final

from streamrt.errors import UsageError
from streamrt.printer import pr_str
from streamrt.runtime.building import StreamBuilder
from streamrt.runtime.capture import fill, snapshot_of
from streamrt.runtime.engine import Engine
from streamrt.runtime.events import EventHub
from streamrt.runtime.lifelog import stream_started
from streamrt.runtime.machine import Status
from streamrt.runtime.reading import SourceReader
from streamrt.runtime.spec import StreamSpec
from streamrt.runtime.stream import StreamRecord
from streamrt.runtime.views import StreamView
from streamrt.sources.base import Source
from streamrt.store import Snapshot

__all__ = ["Launcher"]

_RELEASED: Final = "it was released to another provider"


class Launcher:
    """Starts, restores and releases the streams of one provider's engine."""

    def __init__(self, engine: Engine, builder: StreamBuilder, hub: EventHub, reader: SourceReader) -> None:
        self._engine = engine
        self._builder = builder
        self._hub = hub
        self._reader = reader

    def start(
        self,
        processor: Callable[..., Any],
        spec: StreamSpec,
        *,
        initial_state: Any,
        source: Source | None,
        on_end: Callable[..., Any] | None,
        processor_name: str | None,
    ) -> str:
        """Build a stream from ``spec``, register it and start reading its ``source``; its id."""
        loop = self._loop_for(source)
        rec = self._builder.build(
            processor,
            spec,
            initial_state={} if initial_state is None else initial_state,
            on_end=on_end,
            processor_name=processor_name,
            source_kind=source.kind if source is not None else "host",
        )
        self._register(rec, source, loop)
        return rec.id

    def restore(
        self,
        snapshot: Snapshot,
        processor: Callable[..., Any],
        *,
        on_end: Callable[..., Any] | None,
        source: Source | None,
    ) -> str:
        """Build the stream ``snapshot`` recorded, bring it to its recorded status and run it on; its id."""
        spec = StreamSpec.parse(snapshot.options, stream_id=snapshot.stream_id)
        if snapshot.queue_capacity:
            spec = spec.merged(StreamSpec(queue_capacity=snapshot.queue_capacity))
        loop = self._loop_for(source)
        rec = self._builder.build(
            processor,
            spec,
            initial_state=snapshot.initial_state,
            on_end=on_end,
            processor_name=snapshot.processor,
            source_kind=source.kind if source is not None else "host",
        )
        engine = self._engine
        fill(rec, snapshot, now=engine.clock())
        live = not rec.status.terminal and not rec.input_ended
        self._register(rec, source if live else None, loop)
        engine.timers.arm_all(rec)
        if rec.status is Status.ACTIVE and (rec.queue or rec.input_ended):
            engine.schedule(rec)
        return rec.id

    async def release(self, rec: StreamRecord) -> Snapshot:
        """Take ``rec`` off without ending it: intake stops, its source closes, its last snapshot is committed and
        its lease released (with persistence); the snapshot."""
        engine = self._engine
        engine.remove(rec)
        await engine.stop([rec], _RELEASED)
        persistence = engine.persistence
        if persistence is not None:
            snap = await persistence.release(rec)
        else:
            source = rec.tasks.source
            snap = snapshot_of(rec, source_uri=source.uri if source is not None else None)
        self._hub.tell(self._hub.on_released, rec.id)
        return snap

    def _loop_for(self, source: Source | None) -> asyncio.AbstractEventLoop | None:
        if self._engine.closed:
            raise UsageError("the provider is closed; no new streams can start")
        if source is not None and not isinstance(source, Source):
            hint = (
                f"open it first: source=open_source({os.fspath(source)!r}) (from streamrt import open_source)"
                if isinstance(source, str | os.PathLike)
                else "a source is made by open_source(URI) or is a streamrt.Source subclass"
            )
            raise UsageError(
                f"source must be a streamrt Source, got {type(source).__name__} {pr_str(source)[:60]}; {hint}"
            )
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            if source is not None:
                raise UsageError("starting a stream with a source needs a running event loop") from None
            return None
        self._engine.loop = loop
        return loop

    def _register(
        self, rec: StreamRecord, source: Source | None, loop: asyncio.AbstractEventLoop | None
    ) -> None:
        engine = self._engine
        engine.streams[rec.id] = rec
        if not rec.status.terminal:
            engine.live += 1
        persistence = engine.persistence
        if persistence is not None:
            batch = persistence.track(rec)
            if batch is not None:
                rec.tasks.batch = batch
        stream_started(rec, source)
        hub = self._hub
        if hub.on_started:
            hub.tell(hub.on_started, StreamView(rec))
        if source is not None and loop is not None:
            self._reader.start(rec, source, loop)
