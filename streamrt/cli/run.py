"""The body of ``streamrt run``: load a script, start its streams, print outputs as JSON lines until they end.

Exit codes (design.md, "The CLI"): 0 when every stream ended without error, 1 when any ended in ``:error``,
2 for a bad script or command line, 130 after SIGINT and 143 after SIGTERM. A signal stops intake, lets the chunk
being processed finish, closes the sources and prints the summary, so the streams are left resumable.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from streamrt.errors import ScriptError, StreamrtError, UsageError
from streamrt.observe.logs import configure_logging, unconfigure_logging
from streamrt.observe.session import Observation, ObserveOptions
from streamrt.policy.limits import DEFAULT_LIMITS, Limits
from streamrt.runtime.machine import Status
from streamrt.runtime.outputs import Output
from streamrt.runtime.provider import Provider
from streamrt.sources.base import Source
from streamrt.values import Keyword, to_json_text

if TYPE_CHECKING:
    from streamrt.lang.script import CallContext
    from streamrt.policy.effects import SecurityContext
    from streamrt.runtime.persist import Persister
    from streamrt.store import Snapshot

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_SIGINT", "EXIT_SIGTERM", "EXIT_USAGE", "run_script"]

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_SIGINT: Final = 130
EXIT_SIGTERM: Final = 143
_EXIT_FOR_SIGNAL: Final = {signal.SIGINT: EXIT_SIGINT, signal.SIGTERM: EXIT_SIGTERM}


class _JsonLines:
    """The stdout sink: one ``{"stream", "seq", "output"}`` object per line, flushed per line."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def __call__(self, output: Output) -> None:
        line = to_json_text({"stream": output.stream_id, "seq": output.seq, "output": output.value})
        self.out.write(line + "\n")
        self.out.flush()


@contextlib.contextmanager
def _signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Future[int]) -> Iterator[None]:
    """Turn SIGINT/SIGTERM into an exit code on ``stop`` while the run lasts (no-op where unsupported)."""
    installed = []
    for sig, code in _EXIT_FOR_SIGNAL.items():

        def on_signal(code: int = code) -> None:
            if not stop.done():
                stop.set_result(code)

        try:
            loop.add_signal_handler(sig, on_signal)
        except (NotImplementedError, RuntimeError, ValueError):
            continue
        installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _summary(provider: Provider) -> tuple[list[str], bool]:
    lines = []
    failed = False
    for sid in provider.stream_ids():
        report = provider.inspect(sid)
        stats = report["stats"]
        status = report["status"]
        failed = failed or status == Status.ERROR.value
        text = (
            f"stream {sid}: {status}; processed {stats['processed']}, outputs {stats['outputs']}, "
            f"dropped {stats['dropped']}, errors {stats['errors']}"
        )
        if stats["skipped"]:
            text += f" ({stats['skipped']} skipped, {stats['dead_lettered']} of them dead-lettered)"
        if report["message"]:
            text += f"; {report['message']}"
        lines.append(text)
    return lines, failed


def _refuse_existing(provider: Provider, persister: Persister, existing: set[str]) -> None:
    """Before anything is processed: a new run must not take over a stream the store already holds."""
    for sid in provider.stream_ids():
        if sid in existing:
            raise UsageError(
                f"the store {persister.store.url} already holds stream {sid!r}: "
                f"use `streamrt resume {sid} --store {persister.store.url}`, or another --stream-id"
            )
        persister.track(provider.record(sid))


async def _claim_new(provider: Provider, persister: Persister) -> None:
    """Own each new stream (a concurrent run of the same ids is refused by its lease or its first write)."""
    for sid in provider.stream_ids():
        await persister.claim(sid)


async def _abandon(persister: Persister | None, code: int) -> int:
    """Leave the store as it was: no final snapshots, leases released."""
    if persister is not None:
        await persister.close(final=False)
    return code


def _recorded_script(snaps: Iterable[Snapshot], key: Keyword) -> tuple[str | None, str]:
    """The script path the snapshots recorded (one for all of them), or None and what is wrong."""
    paths: dict[str, str] = {}
    for snap in snaps:
        recorded = snap.options.get(key)
        if not isinstance(recorded, str):
            return None, f"the snapshot of {snap.stream_id!r} records no script; name it with --script"
        paths.setdefault(recorded, snap.stream_id)
    if len(paths) > 1:
        (first, a), (second, b) = list(paths.items())[:2]
        return None, (
            f"the streams were run from different scripts ({a!r} from {first}, {b!r} from {second}); "
            "resume them separately or name one with --script"
        )
    return next(iter(paths)), ""


