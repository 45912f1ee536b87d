"""The body of ``streamrt run`` and ``streamrt resume``: load a script, start (or resume) its streams, write their
outputs to the sink until they end.

A run is a :class:`RunConfig` (from the command line, :meth:`RunConfig.from_args`, or from a caller) carried out by
the steps of :class:`_Run`: open the store and read what to resume; load the script and start or resume its
streams; wait for them to end, or for SIGINT / SIGTERM; close; print the summary. A signal stops intake, lets the
chunk being processed finish, closes the sources and prints the summary, so the streams are left resumable
(:mod:`streamrt.cli.signals`).

Exit codes are :mod:`streamrt.cli.exits`: 0 when every stream ended without error, 1 when any ended in ``:error``, 2 for
a bad script or command line, 130 after SIGINT and 143 after SIGTERM, 141 when the reader of stdout went away.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TextIO

import msgspec

from streamrt.cli.exits import EXIT_ERROR, EXIT_OK, EXIT_PIPE, EXIT_USAGE
from streamrt.cli.signals import end_run, signals_end_run
from streamrt.cli.summary import finished_summary, summary
from streamrt.errors import ScriptError, StreamrtError, UsageError
from streamrt.lang.cache import default_cache
from streamrt.lang.effects import guard_capabilities
from streamrt.lang.meter import DEFAULT_LIMITS, Limits
from streamrt.lang.script import Script, load_script
from streamrt.observe.logs import Console, configure_logging, unconfigure_logging
from streamrt.observe.session import Observation, ObserveOptions, observe_options
from streamrt.policy.effects import SecurityContext, check_source
from streamrt.runtime.building import DEFAULT_MAX_STREAMS
from streamrt.runtime.loops import cache_loops
from streamrt.runtime.machine import Status
from streamrt.runtime.provider import Provider
from streamrt.secrets import secret_flags
from streamrt.sinks import OutputSink, SinkFlushes, open_sink
from streamrt.sources import Source, open_source, relative_to
from streamrt.values import Keyword

if TYPE_CHECKING:
    from streamrt.cli.stored import StoredStreams
    from streamrt.runtime.persist import Persister
    from streamrt.store import Snapshot, StreamSummary

__all__ = ["RunConfig", "run", "run_script"]

_STREAM_ID_OPTION: Final = Keyword("stream-id")


class RunConfig(msgspec.Struct, frozen=True):
    """What one ``streamrt run`` or ``streamrt resume`` is asked to do.

    With ``store_url`` every stream is snapshotted under the ``snapshot_every`` policy (default: every chunk); with
    ``resume_ids`` or ``resume_all`` the script's streams are not started: those streams are rehydrated from the
    store instead, all in one provider, and ``script`` defaults to the one they recorded. ``security`` is the effect
    policy of the script's capability calls (and of a resumed stream's source); ``limits`` the per-chunk limits of
    its processors (``None``: off), ceilings its streams' ``:limits`` may only lower; ``max_streams`` how many
    streams the run may hold (its processors may start more, with ``:spawn``); ``observe`` the log level and format, the ``/metrics`` server and the progress
    lines; ``sink_uri`` where outputs go (:func:`streamrt.sinks.open_sink`; default standard output); ``secrets``
    the values of secrets the snapshots of resumed streams only name (``--secret NAME=VARIABLE``).
    """

    script: str | os.PathLike[str] | None
    source_uri: str | None = None
    sink_uri: str | None = None
    stream_id: str | None = None
    queue_capacity: int | None = None
    store_url: str | None = None
    snapshot_every: str | int | None = None
    resume_ids: tuple[str, ...] | None = None
    resume_all: bool = False
    accept_changed: bool = False
    restart: bool = False
    """With a store: start the script's streams over, deleting what the store holds of them."""
    unpause: bool = False
    """Resume a stream that had paused itself (a host ``resume`` directive once it is back)."""
    secrets: Mapping[str, str] = msgspec.field(default_factory=dict)
    """Values of the secrets resumed streams' snapshots only name (``--secret NAME=VARIABLE``)."""
    observe: ObserveOptions = msgspec.field(default_factory=ObserveOptions)
    security: SecurityContext | None = None
    limits: Limits | None = DEFAULT_LIMITS
    max_streams: int | None = DEFAULT_MAX_STREAMS
    api: str | None = None
    """``[HOST:]PORT``: serve the HTTP API for this run (``streamrt run --api``)."""
    cache: bool = True
    """Load the script from the compiled-script cache (:func:`streamrt.lang.cache.default_cache`); ``--no-cache``
    turns it off."""

    @property
    def resuming(self) -> bool:
        return self.resume_ids is not None or self.resume_all

    @property
    def command(self) -> str:
        return "resume" if self.resuming else "run"

    def check(self) -> None:
        """Refuse what no run can do, before anything is opened."""
        if self.snapshot_every is not None and self.store_url is None and not self.resuming:
            raise UsageError("--snapshot-every needs --store")
        if self.restart and (self.store_url is None or self.resuming):
            raise UsageError("--restart starts a stored run's streams over: it needs run --store")
        capacity = self.queue_capacity
        if capacity is not None and (type(capacity) is not int or capacity < 1):
            raise UsageError(f"--queue-capacity must be a positive integer, got {capacity!r}")

    @classmethod
    def from_args(cls, args: argparse.Namespace, **policy: Any) -> RunConfig:
        """From the parsed flags of ``run`` or ``resume``; ``policy`` holds ``security`` and ``limits``."""
        resuming = args.command == "resume"
        return cls(
            script=args.script,
            source_uri=args.source,
            sink_uri=_sink_uri(args.sink, getattr(args, "output", None)),
            stream_id=getattr(args, "stream_id", None),
            queue_capacity=getattr(args, "queue_capacity", None),
            store_url=args.store,
            snapshot_every=getattr(args, "snapshot_every", None),
            resume_ids=(None if args.all else tuple(args.targets)) if resuming else None,
            resume_all=resuming and args.all,
            accept_changed=args.accept_changed_processor,
            restart=getattr(args, "restart", False),
            unpause=args.unpause,
            secrets=secret_flags(getattr(args, "secret", None) or ()),
            observe=observe_options(args),
            max_streams=getattr(args, "max_streams", None) or DEFAULT_MAX_STREAMS,
            api=getattr(args, "api", None),
            cache=not getattr(args, "no_cache", False),
            **policy,
        )


