"""Bringing a stream back from its snapshot: :func:`resume_stream`.

The stream is started afresh from the script (processor and ``:on-end`` found by name), then its record is
overwritten with the snapshot (state, status, queue, counters, continuation), and only then is its source opened
from the continuation, so the first chunk it reads is the one after the last chunk the snapshot had queued.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final

from streamrt.errors import ProcessorChangedError
from streamrt.runtime.capabilities import _function
from streamrt.runtime.machine import Status
from streamrt.runtime.persist import SCRIPT_KEY, Persister, restore
from streamrt.store import Snapshot
from streamrt.values import Keyword

if TYPE_CHECKING:
    from streamrt.lang.script import Script
    from streamrt.runtime.provider import Provider

__all__ = ["check_processor", "resume_stream"]

_ON_END: Final = Keyword("on-end")


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
) -> Snapshot:
    """Rehydrate ``stream_id`` from ``persister.store`` into ``provider`` and run it on; returns the snapshot.

    Raises SnapshotNotFoundError for an unknown stream, ProcessorChangedError (see :func:`check_processor`) and
    StoreError when another provider holds the stream's lease. A stream whose snapshot is terminal comes back
    terminal; nothing is read for it.
    """
    from streamrt.sources import open_source

    snap = await persister.store.get(stream_id)
    check_processor(snap, script, accept_changed=accept_changed)
    processor = script.processor(snap.processor)
    options: dict[Any, Any] = {k: v for k, v in snap.options.items() if k is not SCRIPT_KEY}
    on_end_ref = options.get(_ON_END)
    on_end = None if on_end_ref is None else _function(script, on_end_ref, ":on-end")
    await persister.claim(stream_id, snap.version)
    provider.start(
        processor,
        stream_id=stream_id,
        initial_state=snap.initial_state,
        queue_capacity=snap.queue_capacity or None,
        on_end=on_end,
        processor_name=snap.processor,
        options=options,
    )
    record = provider._get(stream_id)
    restore(record, snap)
    persister.track(record)
    if record.status.terminal:
        provider._finish(record)
        return snap
    uri = source if source is not None else snap.source_uri
    if uri is not None:
        src = open_source(uri, continuation=snap.continuation, options=options)
        record.source = src
        record.reader = asyncio.get_running_loop().create_task(
            provider._read(record, src), name=f"streamrt-source-{stream_id}"
        )
    if record.status is Status.ACTIVE and record.queue:
        provider._schedule(record)
    return snap