def _naming_only(args: dict[Keyword, Any], ctx: CallContext) -> str:
    """``:mcp.stream.start`` while resuming: the script's streams are only named (the resumed one is in the store)."""
    from streamrt.lang.script import stream_request

    request = stream_request(args, ctx.pos)
    sid = request.options.get(Keyword("stream-id"))
    return sid if isinstance(sid, str) else request.processor


def relative_to_script(endpoint: str, script_dir: Path) -> str:
    """Resolve a relative ``jsonl:`` / ``*.jsonl`` path in a script's endpoint against the script's folder."""
    from streamrt.sources import relative_to

    return relative_to(endpoint, script_dir)


async def run_script(
    script_path: str | os.PathLike[str] | None,
    *,
    source_uri: str | None = None,
    stream_id: str | None = None,
    queue_capacity: int | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    store_url: str | None = None,
    snapshot_every: str | int | None = None,
    resume_id: str | None = None,
    resume_ids: Sequence[str] | None = None,
    resume_all: bool = False,
    accept_changed: bool = False,
    observe: ObserveOptions | None = None,
    security: SecurityContext | None = None,
    limits: Limits | None = DEFAULT_LIMITS,
) -> int:
    """Run a script's streams to their end; return the process exit code.

    With ``store_url`` every stream is snapshotted under the ``snapshot_every`` policy (default: every chunk); with
    ``resume_id`` (one stream), ``resume_ids`` (several) or ``resume_all`` (every resumable stream) the script's
    streams are not started: those streams are rehydrated from the store instead, all in one provider
    (:func:`~streamrt.runtime.resume.resume_streams`), and ``script_path`` defaults to the one they recorded.
    ``security`` is the effect policy of the script's capability calls (and of a resumed stream's source);
    ``limits`` the per-chunk limits of its processors (``None``: off). ``observe`` sets the log level and format, the ``/metrics`` server and the progress lines (default: warnings
    and errors as text on ``err``, no metrics, progress when ``err`` is a terminal).
    """
    ids = [resume_id] if resume_id is not None else None if resume_ids is None else list(resume_ids)
    resuming = ids is not None or resume_all
    command = "resume" if resuming else "run"
    persister: Persister | None = None
    if store_url is not None or resuming:
        try:
            persister = await _open_persister(store_url, snapshot_every)
        except StreamrtError as exc:
            err.write(f"streamrt {command}: {exc}\n")
            return EXIT_USAGE
    elif snapshot_every is not None:
        err.write("streamrt run: --snapshot-every needs --store\n")
        return EXIT_USAGE
    try:
        return await _run(
            script_path,
            persister,
            command,
            source_uri,
            stream_id,
            queue_capacity,
            out,
            err,
            resuming,
            ids,
            accept_changed,
            observe or ObserveOptions(),
            security=security,
            limits=limits,
        )
    finally:
        if persister is not None:
            await persister.store.aclose()


async def _open_persister(store_url: str | None, snapshot_every: str | int | None) -> Persister:
    from streamrt.runtime.persist import Persister, parse_policy
    from streamrt.store import open_store

    policy = parse_policy(snapshot_every)
    store = open_store(store_url)
    await store.open()
    return Persister(store, policy)