def _sink_uri(sink: str | None, output: str | None) -> str | None:
    """``--output FILE`` is the JSON-lines sink on that file whatever its name (``-``: standard output)."""
    if output is None:
        return sink
    return "-" if output == "-" else f"jsonl:{output}"


class _Sources:
    """Opens the script's sources: ``--source`` (relative to where the user is) for every stream, else each
    endpoint (relative to where the script is). Keeps what it opened, to release it on a run without a store."""

    def __init__(self, source_uri: str | None, script_dir: str) -> None:
        self.source_uri = source_uri
        self.script_dir = script_dir
        self.opened: list[Source] = []

    def uri_for(self, endpoint: str) -> str:
        return self.source_uri or relative_to(endpoint, self.script_dir)

    def open(self, endpoint: str, options: Mapping[Keyword, Any]) -> Source:
        source = open_source(self.uri_for(endpoint), options=options)
        self.opened.append(source)
        return source


@contextlib.contextmanager
def _as_start_up() -> Iterator[None]:
    """Load the script as start-up imported the command's modules: with the collector paused, then frozen.

    Only when the console script froze its start-up (:func:`streamrt.cli._start_up`; a program calling
    :func:`streamrt.cli.main` keeps its collector as it is). A script not in the compiled-script cache (a miss,
    ``--no-cache``) imports the reader and the compiler here, after that freeze: left to the collector, its passes
    over them (and the full collection at exit) cost a whole 10-line run 3% more instructions (issue #17).
    """
    if not gc.get_freeze_count() or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


