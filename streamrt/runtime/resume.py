"""Bringing streams back from their snapshots: :func:`resume_stream`, and :func:`resume_streams` for many.

The script gives the processor and ``:on-end`` (found by name), the snapshot everything else, and
:meth:`Provider.restore <streamrt.runtime.provider.Provider.restore>` brings the stream back (state, status,
queue, counters, continuation, whether its input had ended) with its source opened from the continuation, so the
first chunk it reads is the one after the last chunk the snapshot had queued. Resuming many reads all snapshots in one query and claims all leases in one statement
per batch; everything is checked before the first stream starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from streamrt.errors import ProcessorChangedError, SnapshotNotFoundError, SourceError, UsageError
from streamrt.runtime.capabilities import script_function
from streamrt.runtime.capture import restored_status, source_failed
from streamrt.runtime.machine import Status
from streamrt.runtime.persist import Persister
from streamrt.runtime.spec import ON_END
from streamrt.secrets import restore_secrets
from streamrt.sources import Item, Source, open_source
from streamrt.store import Snapshot, SnapshotStore
from streamrt.store.codec import gc_paused

if TYPE_CHECKING:
    from streamrt.lang.script import Script
    from streamrt.runtime.provider import Provider

__all__ = ["check_processor", "read_resumable", "resume_stream", "resume_streams"]

_RESUMABLE: Final = frozenset({Status.ACTIVE.value, Status.PAUSED.value, Status.ERROR.value})
"""Statuses ``resume --all`` looks at; of the errors, only failed sources are resumed."""


def check_processor(snapshot: Snapshot, script: Script, *, accept_changed: bool = False) -> None:
    """Refuse to run a snapshot's state through a processor whose source changed, unless told to."""
    if accept_changed or not snapshot.processor_hash or snapshot.processor_hash == script.source_hash:
        return
    raise ProcessorChangedError(
        f"stream {snapshot.stream_id!r}: the processor's script {script.filename} changed since the snapshot "
        f"(hash {snapshot.processor_hash[:12]} then, {script.source_hash[:12]} now); its state may not fit the "
        "new code. Pass --accept-changed-processor (accept_changed=True) to resume with the new version"
    )


async def resume_stream(
    provider: Provider,
    persister: Persister,
    stream_id: str,
    script: Script,
    *,
    source: str | None = None,
    accept_changed: bool = False,
    secrets: Mapping[str, str] | None = None,
) -> Snapshot:
    """Rehydrate ``stream_id`` from ``persister.store`` into ``provider`` and run it on; returns the snapshot.

    Raises SnapshotNotFoundError for an unknown stream, ProcessorChangedError (see :func:`check_processor`) and
    StoreError when another provider holds the stream's lease. A stream whose snapshot is terminal comes back
    terminal and nothing is read for it, except a stream in ``:error`` because its source failed: it comes back
    active and its source reopens from the continuation. A stream whose input had ended comes back without its
    source: it drains its queue and completes.
    """
    snap = await persister.store.get(stream_id)
    parts = _prepare(snap, script, accept_changed, source, secrets)
    await persister.claim(stream_id, snap.version)
    _rehydrate(provider, snap, parts)
    return snap


async def read_resumable(store: SnapshotStore, stream_ids: Iterable[str] | None) -> dict[str, Snapshot]:
    """The snapshots :func:`resume_streams` would resume, by stream id, read in one query.

    ``None``: every active or paused stream in the store, and the ``:error`` ones whose source failed. Named
    streams that have no snapshot raise SnapshotNotFoundError naming them (the first five, and how many more).
    """
    if stream_ids is None:
        ids = [row.stream_id for row in await store.list() if row.status in _RESUMABLE]
        return {
            sid: snap
            for sid, snap in (await store.get_many(ids)).items()
            if snap.status != Status.ERROR.value or source_failed(snap)
        }
    ids = list(dict.fromkeys(stream_ids))
    snaps = await store.get_many(ids)
    missing = [sid for sid in ids if sid not in snaps]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        names = ", ".join(repr(sid) for sid in missing[:5])
        raise SnapshotNotFoundError(f"no snapshot of stream {names}{more} in {store.url}")
    return snaps


