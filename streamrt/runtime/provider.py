"""The asyncio :class:`Provider`: start streams, feed them, direct them, watch them, hand them over.

Theory of operation
-------------------
The provider is the public face of a few parts, each in its own module; what may be replaced is behind a port:

- the *builder* (:mod:`streamrt.runtime.building`) makes a stream's record from its spec: id, guard, program;
- the *launcher* (:mod:`streamrt.runtime.launching`) turns a spec or a snapshot into a registered, running stream
  (with its source's reader), and takes a released one off;
- the *engine* (:mod:`streamrt.runtime.engine`) moves the stream records: intake, scheduling, batches run by the
  chunk loops generated for each stream's configuration (:mod:`streamrt.runtime.loops`), directives carried out
  through the directive machine (:mod:`streamrt.runtime.machine`);
- the *feeder* (:mod:`streamrt.runtime.feeding`) is what a producer does to a full queue: drain it, wait for
  room (up to a deadline), hand chunks straight to the processor;
- the *source reader* (:mod:`streamrt.runtime.reading`) pulls a stream's source only while its queue has room;
- the *event hub* (:mod:`streamrt.runtime.events`) tells observers and sinks, in order, what happens: outputs,
  status changes, dead letters, batches, snapshot writes;
- the *persistence* port (:mod:`streamrt.runtime.ports`), usually a :class:`~streamrt.runtime.persist.Persister`
  over a store and its leases, snapshots the streams under a policy.

Each stream is parsed once into a :class:`~streamrt.runtime.spec.StreamSpec`; hosts read streams through
read-only :class:`~streamrt.runtime.views.StreamView` s (:attr:`Provider.streams`) and change them only through
the methods here. Everything a network face or a cluster needs is here too: bounded waits for room
(``push(..., timeout=)``, :meth:`Provider.wait_for_room`), :meth:`Provider.restore` from a snapshot and
:meth:`Provider.release` to hand a stream to another provider without ending it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from streamrt.errors import StreamClosedError, UnknownStreamError, UsageError
from streamrt.lang.effects import guard_capabilities
from streamrt.policy.guard import OnError
from streamrt.policy.limits import DEFAULT_LIMITS, Limits
from streamrt.printer import pr_str
from streamrt.runtime.building import DEFAULT_MAX_STREAMS, StreamBuilder
from streamrt.runtime.callables import takes_meta
from streamrt.runtime.capabilities import SourceFactory, build_capabilities, start_from_request
from streamrt.runtime.engine import Checkpoint, Engine
from streamrt.runtime.events import EventHub, Observer
from streamrt.runtime.feeding import Feeder, deadline_after
from streamrt.runtime.launching import Launcher
from streamrt.runtime.machine import DIRECTIVES, KNOWN_ACTIONS, Event
from streamrt.runtime.outputs import Output, OutputSubscription, Sink
from streamrt.runtime.ports import Persistence
from streamrt.runtime.reading import SourceReader
from streamrt.runtime.report import describe_all, describe_stream
from streamrt.runtime.spec import StreamSpec
from streamrt.runtime.stream import DEFAULT_QUEUE_CAPACITY, StreamRecord
from streamrt.runtime.views import StreamsView, StreamView
from streamrt.sources.base import Source
from streamrt.values import Keyword

if TYPE_CHECKING:
    from streamrt.lang.script import Capability, Script, StreamRequest
    from streamrt.policy.effects import SecurityContext
    from streamrt.runtime.persist import SnapshotPolicy
    from streamrt.store import Snapshot, SnapshotStore
    from streamrt.store.snapshot import DeadLetter

__all__ = ["Output", "Provider", "takes_meta"]


class Provider:
    """Runs many streams in one event loop; use as ``async with Provider() as p: ...``.

    ``limits`` are the per-chunk limits of script processors, ceilings a stream's ``:limits`` option may lower key
    by key but never raise (``None`` turns them off); ``security`` is the context every capability from
    :meth:`capabilities` checks. Streams are snapshotted when a ``persistence`` is given, or a ``store`` (then a
    :class:`~streamrt.runtime.persist.Persister` is made for it, under ``snapshot_every``: see
    :func:`~streamrt.runtime.persist.parse_policy`); the provider closes it when it closes. ``observers`` are told
    what happens (:class:`~streamrt.runtime.events.Observer`). ``on_checkpoint(view)`` is called on each
    ``:checkpoint`` directive; if it returns an awaitable, the stream processes nothing more until it is done.
    ``max_streams`` is how many streams it holds at most (terminal ones too, until released; ``None``: no cap): a
    start past it raises :class:`~streamrt.errors.TooManyStreamsError`.
    """

    def __init__(
        self,
        *,
        default_queue_capacity: int = DEFAULT_QUEUE_CAPACITY,
        clock: Callable[[], float] = time.time,
        limits: Limits | None = DEFAULT_LIMITS,
        security: SecurityContext | None = None,
        store: SnapshotStore | None = None,
        snapshot_every: SnapshotPolicy | str | int | None = None,
        persistence: Persistence | None = None,
        observers: Iterable[Observer] = (),
        on_checkpoint: Checkpoint | None = None,
        max_streams: int | None = DEFAULT_MAX_STREAMS,
    ) -> None:
        if store is not None or snapshot_every is not None:
            # snapshots and their codec: imported by a provider that keeps its streams only (start-up, issue #17)
            from streamrt.runtime.persist import persistence_for

            persistence = persistence_for(store, snapshot_every, persistence)
        self.security = security
        self._hub = EventHub()
        for observer in observers:
            self._hub.add(observer)
        self._engine = Engine(clock=clock, hub=self._hub, persistence=None, on_checkpoint=on_checkpoint)
        if security is not None and not security.permits("clock"):
            self._engine.timers.refusal = security.refusal("clock")
        self._feeder = Feeder(self._engine)
        self._reader = SourceReader(self._engine, self._feeder)
        self._persistence: Persistence | None = None
        self._builder = StreamBuilder(self._engine.streams, limits, default_queue_capacity, max_streams)
        self._launcher = Launcher(self._engine, self._builder, self._hub, self._reader)
        if persistence is not None:
            self.attach_persistence(persistence)

    # --- context management -----------------------------------------------------------------------------------

    async def __aenter__(self) -> Provider:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        return self._engine.closed

    @property
    def clock(self) -> Callable[[], float]:
        """The clock the provider stamps times with and runs timers by (its ``clock`` argument: ``time.time``, or
        a :class:`~streamrt.runtime.timers.TimerClock` such as :class:`streamrt.testing.FakeClock`)."""
        return self._engine.clock

    @property
    def limits(self) -> Limits | None:
        """The per-chunk limits of script processors (a stream's ``:limits`` option may lower them, not raise them)."""
        return self._builder.limits

    @property
    def max_streams(self) -> int | None:
        """How many streams this provider holds at most (None: no cap)."""
        return self._builder.max_streams

    @property
    def default_queue_capacity(self) -> int:
        return self._builder.default_queue_capacity

    @property
    def persistence(self) -> Persistence | None:
        """What keeps this provider's streams (its ``persistence``, or the persister made for its ``store``)."""
        return self._persistence

    def attach_persistence(self, persistence: Persistence) -> None:
        """Keep this provider's streams with ``persistence`` (the ``persistence`` argument, given later: before
        any stream starts, since each stream is tracked from its start)."""
        if self._persistence is not None:
            raise UsageError("this provider already has a persistence")
        if self._engine.streams:
            raise UsageError("attach persistence before any stream starts")
        persistence.bind(self._engine)
        self._persistence = persistence
        self._engine.persistence = persistence

    async def close(self, *, for_good: bool = False) -> None:
        """Stop intake and sources; a chunk being processed finishes; queued chunks stay queued (for snapshots).

        With persistence, every stream's last snapshot is then committed and the leases released; a failed final
        write raises its StoreError (the provider is closed all the same). ``for_good``: nothing will resume these
        streams, so their sources may release what their servers keep for a resume (an MCP session, say).
        """
        if self._engine.closed:
            return
        await self._engine.close(for_good=for_good)
        if self._persistence is not None:
            await self._persistence.close()

    # --- starting streams -------------------------------------------------------------------------------------

    def start(
        self,
        processor: Callable[..., Any],
        *,
        stream_id: str | None = None,
        initial_state: Any = None,
        source: Source | None = None,
        queue_capacity: int | None = None,
        on_end: Callable[..., Any] | None = None,
        processor_name: str | None = None,
        options: Mapping[Any, Any] | None = None,
        input_schema: Any = None,
        output_schema: Any = None,
        state_schema: Any = None,
        on_error: OnError | Keyword | str | None = None,
        spec: StreamSpec | None = None,
    ) -> str:
        """Start a stream and return its id; with a ``source`` its reader task starts (needs a running loop).

        The stream's options come from ``spec`` (or the ``options`` map, parsed into one), with the keyword
        arguments on top: ``stream_id``, ``queue_capacity``, ``input_schema`` / ``output_schema`` /
        ``state_schema`` (schema data, its text, or a compiled :class:`~streamrt.policy.schema.Schema`: checked on
        each chunk, each output, the state after each chunk and the initial state) and ``on_error`` (``"fail"``,
        the default, ``"skip"`` or ``"dead-letter"``). ``initial_state`` ``None`` means ``{}``. ``on_end`` is
        ``(state meta)`` or ``(state)`` and runs when the input ends; its result's ``:state`` and outputs are
        applied (its action is ignored: the stream completes).
        """
        if not callable(processor):
            raise UsageError(f"processor must be callable, got {pr_str(processor)}")
        given = StreamSpec.parse(
            options if spec is None else None,
            stream_id=stream_id,
            queue_capacity=queue_capacity,
            input_schema=input_schema,
            output_schema=output_schema,
            state_schema=state_schema,
            on_error=on_error,
        )
        spec = given if spec is None else spec.merged(given)
        return self._launcher.start(
            processor,
            spec,
            initial_state=initial_state,
            source=source,
            on_end=on_end,
            processor_name=processor_name,
        )

    def start_request(
        self,
        script: Script,
        request: StreamRequest,
        *,
        source: Source | None = None,
        stream_id: str | None = None,
        queue_capacity: int | None = None,
        overrides: StreamSpec | None = None,
    ) -> str:
        """Start the stream a script's ``mcp-stream`` form asked for; ``overrides`` (the command line's flags, or
        ``stream_id`` / ``queue_capacity``) win over the form's options."""
        return start_from_request(
            self,
            script,
            request,
            source=source,
            overrides=StreamSpec.overriding(overrides, stream_id, queue_capacity),
        )

    def restore(
        self,
        snapshot: Snapshot,
        processor: Callable[..., Any],
        *,
        on_end: Callable[..., Any] | None = None,
        source: Source | None = None,
    ) -> str:
        """Bring a stream back from ``snapshot`` (state, status, queue, counters, continuation) and run it on.

        ``processor`` (and ``on_end``) are the functions the snapshot's stream ran, found by the caller (by name
        in a script: :mod:`streamrt.runtime.resume`). The stream comes back in its recorded status through the
        directive machine; a terminal one stays so and takes nothing; ``source`` (opened from the snapshot's
        continuation) is read only by a stream that is live and whose input had not ended. A stream whose source
        had failed comes back active (see :func:`~streamrt.runtime.capture.restored_status`).
        """
        return self._launcher.restore(snapshot, processor, on_end=on_end, source=source)

    async def release(self, stream_id: str) -> Snapshot:
        """Hand a stream over: remove it from this provider without ending it, and return its snapshot.

        Intake stops at once (a push gets StreamClosedError, the chunk not taken), a chunk being processed
        finishes, its source is closed (not for good: a server may keep what a resume needs), and with
        persistence its last snapshot is committed and its lease released, so another provider can
        :meth:`restore` it and go on where it stopped.
        """
        return await self._launcher.release(self._get(stream_id))

    def capabilities(
        self,
        *,
        source_factory: SourceFactory | None = None,
        stream_id: str | None = None,
        queue_capacity: int | None = None,
        endpoint_uri: Callable[[str], str] | None = None,
        overrides: StreamSpec | None = None,
    ) -> dict[str, Capability]:
        """The host capabilities a script may ``call``, bound to this provider.

        ``source_factory(endpoint, options)`` opens each started stream's source (without it, streams are fed by
        the host); ``overrides`` (or ``stream_id`` / ``queue_capacity``) win over every started stream's options,
        and a ``stream_id`` names the single stream the script may start. Each capability checks its effects
        against the provider's ``security`` first; ``endpoint_uri(endpoint)`` names the URI ``source_factory``
        really opens for an endpoint, when it differs (the CLI's ``--source``).
        """
        table = build_capabilities(
            self,
            source_factory=source_factory,
            overrides=StreamSpec.overriding(overrides, stream_id, queue_capacity),
        )
        return guard_capabilities(table, self.security, endpoint_uri=endpoint_uri)

    # --- feeding chunks ---------------------------------------------------------------------------------------

    async def push(
        self,
        stream_id: str,
        chunk: Any,
        meta: dict[Keyword, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        """Queue ``chunk``, waiting while the queue is full; raises ``StreamClosedError`` if the stream is over.

        With ``timeout`` (seconds), raises ``QueueFullError`` if no room came within it: the chunk was not taken
        (so a retry cannot apply it twice). With a per-chunk snapshot policy it returns once the chunk is in a
        committed snapshot (docs/persistence.md).
        """
        rec = self._get(stream_id)
        if len(rec.queue) >= rec.queue.capacity:
            await self._feeder.room_within(rec, timeout)
        self._engine.intake(rec, chunk, meta)
        if self._persistence is not None:
            # Under a per-chunk snapshot policy a push is acknowledged once the chunk is in a committed snapshot.
            durable = self._persistence.durable(stream_id)
            if durable is not None:
                await durable

    async def push_many(
        self,
        stream_id: str,
        chunks: Iterable[Any],
        meta: dict[Keyword, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> int:
        """``push`` each of ``chunks`` in order, much cheaper per chunk; returns how many were accepted.

        Once the queue has filled, an active stream's chunks are processed right here, as they are taken from
        ``chunks`` (see :mod:`streamrt.runtime.feeding`), so a large call returns with most of them processed.
        With ``timeout`` (seconds), it stops when no room came within that long of waiting and returns how many it
        accepted: the first ones of ``chunks`` (pass a sequence, and retry from that index: the chunk it was
        holding when time ran out is neither accepted nor counted). Chunks accepted together share their ``:received-at``. Stops with ``StreamClosedError`` at the first
        chunk refused because the stream ended (that one is counted as dropped; later ones are neither queued nor
        counted).
        """
        deadline = None if timeout is None else deadline_after(timeout)
        total = await self._feeder.push_many(self._get(stream_id), chunks, meta or None, deadline)
        if total and self._persistence is not None:
            durable = self._persistence.durable(stream_id)
            if durable is not None:
                await durable
        return total

    def push_nowait(self, stream_id: str, chunk: Any, meta: dict[Keyword, Any] | None = None) -> None:
        """Queue ``chunk`` or raise ``QueueFullError`` (the chunk is not taken) when the queue is full."""
        self._engine.intake(self._get(stream_id), chunk, meta)

    async def wait_for_room(self, stream_id: str, timeout: float | None = None) -> bool:
        """Until the stream's queue has room (True), or ``timeout`` seconds passed (False); raises
        ``StreamClosedError`` if the stream is over or takes no more chunks. An active stream's queue is drained
        right here, as by a producer."""
        return await self._feeder.wait_for_room(self._get(stream_id), timeout)

    def end_input(self, stream_id: str) -> None:
        """No more chunks will come: once the queue drains, ``:on-end`` runs and the stream completes."""
        self._engine.end_input(self._get(stream_id))

    # --- host directives --------------------------------------------------------------------------------------

    def _host_directive(self, stream_id: str, event: Event) -> None:
        rec = self._get(stream_id)
        t = rec.apply(event)
        if t.reject:
            raise StreamClosedError(f"stream {rec.id} is {rec.status.value}; cannot {event.value} it")
        self._engine.carry_out(rec, t)

    def pause(self, stream_id: str) -> None:
        """Stop processing; chunks keep queueing up to capacity, then producers wait."""
        self._host_directive(stream_id, Event.PAUSE)

    def resume(self, stream_id: str) -> None:
        """Process what accumulated while paused, at once, in arrival order."""
        self._host_directive(stream_id, Event.RESUME)

    def cancel(self, stream_id: str) -> None:
        """End the stream as cancelled; queued chunks are discarded and counted as dropped."""
        self._host_directive(stream_id, Event.CANCEL)

    def stop(self, stream_id: str) -> None:
        """End the stream as stopped; queued chunks are discarded and counted as dropped."""
        self._host_directive(stream_id, Event.STOP)

    def complete(self, stream_id: str) -> None:
        """End the stream as completed now (``end_input`` is the variant that processes the queue first)."""
        self._host_directive(stream_id, Event.COMPLETE)

    def checkpoint(self, stream_id: str) -> None:
        """Ask for a snapshot of the stream now."""
        self._host_directive(stream_id, Event.CHECKPOINT)

    def directive(self, stream_id: str, action: Keyword | str) -> None:
        """Apply a directive given by name (``"pause"`` or ``:pause``)."""
        kw = action if isinstance(action, Keyword) else Keyword(str(action).lstrip(":"))
        event = DIRECTIVES.get(kw)
        if event is None:
            known = " ".join(pr_str(k) for k in KNOWN_ACTIONS)
            raise UsageError(f"unknown directive {pr_str(action)}; known: {known}")
        self._host_directive(stream_id, event)

    # --- observing --------------------------------------------------------------------------------------------

    def add_sink(self, callback: Sink) -> None:
        """Call ``callback(output)`` for every output of every stream, in order, as it is produced."""
        self._hub.add_sink(callback)

    def add_observer(self, observer: Observer) -> None:
        """Tell ``observer`` what happens from now on (see :class:`~streamrt.runtime.events.Observer`)."""
        self._hub.add(observer)

    def remove_observer(self, observer: Observer) -> None:
        self._hub.remove(observer)

    @property
    def observers(self) -> tuple[Observer, ...]:
        return self._hub.observers

    def outputs(self, stream_id: str | None = None) -> AsyncIterator[Output]:
        """Outputs from now on (of one stream, or all); ends when that stream ends or the provider closes."""
        subs = self._hub.subs
        sub = OutputSubscription(stream_id, subs.remove)
        subs.append(sub)
        if self._engine.closed or (stream_id is not None and self._get(stream_id).status.terminal):
            sub.close()
        return sub

    async def wait(self, stream_id: str | None = None) -> None:
        """Until that stream (or every stream) is in a terminal status, or the provider closes."""
        loop = asyncio.get_running_loop()
        engine = self._engine
        if stream_id is not None:
            rec = self._get(stream_id)
            tasks = rec.tasks
            while not rec.status.terminal and tasks.closed is None:
                fut: asyncio.Future[None] = loop.create_future()
                if tasks.done_waiters is None:
                    tasks.done_waiters = []
                tasks.done_waiters.append(fut)
                await fut
            return
        while engine.live and not engine.closed:
            fut = loop.create_future()
            engine.all_done.append(fut)
            await fut

    async def settle(self, stream_id: str | None = None) -> None:
        """Until nothing more can be processed right now: the stream (or every stream) is terminal, paused, or
        active with an empty queue and no worker. Handy in tests; it does not wait for new input."""
        engine = self._engine
        records = [self._get(stream_id)] if stream_id is not None else list(engine.streams.values())
        for rec in records:
            while rec.tasks.worker is not None and not engine.closed:
                await asyncio.wait({rec.tasks.worker})

    def dead_letters(self, stream_id: str) -> list[DeadLetter]:
        """The dead letters a stream without a store kept in memory, oldest first (persisted streams keep theirs
        in the store: ``store.dead_letters(stream_id)``)."""
        return list(self._get(stream_id).letters or ())

    @property
    def streams(self) -> StreamsView:
        """Every stream by id, read-only and live."""
        return StreamsView(self._engine.streams)

    def stream_ids(self) -> list[str]:
        return list(self._engine.streams)

    def record(self, stream_id: str) -> StreamView:
        """A read-only view of one stream (unknown ids raise UnknownStreamError)."""
        return StreamView(self._get(stream_id))

    def inspect(
        self, stream_id: str | None = None, *, include_state: bool = False, include_queue: bool = False
    ) -> dict[str, Any]:
        """One stream in detail, or a summary of all; values inside (state, chunks, options) are language values."""
        if stream_id is None:
            return describe_all(self.streams.views(), closed=self._engine.closed)
        return describe_stream(
            self.record(stream_id), include_state=include_state, include_queue=include_queue
        )

    def _get(self, stream_id: str) -> StreamRecord:
        try:
            return self._engine.streams[stream_id]
        except KeyError:
            raise UnknownStreamError(f"no stream with id {stream_id!r}") from None
        except TypeError:
            raise UsageError(f"a stream id is a string, got {stream_id!r}") from None