async def _run(
    script_path: str | os.PathLike[str] | None,
    persister: Persister | None,
    command: str,
    source_uri: str | None,
    stream_id: str | None,
    queue_capacity: int | None,
    out: TextIO,
    err: TextIO,
    resuming: bool,
    resume_ids: list[str] | None,
    accept_changed: bool,
    observe: ObserveOptions,
    *,
    security: SecurityContext | None,
    limits: Limits | None,
) -> int:
    from streamrt.lang.effects import declare_effects
    from streamrt.lang.script import load_script
    from streamrt.policy.effects import check_source
    from streamrt.runtime.persist import SCRIPT_KEY
    from streamrt.runtime.resume import read_resumable, resume_streams
    from streamrt.sources import open_source

    snaps: dict[str, Snapshot] = {}
    if resuming and persister is not None:
        try:
            snaps = await read_resumable(persister.store, resume_ids)
        except StreamrtError as exc:
            err.write(f"streamrt resume: {exc}\n")
            return EXIT_USAGE
        if not snaps:
            err.write(f"streamrt resume: no resumable streams in {persister.store.url}\n")
            return EXIT_OK
        if script_path is None:
            recorded, problem = _recorded_script(snaps.values(), SCRIPT_KEY)
            if recorded is None:
                err.write(f"streamrt resume: {problem}\n")
                return EXIT_USAGE
            script_path = recorded
    assert script_path is not None
    if queue_capacity is not None and (type(queue_capacity) is not int or queue_capacity < 1):
        err.write(f"streamrt run: --queue-capacity must be a positive integer, got {queue_capacity!r}\n")
        return EXIT_USAGE

    script_dir = Path(script_path).resolve().parent

    def source_factory(endpoint: str, options: Mapping[Keyword, Any]) -> Source:
        # --source is relative to where the user is; a script's own endpoint to where the script is
        if source_uri is not None:
            return open_source(source_uri, options=options)
        return open_source(relative_to_script(endpoint, script_dir), options=options)

    existing: set[str] = set()
    if persister is not None and not resuming:
        existing = {row.stream_id for row in await persister.store.list()}
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[int] = loop.create_future()
    handler = configure_logging(observe.log_level, observe.log_format, err)
    observing: Observation | None = None
    try:
        async with Provider(limits=limits, security=security) as provider:
            observing = Observation(provider, observe, out=out, err=err, log_handler=handler, command=command)
            provider.add_sink(observing.guard(_JsonLines(out)))
            caps = provider.capabilities(
                source_factory=source_factory,
                stream_id=stream_id,
                queue_capacity=queue_capacity,
                endpoint_uri=lambda endpoint: source_uri or relative_to_script(endpoint, script_dir),
            )
            try:
                if resuming:
                    # the script's mcp-stream forms only name streams here: the resumed ones come from the store
                    caps["mcp.stream.start"] = declare_effects()(_naming_only)
                script = load_script(os.fspath(script_path), capabilities=caps, security=security)
                if persister is not None and not resuming:
                    _refuse_existing(provider, persister, existing)
                if persister is not None:
                    persister.processor_hash = script.source_hash
                    persister.script_path = str(Path(script_path).resolve())
                    persister.attach(provider)
                if resuming and persister is not None:
                    for snap in snaps.values():
                        uri = source_uri if source_uri is not None else snap.source_uri
                        if security is not None and uri is not None:
                            check_source(security, uri, f"the resumed stream {snap.stream_id!r}")
                    await resume_streams(
                        provider,
                        persister,
                        None,
                        script,
                        source=source_uri,
                        accept_changed=accept_changed,
                        snapshots=snaps,
                    )
                for request in script.stream_requests if not resuming else ():
                    provider.start_request(
                        script,
                        request,
                        source=source_factory(request.endpoint, request.options),
                        stream_id=stream_id,
                        queue_capacity=queue_capacity,
                    )
                if persister is not None and not resuming:
                    await _claim_new(provider, persister)
            except ScriptError as exc:
                err.write(exc.format() + "\n")
                return await _abandon(persister, EXIT_USAGE)
            except StreamrtError as exc:
                err.write(f"streamrt {command}: {exc}\n")
                return await _abandon(persister, EXIT_USAGE)
            if not provider.stream_ids():
                err.write(
                    f"streamrt run: {script.filename} starts no streams (add an (mcp-stream ...) form)\n"
                )
                return EXIT_USAGE
            try:
                observing.start()
            except UsageError as exc:
                err.write(f"streamrt {command}: {exc}\n")
                return await _abandon(persister, EXIT_USAGE)
            with _signals(loop, stop):
                done: asyncio.Future[Any] = asyncio.ensure_future(provider.wait())
                watched: list[asyncio.Future[Any]] = [done, stop]
                try:
                    await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    done.cancel()
                code = stop.result() if stop.done() else None
                if persister is None:
                    # Without a store nothing can resume these streams: their sources may release what a server
                    # keeps for a resume (an MCP source ends its session).
                    for sid in provider.stream_ids():
                        src = provider._get(sid).source
                        if src is not None:
                            src.closing_for_good = True
                await provider.close()
                if persister is not None:
                    try:
                        await persister.close()
                    except StreamrtError as exc:
                        err.write(f"streamrt {command}: final snapshot failed: {exc}\n")
                        code = EXIT_ERROR if code is None else code
            await observing.stop()
            lines, failed = _summary(provider)
            for line in lines:
                err.write(line + "\n")
            if code is not None:
                live = sum(1 for sid in provider.stream_ids() if not provider.record(sid).status.terminal)
                err.write(
                    f"streamrt {command}: interrupted; {live} stream(s) left unfinished and resumable\n"
                )
                return code
            return EXIT_ERROR if failed else EXIT_OK
    except UsageError as exc:
        err.write(f"streamrt {command}: {exc}\n")
        return EXIT_USAGE
    finally:
        if observing is not None:
            await observing.stop()
        unconfigure_logging(handler)
        if not stop.done():
            stop.cancel()
