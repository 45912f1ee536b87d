"""The asyncio :class:`Provider`: start streams, feed them, direct them, watch them.

The public API for Python hosts and the ``streamrt`` CLI. It is a thin layer: statuses change only through the
directive machine (:mod:`streamrt.runtime.machine`), and queueing lives in
:mod:`streamrt.runtime.driver`, processing in :mod:`streamrt.runtime.batch`, source reading in
:mod:`streamrt.runtime.reading`.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from streamrt.errors import DuplicateStreamError, StreamClosedError, UsageError
from streamrt.lang.effects import guard_capabilities
from streamrt.lang.metered import metered
from streamrt.observe.logs import stream_started
from streamrt.policy.limits import DEFAULT_LIMITS, Limits, resolve_limits
from streamrt.runtime.batch import _ABSENT
from streamrt.runtime.callables import name_of, result_shape, takes_meta
from streamrt.runtime.driver import Driver, _Stream
from streamrt.runtime.machine import DIRECTIVES, KNOWN_ACTIONS, Event
from streamrt.runtime.outputs import Output, OutputSubscription, Sink
from streamrt.runtime.stream import DEFAULT_QUEUE_CAPACITY, StreamRecord
from streamrt.sources.base import Source
from streamrt.store.snapshot import DeadLetter
from streamrt.values import Keyword, pr_str

if TYPE_CHECKING:
    from streamrt.lang.script import Capability, Script, StreamRequest
    from streamrt.policy.effects import SecurityContext
    from streamrt.policy.guard import OnError
    from streamrt.runtime.capabilities import SourceFactory

__all__ = ["Output", "Provider", "takes_meta"]


class Provider(Driver):
    """Runs many streams in one event loop; use as ``async with Provider() as p: ...``.

    ``on_checkpoint(record)`` is called on each ``:checkpoint`` directive; if it returns an awaitable, the stream
    processes nothing more until it is done (a store captures the snapshot synchronously, then writes it).

    ``limits`` are the per-chunk limits of script processors (a stream's ``:limits`` option overrides them key by
    key; ``None`` turns them off); ``security`` is the context every capability from :meth:`capabilities` checks.
    """

    def __init__(
        self,
        *,
        default_queue_capacity: int = DEFAULT_QUEUE_CAPACITY,
        clock: Callable[[], float] = time.time,
        on_checkpoint: Callable[[StreamRecord], Awaitable[None] | None] | None = None,
        limits: Limits | None = DEFAULT_LIMITS,
        security: SecurityContext | None = None,
    ) -> None:
        if limits is not None and not isinstance(limits, Limits):
            raise UsageError(f"limits must be a Limits or None, got {limits!r}")
        self.limits = limits
        self.security = security
        if type(default_queue_capacity) is not int or default_queue_capacity < 1:
            raise UsageError(
                f"default_queue_capacity must be a positive integer, got {default_queue_capacity!r}"
            )
        super().__init__(clock=clock, on_checkpoint=on_checkpoint)
        self.default_queue_capacity = default_queue_capacity
        self._ids = itertools.count(1)

    # --- context management -----------------------------------------------------------------------------------

    async def __aenter__(self) -> Provider:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def clock(self) -> Callable[[], float]:
        """The clock the provider stamps times with (its ``clock`` argument), so other times can agree."""
        return self._clock

    async def close(self) -> None:
        """Stop intake and sources; a chunk being processed finishes; queued chunks stay queued (for snapshots)."""
        if self._closed:
            return
        self._closed = True
        tasks: list[asyncio.Task[None]] = []
        for s in self._streams.values():
            for task in (s.reader, s.worker):
                if task is not None and task is not asyncio.current_task():
                    task.cancel()
                    tasks.append(task)
            self._wake(s.space_waiters)
            self._wake(s.done_waiters)
            s.space_waiters = s.done_waiters = None
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for s in self._streams.values():
            if s.pending is not None:
                await self._settle_checkpoint(s)
        self._wake(self._all_done)
        for sub in list(self._subs):
            sub.close()

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
        options: Mapping[Keyword, Any] | None = None,
        input_schema: Any = None,
        output_schema: Any = None,
        state_schema: Any = None,
        on_error: OnError | Keyword | str | None = None,
    ) -> str:
        """Start a stream and return its id; with a ``source`` its reader task starts (needs a running loop).

        ``initial_state`` ``None`` means ``{}``. ``on_end`` is ``(state meta)`` or ``(state)`` and runs when the
        input ends; its result's ``:state`` and outputs are applied (its action is ignored: the stream completes).

        ``input_schema`` / ``output_schema`` / ``state_schema`` (schema data, its text, or a compiled
        :class:`~streamrt.policy.schema.Schema`) check each chunk, each output and the state after each chunk (and
        the initial state); ``on_error`` is ``"fail"`` (default), ``"skip"`` or ``"dead-letter"``. Each defaults to
        the ``options`` key of the same name (``:input-schema`` ...), which is how scripts and resumed streams set them.
        """
        if self._closed:
            raise UsageError("the provider is closed; no new streams can start")
        if not callable(processor):
            raise UsageError(f"processor must be callable, got {pr_str(processor)}")
        limits = resolve_limits(self.limits, options)
        name = processor_name or name_of(processor)
        meta = takes_meta(processor)
        if on_end is not None and not callable(on_end):
            raise UsageError(f"on_end must be callable, got {pr_str(on_end)}")
        if stream_id is None:
            stream_id = f"{name}-{next(self._ids)}"
            while stream_id in self._streams:
                stream_id = f"{name}-{next(self._ids)}"
        elif not isinstance(stream_id, str) or not stream_id:
            raise UsageError(f"stream id must be a non-empty string, got {stream_id!r}")
        elif stream_id in self._streams:
            raise DuplicateStreamError(f"a stream with id {stream_id!r} already exists")
        from streamrt.policy.guard import build_guard  # here: the guard module builds on the runtime's

        guard, options = build_guard(
            options,
            input_schema=input_schema,
            output_schema=output_schema,
            state_schema=state_schema,
            on_error=on_error,
        )
        if initial_state is None:
            initial_state = {}
        if guard is not None:
            guard.check_initial(stream_id, initial_state)
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
            self._loop = loop
        except RuntimeError:
            if source is not None:
                raise UsageError("starting a stream with a source needs a running event loop") from None
            loop = None
        s = _Stream(
            stream_id,
            processor,
            processor_name=name,
            takes_meta=meta,
            initial_state=initial_state,
            capacity=self.default_queue_capacity if queue_capacity is None else queue_capacity,
            options=dict(options) if options else None,
            on_end=on_end,
            source_kind=source.kind if source is not None else "host",
        )
        if on_end is not None:
            takes_meta(on_end, (1, 2), "on-end function")
        if limits is not None:
            # a script's functions run as their metered variant (host functions run as they are)
            s.processor = metered(processor, limits, when_ready=functools.partial(setattr, s, "processor"))
            if on_end is not None:
                s.on_end = metered(on_end, limits, when_ready=functools.partial(setattr, s, "on_end"))
        s.guard = guard
        s.result_shape = result_shape(processor)
        self._streams[stream_id] = s
        self._live += 1
        stream_started(s, source)
        if source is not None and loop is not None:
            s.source = source
            s.reader = loop.create_task(self._read(s, source), name=f"streamrt-source-{stream_id}")
        return stream_id

    def start_request(
        self,
        script: Script,
        request: StreamRequest,
        *,
        source: Source | None = None,
        stream_id: str | None = None,
        queue_capacity: int | None = None,
    ) -> str:
        """Start the stream a script's ``mcp-stream`` form asked for (overrides win over the form's options)."""
        from streamrt.runtime.capabilities import start_from_request

        return start_from_request(
            self, script, request, source=source, stream_id=stream_id, queue_capacity=queue_capacity
        )

    def capabilities(
        self,
        *,
        source_factory: SourceFactory | None = None,
        stream_id: str | None = None,
        queue_capacity: int | None = None,
        endpoint_uri: Callable[[str], str] | None = None,
    ) -> dict[str, Capability]:
        """The host capabilities a script may ``call``, bound to this provider.

        ``source_factory(endpoint, options)`` opens each started stream's source (without it, streams are fed by the host);
        ``stream_id`` names the single stream the script may start; ``queue_capacity`` overrides every stream's.
        Each capability checks its effects against the provider's ``security`` first; ``endpoint_uri(endpoint)``
        names the URI ``source_factory`` really opens for an endpoint, when it differs (the CLI's ``--source``).
        """
        from streamrt.runtime.capabilities import build_capabilities

        table = build_capabilities(
            self, source_factory=source_factory, stream_id=stream_id, queue_capacity=queue_capacity
        )
        return guard_capabilities(table, self.security, endpoint_uri=endpoint_uri)

    # --- feeding chunks ---------------------------------------------------------------------------------------

    async def push(self, stream_id: str, chunk: Any, meta: dict[Keyword, Any] | None = None) -> None:
        """Queue ``chunk``, waiting while the queue is full; raises ``StreamClosedError`` if the stream is over.

        With a per-chunk snapshot policy it returns once the chunk is in a committed snapshot (docs/persistence.md).
        """
        s = self._get(stream_id)
        if len(s.queue) >= s.capacity:
            await self._make_room(s)
        self._intake(s, chunk, meta)
        if self._durable is not None:
            # Under a per-chunk snapshot policy a push is acknowledged once the chunk is in a committed snapshot.
            durable = self._durable(stream_id)
            if durable is not None:
                await durable

    async def push_many(
        self, stream_id: str, chunks: Iterable[Any], meta: dict[Keyword, Any] | None = None
    ) -> int:
        """``push`` each of ``chunks`` in order, much cheaper per chunk; returns how many were accepted.

        Once the queue has filled, an active stream's chunks are processed right here, as they are taken from
        ``chunks`` (see :mod:`streamrt.runtime.batch`), so a large call returns with most of them processed.

        Chunks accepted together share their ``:received-at``. Stops with ``StreamClosedError`` at the first chunk
        refused because the stream ended (that one is counted as dropped; later ones are neither queued nor counted).
        """
        s = self._get(stream_id)
        it = iter(chunks)
        meta = meta or None
        total = 0
        chunk = next(it, _ABSENT)
        while chunk is not _ABSENT:
            if len(s.queue) >= s.capacity:
                await self._make_room(s, drain=True)
                if self._can_hand_off(s):
                    # The producer outran the stream: process the rest straight from ``it`` while nothing else
                    # is queued or in flight (a pause, an end or a checkpoint hands the rest back to the queue).
                    done, chunk, it = await self._hand_off(s, chunk, it, meta)
                    total += done
                    continue
            self._intake(s, chunk, meta)  # raises (and counts) when the stream or the provider is closed
            total += 1 + s.offer_many(it, meta, self._clock())
            chunk = next(it, _ABSENT)
        if total and self._durable is not None:
            durable = self._durable(stream_id)
            if durable is not None:
                await durable
        return total

    def push_nowait(self, stream_id: str, chunk: Any, meta: dict[Keyword, Any] | None = None) -> None:
        """Queue ``chunk`` or raise ``QueueFullError`` (the chunk is not taken) when the queue is full."""
        self._intake(self._get(stream_id), chunk, meta)

    def end_input(self, stream_id: str) -> None:
        """No more chunks will come: once the queue drains, ``:on-end`` runs and the stream completes."""
        self._end_input(self._get(stream_id))

    # --- host directives --------------------------------------------------------------------------------------

    def _host_directive(self, stream_id: str, event: Event) -> None:
        s = self._get(stream_id)
        t = s.apply(event)
        if t.reject:
            raise StreamClosedError(f"stream {s.id} is {s.status.value}; cannot {event.value} it")
        self._carry_out(s, t)

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
        self._sinks.append(callback)

    def outputs(self, stream_id: str | None = None) -> AsyncIterator[Output]:
        """Outputs from now on (of one stream, or all); ends when that stream ends or the provider closes."""
        sub = OutputSubscription(stream_id, self._subs.remove)
        self._subs.append(sub)
        if self._closed or (stream_id is not None and self._get(stream_id).status.terminal):
            sub.close()
        return sub

    async def wait(self, stream_id: str | None = None) -> None:
        """Until that stream (or every stream) is in a terminal status, or the provider closes."""
        loop = asyncio.get_running_loop()
        if stream_id is not None:
            s = self._get(stream_id)
            while not s.status.terminal and not self._closed:
                fut: asyncio.Future[None] = loop.create_future()
                if s.done_waiters is None:
                    s.done_waiters = []
                s.done_waiters.append(fut)
                await fut
            return
        while self._live and not self._closed:
            fut = loop.create_future()
            self._all_done.append(fut)
            await fut

    async def settle(self, stream_id: str | None = None) -> None:
        """Until nothing more can be processed right now: the stream (or every stream) is terminal, paused, or
        active with an empty queue and no worker. Handy in tests; it does not wait for new input."""
        streams = [self._get(stream_id)] if stream_id is not None else list(self._streams.values())
        for s in streams:
            while s.worker is not None and not self._closed:
                await asyncio.wait({s.worker})

    def dead_letters(self, stream_id: str) -> list[DeadLetter]:
        """The dead letters a stream without a store kept in memory, oldest first (persisted streams keep theirs
        in the store: ``store.dead_letters(stream_id)``)."""
        guard = self._get(stream_id).guard
        return list(guard.dead_letters) if guard is not None else []

    def stream_ids(self) -> list[str]:
        return list(self._streams)

    def record(self, stream_id: str) -> StreamRecord:
        """The live record of a stream (read it; mutate it only through the provider)."""
        return self._get(stream_id)

    def inspect(
        self, stream_id: str | None = None, *, include_state: bool = False, include_queue: bool = False
    ) -> dict[str, Any]:
        """One stream in detail, or a summary of all; values inside (state, chunks, options) are language values."""
        from streamrt.runtime.report import describe_all, describe_stream

        if stream_id is None:
            return describe_all(self._streams.values(), closed=self._closed)
        s = self._get(stream_id)
        source = s.source.describe() if s.source is not None else None
        return describe_stream(s, source, include_state=include_state, include_queue=include_queue)
