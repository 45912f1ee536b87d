"""The server's streams: a provider, its persistence and the event log, driven for many clients.

Theory of operation
-------------------
:class:`StreamService` is everything the HTTP face does to streams, with no HTTP in it: start a stream of one of the
scripts' processors for a client, push chunks with a bounded wait and an idempotency key, direct it, forget it,
and say who owns what. It drives a :class:`~streamrt.runtime.Provider` through its public ports only: the provider
is made with a :class:`~streamrt.runtime.Persister` over the snapshot store and an :class:`EventRecorder` observer
that writes every event to the log before any subscriber sees it.

Opening reads the log's owners back and restores every stream they name from the store (live ones run on, ended
ones come back ended so they can still be inspected and replayed), then starts the scripts' own ``mcp-stream``
streams that are not there yet. Closing stops the provider (its last snapshots written), then flushes the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from streamrt.errors import StreamClosedError, UsageError
from streamrt.lang.script import Script, load_script
from streamrt.observe.metrics import instrument
from streamrt.policy.effects import check_source
from streamrt.runtime import Persister, Provider, StreamSpec, StreamView
from streamrt.runtime.capabilities import script_function
from streamrt.runtime.persist import parse_policy
from streamrt.runtime.ports import Leases
from streamrt.runtime.resume import resume_streams
from streamrt.secrets import secrets_given
from streamrt.serve.config import ServeConfig
from streamrt.serve.eventlog import EventLog, LoggedEvent, SqlEventLog, StreamOwner
from streamrt.serve.limits import Budget
from streamrt.serve.metrics import ServeMetrics
from streamrt.serve.problems import Problem
from streamrt.serve.recorder import EventRecorder
from streamrt.serve.subscribe import batches
from streamrt.sources import Source, open_source
from streamrt.store import Snapshot, SnapshotStore, open_store
from streamrt.values import Keyword

__all__ = ["DIRECTIVE_ACTIONS", "SHARED", "PushOutcome", "StreamService", "stream_fields"]

SHARED: Final = "*"
"""The owner of the scripts' own streams: every client sees them."""
DIRECTIVE_ACTIONS: Final = ("pause", "resume", "cancel", "stop", "complete", "checkpoint", "end")
_KEYS_PER_STREAM: Final = 1_000
_KEY_LENGTH: Final = 200


class PushOutcome(msgspec.Struct):
    """What one push request did: ``accepted`` of ``total`` chunks taken (the first ones, in order)."""

    accepted: int
    total: int
    replayed: bool = False

    @property
    def complete(self) -> bool:
        return self.accepted >= self.total


class _Feed(msgspec.Struct):
    """Per stream: pushes are one at a time, and remembered by idempotency key."""

    lock: asyncio.Lock = msgspec.field(default_factory=asyncio.Lock)
    keys: OrderedDict[str, PushOutcome] = msgspec.field(default_factory=OrderedDict)
    last_activity: float = msgspec.field(default_factory=time.time)
    subscribers: int = 0


def stream_fields(view: StreamView) -> dict[str, Any]:
    """A stream as lists and starts show it (the API adds its URLs)."""
    return {
        "id": view.id,
        "processor": view.processor_name,
        "status": view.status.value,
        "message": view.message,
        "processed": view.processed,
        "queue_depth": view.queue_depth,
        "queue_capacity": view.capacity,
        "outputs": view.outputs,
    }


def _script_secrets(script: Script) -> dict[str, dict[str, str]]:
    """The secrets the script's own streams hold as literals, by stream id: a restored boot stream finds them in its
    script, as ``streamrt run`` gives a script's resumed streams theirs."""
    out: dict[str, dict[str, str]] = {}
    for request in script.stream_requests:
        sid = request.options.get(Keyword("stream-id"))
        if isinstance(sid, str):
            out[sid] = secrets_given(request.options, request.endpoint)
    return out