class _Run:
    """The steps of one run; each returns an exit code when the run must end there, else None."""

    def __init__(self, config: RunConfig, out: TextIO, err: TextIO) -> None:
        self.config = config
        self.out = out
        self.err = err
        self.command = config.command
        self.console = Console(err, config.observe.log_format)
        self.persister: Persister | None = None
        self.snapshots: dict[str, Snapshot] = {}
        self.stored: StoredStreams | None = None

    def fail(self, problem: StreamrtError | str, code: int = EXIT_USAGE) -> int:
        self.say_problem(problem, level="error" if code != EXIT_OK else "info")
        return code

    def say_problem(self, problem: StreamrtError | str, *, level: str = "error") -> None:
        """A problem on stderr: a script's as ``file:line:col: message`` with its line, others after our name."""
        if isinstance(problem, ScriptError):
            where = {"file": problem.filename, "line": problem.line, "column": problem.column}
            self.console.say(problem.format(), level=level, lines=True, event="problem", **where)
        else:
            self.console.say(f"streamrt {self.command}: {problem}", level=level, event="problem")

    async def __call__(self) -> int:
        config = self.config
        try:
            config.check()
            if config.store_url is not None or config.resuming:
                # the store types and snapshots: imported by a run with a store only (start-up, issue #17)
                from streamrt.runtime.persist import Persister, parse_policy
                from streamrt.store.registry import open_store

                store = open_store(config.store_url)
                policy = parse_policy(config.snapshot_every)
                await store.open()
                self.persister = Persister(store, policy)
        except StreamrtError as exc:
            return self.fail(exc)
        try:
            code = await self.read_snapshots()
            if code is not None:
                return code
            return await self.run_streams()
        finally:
            if self.persister is not None:
                await self.persister.store.aclose()

    async def read_snapshots(self) -> int | None:
        """What to resume, and the script it names when none was given."""
        persister = self.persister
        if not self.config.resuming or persister is None:
            return None
        # what a resume needs, imported only for one: a plain run starts without it (issue #17)
        from streamrt.cli.stored import recorded_script
        from streamrt.runtime.resume import read_resumable

        ids = None if self.config.resume_ids is None else list(self.config.resume_ids)
        try:
            self.snapshots = await read_resumable(persister.store, ids)
        except StreamrtError as exc:
            return self.fail(exc)
        if not self.snapshots:
            return self.fail(f"no resumable streams in {persister.store.url}", EXIT_OK)
        if self.config.script is None:
            recorded, problem = recorded_script(self.snapshots.values())
            if recorded is None:
                return self.fail(problem)
            self.config = msgspec.structs.replace(self.config, script=recorded)
        return None

    async def run_streams(self) -> int:
        config = self.config
        assert config.script is not None
        script_text = os.fspath(
            config.script
        )  # as given: error messages name the script the way the user did
        # os.path, not pathlib: a run imports neither pathlib nor the urllib.parse and ipaddress it imports (#17)
        sources = _Sources(config.source_uri, os.path.dirname(os.path.realpath(script_text)))
        held: dict[str, StreamSummary] = {}
        if self.persister is not None and not config.resuming:
            held = {row.stream_id: row for row in await self.persister.store.list()}
        stop: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        handler = configure_logging(config.observe.log_level, config.observe.log_format, self.err)
        observing: Observation | None = None
        sink: OutputSink | None = None
        api: Any = None
        # from the start: a signal while streams start (outputs may flow already) is a shutdown too
        with signals_end_run(asyncio.get_running_loop(), stop):
            try:
                sink = open_sink(config.sink_uri, stdout=self.out, on_closed=lambda: end_run(stop, EXIT_PIPE))
                async with Provider(
                    limits=config.limits,
                    security=config.security,
                    persistence=self.persister,
                    max_streams=config.max_streams,
                ) as provider:
                    observing = Observation(
                        provider,
                        config.observe,
                        out=self.out,
                        err=self.err,
                        log_handler=handler,
                        command=self.command,
                        console=self.console,
                    )
                    provider.add_sink(observing.guard(sink))
                    flush = getattr(sink, "flush", None)
                    if callable(flush):  # a batching sink: written after each batch, before its snapshot
                        provider.add_observer(SinkFlushes(flush))
                    if config.api is not None:
                        from streamrt.cli.serve import serve_run  # the server's libraries: only for --api

                        api = await serve_run(provider, config.api, script_text, self.err)
                    try:
                        await self.start(provider, sources, script_text, held)
                    except StreamrtError as exc:
                        return await self.abandon(self.fail(exc))
                    if not provider.stream_ids() and self.stored is not None and self.stored.finished:
                        # every stream of the script had finished in an earlier run: that is the outcome
                        await self.abandon(EXIT_OK)
                        return self.report(provider, None)
                    if not provider.stream_ids():
                        return self.fail(f"{script_text} starts no streams (add an (mcp-stream ...) form)")
                    try:
                        observing.start()
                    except UsageError as exc:
                        return await self.abandon(self.fail(exc))
                    code = await self.wait(provider, stop, sources)
                    await observing.stop()
                    return self.report(provider, code)
            except UsageError as exc:
                return self.fail(exc)
            finally:
                if api is not None:
                    await api.stop()
                if observing is not None:
                    await observing.stop()
                if sink is not None:
                    sink.close()
                unconfigure_logging(handler)
                if not stop.done():
                    stop.cancel()

    async def start(
        self, provider: Provider, sources: _Sources, script_path: str, held: Mapping[str, StreamSummary]
    ) -> None:
        """Load the script and start its streams (with a store: resume those it holds), or resume the streams
        read from the store."""
        config, persister = self.config, self.persister
        caps = provider.capabilities(
            source_factory=sources.open,
            stream_id=config.stream_id,
            queue_capacity=config.queue_capacity,
            endpoint_uri=sources.uri_for,
        )
        stored: StoredStreams | None = None
        # streamrt.cli.stored: a resume's or a stored run's, imported only for one (a plain run's start, issue #17)
        if config.resuming:
            from streamrt.cli.stored import naming_only

            # the script's mcp-stream forms only name streams here: the resumed ones come from the store
            caps["mcp.stream.start"] = naming_only
        elif persister is not None:
            from streamrt.cli.stored import StoredStreams

            stored = StoredStreams(held, restart=config.restart, stream_id=config.stream_id)
            wrapped = {"mcp.stream.start": stored.capability(caps["mcp.stream.start"])}
            caps.update(guard_capabilities(wrapped, config.security, endpoint_uri=sources.uri_for))
        cache = default_cache() if config.cache else None
        cache_loops(cache)
        with _as_start_up():
            script = load_script(path=script_path, capabilities=caps, security=config.security, cache=cache)
        if persister is not None:
            persister.processor_hash = script.source_hash
            persister.script_path = os.path.realpath(script_path)
        if config.resuming:
            await self.resume(provider, script)
            await self.unpause(provider, list(self.snapshots.values()))
            return
        if persister is None or stored is None:
            return
        new = provider.stream_ids()
        for sid in new:
            # own each new stream (a concurrent run of the same ids is refused by its lease or first write)
            await persister.claim(sid)
        await stored.carry_on(
            provider,
            persister,
            script,
            open_source=sources.open,
            source_uri=config.source_uri,
            accept_changed=config.accept_changed,
            queue_capacity=config.queue_capacity,
            check=self.check_resumed_source,
            secrets=config.secrets,
        )
        self.stored = stored
        url = persister.store.url
        for snap in stored.resumed:
            self.console.say(
                f"streamrt run: resuming stream {snap.stream_id} from {url} ({snap.status}; processed "
                f"{int(snap.stats.get('processed', 0))}, outputs {snap.output_seq})",
                event="resume",
                stream_id=snap.stream_id,
                status=snap.status,
                seq=snap.seq,
                output_seq=snap.output_seq,
            )
        for _, sid in stored.restarted:
            self.console.say(
                f"streamrt run: restarting stream {sid} (--restart: what {url} held of it is deleted)",
                event="restart",
                stream_id=sid,
            )
        await self.unpause(provider, stored.resumed)

    def check_resumed_source(self, snap: Snapshot) -> None:
        """A resumed stream reads its recorded source (or --source): the security context must allow it."""
        config = self.config
        uri = config.source_uri if config.source_uri is not None else snap.source_uri
        if config.security is not None and uri is not None:
            check_source(config.security, uri, f"the resumed stream {snap.stream_id!r}")

    async def unpause(self, provider: Provider, snaps: Iterable[Snapshot]) -> None:
        """``--unpause``: a resumed stream that had paused itself runs on; without it, say how it would."""
        for snap in snaps:
            if snap.status != Status.PAUSED.value or snap.stream_id not in provider.streams:
                continue
            if self.config.unpause:
                provider.resume(snap.stream_id)
                self.console.say(
                    f"streamrt {self.command}: stream {snap.stream_id} was paused; --unpause resumes it",
                    event="unpause",
                    stream_id=snap.stream_id,
                )
            else:
                self.console.say(
                    f"streamrt {self.command}: stream {snap.stream_id} is paused and waits for a resume "
                    "directive (from its source, or a host); pass --unpause to run it on now",
                    level="warning",
                    event="paused",
                    stream_id=snap.stream_id,
                )

    async def resume(self, provider: Provider, script: Script) -> None:
        config, persister = self.config, self.persister
        assert persister is not None
        for snap in self.snapshots.values():
            self.check_resumed_source(snap)
        from streamrt.runtime.resume import resume_streams  # a resume only (start-up, issue #17)

        await resume_streams(
            provider,
            persister,
            None,
            script,
            source=config.source_uri,
            accept_changed=config.accept_changed,
            snapshots=self.snapshots,
            secrets=config.secrets,
        )

    async def abandon(self, code: int) -> int:
        """Leave the store as it was: no final snapshots, leases released."""
        if self.persister is not None:
            await self.persister.close(final=False)
        return code

    async def wait(self, provider: Provider, stop: asyncio.Future[int], sources: _Sources) -> int | None:
        """Until every stream ends or a signal comes (its exit code); then close the provider and the store."""
        done: asyncio.Future[Any] = asyncio.ensure_future(provider.wait())
        try:
            await asyncio.wait([done, stop], return_when=asyncio.FIRST_COMPLETED)
        finally:
            done.cancel()
        code = stop.result() if stop.done() else None
        if self.persister is None:
            # Without a store nothing can resume these streams: their sources may release what a server keeps
            # for a resume (an MCP source ends its session).
            for source in sources.opened:
                source.closing_for_good = True
        try:
            await provider.close()  # with a store, the last snapshots are written and the leases released
        except StreamrtError as exc:
            self.say_problem(f"final snapshot failed: {exc}")
            code = EXIT_ERROR if code is None else code
        return code

    def report(self, provider: Provider, code: int | None) -> int:
        """The closing summary on stderr, and the exit code."""
        lines, failed = summary(provider)
        for snap in self.stored.finished if self.stored is not None else ():
            lines.append(finished_summary(snap))
            failed = failed or snap.status == Status.ERROR.value
        for text, fields in lines:
            self.console.say(
                text, level="error" if fields["status"] == Status.ERROR.value else "info", **fields
            )
        if code is not None:
            live = sum(1 for sid in provider.stream_ids() if not provider.record(sid).status.terminal)
            # without a store nothing was kept to resume from: say so rather than promise a resume
            left = (
                "and resumable" if self.persister is not None else "(run without --store: nothing to resume)"
            )
            why = "output closed" if code == EXIT_PIPE else "interrupted"
            self.console.say(
                f"streamrt {self.command}: {why}; {live} stream(s) left unfinished {left}",
                level="warning",
                event="interrupted",
                unfinished=live,
                resumable=self.persister is not None,
            )
            return code
        return EXIT_ERROR if failed else EXIT_OK


async def run(config: RunConfig, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run ``config``'s streams to their end; return the process exit code."""
    return await _Run(config, out, err)()


async def run_script(
    script: str | os.PathLike[str] | None,
    *,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    resume_id: str | None = None,
    resume_ids: Sequence[str] | None = None,
    **options: Any,
) -> int:
    """:func:`run` with the :class:`RunConfig` fields as keywords (``resume_id`` resumes one stream)."""
    ids = (resume_id,) if resume_id is not None else None if resume_ids is None else tuple(resume_ids)
    return await run(RunConfig(script, resume_ids=ids, **options), out=out, err=err)