async def resume_streams(
    provider: Provider,
    persister: Persister,
    stream_ids: Iterable[str] | None,
    script: Script,
    *,
    accept_changed: bool = False,
    source: str | None = None,
    snapshots: Mapping[str, Snapshot] | None = None,
    secrets: Mapping[str, str] | None = None,
    stream_secrets: Mapping[str, Mapping[str, str]] | None = None,
    isolate: bool = False,
) -> list[Snapshot]:
    """:func:`resume_stream` for many streams (``None``: every stream in the store that ``script`` can run).

    Checked before anything starts, so it is all or nothing: snapshots that are missing (SnapshotNotFoundError
    naming them), processors the script lacks or whose source changed, leases held by another provider. The
    snapshots are read in one query and the leases claimed in one statement per batch, which is what makes
    resuming thousands of streams take a fraction of a second. With ``None``, terminal streams stay in the store
    and are not brought back (an ``:error`` one is, if its source failed). Each stream reads from the source its
    snapshot recorded, or from ``source`` when given. ``snapshots``: what :func:`read_resumable` returned for
    ``stream_ids``, when the caller has already read them (``stream_ids`` is then ignored). ``secrets``: values for
    the secrets the snapshots only name (``{"bearer-token": ...}``; see :func:`streamrt.secrets.restore_secrets`);
    a secret neither given nor in its environment variable is a ``UsageError`` before anything starts.
    ``stream_secrets``: the same per stream id, over ``secrets`` (a script run again gives each stream its own).
    ``isolate``: a missing secret fails only its own stream, for a server that runs many clients' streams: the
    stream comes back and its source fails at once (``:error`` saying which secret), so a later start that has the
    secret resumes it; the others run on.
    """
    snaps = await read_resumable(persister.store, stream_ids) if snapshots is None else snapshots
    with gc_paused():
        per_stream = stream_secrets or {}
        parts = [
            (
                snap,
                _prepare(
                    snap,
                    script,
                    accept_changed,
                    source,
                    {**(secrets or {}), **per_stream.get(sid, {})},
                    isolate=isolate,
                ),
            )
            for sid, snap in snaps.items()
        ]
    await persister.claim_many({snap.stream_id: snap.version for snap in snaps.values()})
    with gc_paused():
        for snap, prepared in parts:
            _rehydrate(provider, snap, prepared)
    return list(snaps.values())


_Parts = tuple[
    Callable[..., Any], Callable[..., Any] | None, "tuple[dict[Any, Any], str] | _Unopenable | None"
]
"""The processor, the ``:on-end``, and how the source opens: ``(options, uri)``, or a source saying why it cannot."""


class _Unopenable(Source):
    """A source that fails when opened, with the reason it could not be: its stream goes to ``:error`` the way any
    failed source puts it there (queue drained first; resumable later)."""

    kind = "unopened"

    def __init__(self, uri: str, reason: str) -> None:
        super().__init__(uri)
        self.reason = reason

    async def open(self) -> None:
        raise SourceError(self.reason)

    async def items(self) -> AsyncIterator[Item]:  # pragma: no cover - open() always fails first
        raise SourceError(self.reason)
        yield


def _prepare(
    snap: Snapshot,
    script: Script,
    accept_changed: bool,
    source: str | None = None,
    secrets: Mapping[str, str] | None = None,
    *,
    isolate: bool = False,
) -> _Parts:
    """What starting the stream needs: its processor and ``:on-end`` from the script, and the options and URI its
    source opens with (the snapshot's secret references filled from ``secrets`` or the environment); checked first.
    """
    check_processor(snap, script, accept_changed=accept_changed)
    processor = script.processor(snap.processor)
    on_end_ref = snap.options.get(ON_END)
    on_end = None if on_end_ref is None else script_function(script, on_end_ref, ":on-end")
    status, input_ended = restored_status(snap)
    uri = source if source is not None else snap.source_uri
    opening: tuple[dict[Any, Any], str] | _Unopenable | None = None
    if uri is not None and not status.terminal and not input_ended:
        try:
            options, filled = restore_secrets(snap.options, uri, stream_id=snap.stream_id, secrets=secrets)
        except UsageError as exc:
            if not isolate:
                raise
            opening = _Unopenable(uri, str(exc))
        else:
            opening = (options, filled or uri)
    return processor, on_end, opening


def _rehydrate(provider: Provider, snap: Snapshot, parts: _Parts) -> None:
    """Restore the stream into ``provider``, its source reopened from the continuation if it will read on."""
    processor, on_end, opening = parts
    src: Source | None = None
    if isinstance(opening, _Unopenable):
        src = opening
    elif opening is not None:
        options, uri = opening
        src = open_source(uri, continuation=snap.continuation, options=options)
    provider.restore(snap, processor, on_end=on_end, source=src)