class StreamService:
    """The streams a server runs for its clients."""

    def __init__(
        self,
        config: ServeConfig,
        *,
        provider: Provider | None = None,
        leases: Leases | None = None,
        log: EventLog | None = None,
        restore: bool = True,
    ) -> None:
        """``provider``: one another command runs (``streamrt run --api``), served, not owned (never closed here).
        ``leases`` and ``log``: who owns streams and where events go when not this process alone (a cluster node
        passes its Redis leases and log); ``restore``: bring back at open the streams the log names."""
        self.config = config
        self._host_provider = provider
        self._leases = leases
        self._given_log = log
        self._restore_at_open = restore
        self.scripts: list[Script] = []
        self.processors: dict[str, Script] = {}
        self._store: SnapshotStore | None = None
        self._persister: Persister | None = None
        self._provider: Provider | None = None
        self.log: EventLog = EventLog()
        self.recorder = EventRecorder(self.log)
        self._feeds: dict[str, _Feed] = {}
        self.budget = Budget(config.limits)
        self._reaper: asyncio.Task[None] | None = None
        self.registry = CollectorRegistry()
        self.registry.register(ServeMetrics(self))
        self.ready = False
        self.closing = False
        self.started_at = time.time()

    # --- lifecycle -----------------------------------------------------------------------------------------------

    @property
    def provider(self) -> Provider:
        if self._provider is None:
            raise Problem("unavailable", "the server is starting or stopping")
        return self._provider

    @property
    def opened(self) -> bool:
        return self._provider is not None

    async def open(self) -> None:
        """Open the store and the log, load the scripts, restore the owned streams, start the scripts' own."""
        if self._provider is not None:
            return
        self.closing = False
        config = self.config
        if self._host_provider is not None:
            await self._attach(self._host_provider)
            return
        store = open_store(config.store)
        await store.open()
        self._store = store
        try:
            durable = not (config.store or "memory:").startswith("memory")
            log_type = SqlEventLog(str(config.store)) if durable and self._given_log is None else None
            self.log = (
                self._given_log
                or log_type
                or EventLog(keep_events=config.keep_events, keep_seconds=config.keep_seconds)
            )
            if isinstance(self.log, SqlEventLog):
                self.log.keep_events, self.log.keep_seconds = config.keep_events, config.keep_seconds
            self.recorder.log = self.log
            await self.log.open()
            self._persister = Persister(store, parse_policy(config.snapshot_every), leases=self._leases)
            kwargs: dict[str, Any] = {}
            if config.queue_capacity is not None:
                kwargs["default_queue_capacity"] = config.queue_capacity
            self._provider = Provider(persistence=self._persister, observers=[self.recorder], **kwargs)
            instrument(self._provider, self.registry)
            self._load_scripts()
            if self._restore_at_open:
                await self._restore()
            await self._start_boot_streams()
        except BaseException:
            await self.close()
            raise
        self._reaper = asyncio.create_task(self._reap_idle(), name="streamrt-serve-idle")
        self.ready = True

    async def _attach(self, provider: Provider) -> None:
        """Serve a provider another command runs: its streams are everyone's (``SHARED``); the log is in memory."""
        self.log = EventLog(keep_events=self.config.keep_events, keep_seconds=self.config.keep_seconds)
        self.recorder.log = self.log
        provider.add_observer(self.recorder)
        with contextlib.suppress(UsageError):  # the run's own metrics are attached already: serve ours only
            instrument(provider, self.registry)
        self._provider = provider
        self._load_scripts()
        self._reaper = asyncio.create_task(self._reap_idle(), name="streamrt-serve-idle")
        self.ready = True

    def _load_scripts(self) -> None:
        caps = dict(self.provider.capabilities(source_factory=self._script_source))
        caps.pop("mcp.stream.start")  # recorded only: started after the restore (below)
        for path in self.config.scripts:
            script = load_script(path=path, capabilities=caps)
            self.scripts.append(script)
            for name in script.functions:
                other = self.processors.get(name)
                if other is not None:
                    raise UsageError(
                        f"processor {name!r} is defined by both {other.filename} and {script.filename}"
                    )
                self.processors[name] = script
        if self._persister is not None and len(self.scripts) == 1:
            self._persister.processor_hash = self.scripts[0].source_hash
            self._persister.script_path = str(Path(self.config.scripts[0]).resolve())

    def _script_source(self, endpoint: str, options: Any) -> Source:
        return open_source(endpoint, options=options)

    @property
    def store(self) -> SnapshotStore:
        if self._store is None:
            raise Problem("unavailable", "the server is starting or stopping")
        return self._store

    async def _restore(self) -> None:
        owners = self.log.owners()
        if not owners or self._store is None or self._persister is None:
            return
        await self.restore(await self._store.get_many(list(owners)))

    async def restore(self, snaps: Mapping[str, Snapshot]) -> None:
        """Resume these streams here (their leases claimed), grouped by the script that has their processor; the
        secrets their snapshots only name come from the config (``--secret``), the scripts, or the environment."""
        if self._persister is None:
            return
        by_script: dict[int, dict[str, Any]] = {}
        for sid, snap in snaps.items():
            script = self.processors.get(snap.processor)
            if script is None:
                continue  # its processor is gone from the scripts: it stays in the store, not served
            by_script.setdefault(id(script), {})[sid] = snap
        for script in self.scripts:
            group = by_script.get(id(script))
            if not group:
                continue
            self.recorder.quiet.update(group)
            try:
                await resume_streams(
                    self.provider,
                    self._persister,
                    None,
                    script,
                    snapshots=group,
                    secrets=self.config.secrets,
                    stream_secrets=_script_secrets(script),
                    isolate=True,
                )
            finally:
                self.recorder.quiet.difference_update(group)

    async def _start_boot_streams(self) -> None:
        provider = self.provider
        for script in self.scripts:
            for request in script.stream_requests:
                sid = request.options.get(Keyword("stream-id"))
                if isinstance(sid, str) and sid in provider.streams:
                    continue
                source = self._script_source(request.endpoint, request.options) if request.endpoint else None
                started = provider.start_request(script, request, source=source)
                await self._own(started, SHARED, request.processor)

    def begin_close(self) -> None:
        """The server is shutting down: event streams end now (their clients reconnect to the next server)."""
        self.closing = True
        self.log.wake_all()
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None

    async def _reap_idle(self) -> None:
        """Cancel live streams with no push, no subscriber and no source activity for the idle TTL."""
        ttl = self.config.idle_ttl
        while True:
            await asyncio.sleep(min(ttl / 4, 30.0))
            provider = self._provider
            if provider is None:
                return
            now = time.time()
            for view in provider.streams.views():
                if view.status.terminal:
                    continue
                feed = self.feed(view.id)
                active = max(feed.last_activity, view.last_event_time or 0.0)
                if feed.subscribers or now - active < ttl:
                    continue
                self.recorder.reasons[view.id] = (
                    f"cancelled by the server: idle for {ttl:g} s (no push, no subscriber, no source activity)"
                )
                provider.cancel(view.id)

    async def close(self) -> None:
        self.begin_close()
        self.ready = False
        provider, self._provider = self._provider, None
        try:
            if provider is not None and provider is self._host_provider:
                provider.remove_observer(self.recorder)
            elif provider is not None:
                await provider.close()
        finally:
            try:
                await self.log.close()
            finally:
                store, self._store = self._store, None
                if store is not None:
                    await store.aclose()

    # --- tenancy -------------------------------------------------------------------------------------------------

    async def _own(self, stream_id: str, client: str, processor: str) -> None:
        if self._persister is not None:
            await self._persister.claim(stream_id)
            # committed before any node can see the stream registered: one that takes it over resumes it from this
            await self._persister.commit(stream_id)
        await self.log.add_owner(StreamOwner(stream_id, client, processor, time.time()))

    def view(self, client: str, stream_id: str) -> StreamView:
        """The client's stream, or 404 (another client's stream is not there, as far as this client knows)."""
        streams = self.provider.streams
        if self._client_of(stream_id) not in (client, SHARED) or stream_id not in streams:
            raise Problem("unknown-stream", f"no stream {stream_id!r}")
        return streams[stream_id]

    def visible(self, client: str, *, shared: bool = True) -> list[StreamView]:
        """The streams ``client`` sees (its own, and with ``shared`` the scripts' own), in start order."""
        allowed = (client, SHARED) if shared else (client,)
        return [v for v in self.provider.streams.views() if self._client_of(v.id) in allowed]

    async def listing(self, client: str) -> list[dict[str, Any]]:
        """The streams ``GET /streams`` lists for ``client`` (:func:`stream_fields` each): here, the ones this server
        runs; a cluster node lists the cluster's."""
        return [stream_fields(v) for v in self.visible(client)]

    def _client_of(self, stream_id: str) -> str | None:
        """Who owns a stream; on a served host's provider, a stream nobody started here is everyone's."""
        owner = self.log.owner(stream_id)
        if owner is not None:
            return owner.client
        return SHARED if self._host_provider is not None else None

    def finished(self, stream_id: str) -> Callable[[], bool]:
        """A test of whether the stream will log nothing more (it has ended, or is gone)."""
        streams = self.provider.streams

        def ended() -> bool:
            return stream_id not in streams or streams[stream_id].status.terminal

        return ended

    async def log_events(self, stream_id: str, after: int) -> AsyncIterator[LoggedEvent]:
        """The stream's events after ``after``, one at a time, then live, until it has ended (or the server closes)."""
        finished = self.finished(stream_id)
        async for batch in batches(
            self.log, stream_id, after, finished=finished, closing=lambda: self.closing
        ):
            for event in batch:
                yield event

    def metrics_text(self) -> tuple[bytes, str]:
        """The Prometheus text of the streams' and the server's metrics, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def feed(self, stream_id: str) -> _Feed:
        feed = self._feeds.get(stream_id)
        if feed is None:
            feed = self._feeds[stream_id] = _Feed()
        return feed

    # --- starting ------------------------------------------------------------------------------------------------

    async def start(
        self,
        client: str,
        processor: str,
        *,
        initial_state: Any = None,
        source: str | None = None,
        options: StreamSpec | None = None,
        stream_id: str | None = None,
    ) -> StreamView:
        script = self.processors.get(processor)
        if script is None:
            known = ", ".join(sorted(self.processors)) or "none"
            raise Problem("bad-request", f"no processor {processor!r} (processors: {known})")
        live = sum(1 for v in self.visible(client, shared=False) if not v.status.terminal)
        self.budget.check_streams(client, live)
        spec = options or StreamSpec()
        sid = stream_id or spec.stream_id or f"{processor}-{secrets.token_hex(4)}"
        if sid in self.provider.streams or self.log.known(sid):
            raise Problem("stream-exists", f"stream id {sid!r} is taken")
        spec = spec.merged(StreamSpec(stream_id=sid))
        on_end = None if spec.on_end is None else script_function(script, spec.on_end, ":on-end")
        opened = None
        if source is not None:
            check_source(self.config.source_security, source, f"stream {sid!r}")
            opened = open_source(source, options=spec.options())
        started = self.provider.start(
            script.processor(processor),
            spec=spec,
            initial_state=initial_state,
            source=opened,
            on_end=on_end,
            processor_name=processor,
        )
        await self._own(started, client, processor)
        return self.provider.streams[started]

    # --- feeding and directing -----------------------------------------------------------------------------------

    async def push(self, stream_id: str, chunks: Sequence[Any], key: str | None = None) -> PushOutcome:
        """Push in order, waiting for room up to the push timeout; with ``key``, a retry applies each chunk once."""
        if key is not None and not (isinstance(key, str) and 0 < len(key) <= _KEY_LENGTH):
            raise Problem("bad-request", f"an idempotency key is a string of 1 to {_KEY_LENGTH} characters")
        feed = self.feed(stream_id)
        feed.last_activity = time.time()
        async with feed.lock:
            done = feed.keys.get(key) if key is not None else None
            if done is None and key is not None:
                done = await self._recall(stream_id, key, len(chunks))
            if done is not None and (done.complete or done.total != len(chunks)):
                return PushOutcome(done.accepted, done.total, replayed=True)
            skip = done.accepted if done is not None else 0
            taken = await self.provider.push_many(stream_id, chunks[skip:], timeout=self.config.push_timeout)
            outcome = PushOutcome(skip + taken, len(chunks), replayed=skip > 0)
            if key is not None:
                feed.keys[key] = outcome
                feed.keys.move_to_end(key)
                while len(feed.keys) > _KEYS_PER_STREAM:
                    feed.keys.popitem(last=False)
            feed.last_activity = time.time()
            return outcome

    async def _recall(self, stream_id: str, key: str, total: int) -> PushOutcome | None:
        """A push the log remembers by ``key`` (made before a restart, or on another node), as far as the stream's
        seq shows it was taken; None for a new key, recorded now, before the push is applied.

        The stream's seq counts the chunks it accepted, and a restored stream has its snapshot's: the chunks of the
        earlier push past its recorded ``base`` are the ones that survived, and a retry pushes the rest. That is
        exact while the pushes with keys are the stream's only input (no source, one producer at a time)."""
        seq = self.provider.streams[stream_id].seq
        prior = await self.log.push_record(stream_id, key)
        if prior is None:
            await self.log.record_push(stream_id, key, seq, total)
            return None
        base, was = prior
        return PushOutcome(min(max(seq - base, 0), was), was)

    def direct(self, stream_id: str, action: str) -> None:
        if action not in DIRECTIVE_ACTIONS:
            raise Problem("bad-request", f"unknown action {action!r} (one of {', '.join(DIRECTIVE_ACTIONS)})")
        provider = self.provider
        self.feed(stream_id).last_activity = time.time()
        if action == "end":
            if provider.streams[stream_id].status.terminal:
                raise StreamClosedError(f"stream {stream_id!r} has ended")
            provider.end_input(stream_id)
        else:
            provider.directive(stream_id, action)

    async def forget(self, stream_id: str) -> None:
        """Cancel the stream if it is live, take it off the provider and delete its snapshot and events."""
        provider = self.provider
        view = provider.streams[stream_id]
        if not view.status.terminal:
            provider.cancel(stream_id)
        await provider.release(stream_id)
        if self._store is not None:
            await self._store.delete(stream_id)
        self._feeds.pop(stream_id, None)
        await self.log.forget(stream_id)
