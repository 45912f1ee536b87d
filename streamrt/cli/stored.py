"""What ``streamrt run --store`` does with the streams its store already holds.

Under a supervisor (systemd ``Restart=always``, a container restart) the same ``streamrt run SCRIPT --store URL``
runs again after every stop, so a stream the store holds is not an error: a resumable one (active, paused, or in
``:error`` because its source gave up: what ``resume --all`` would take) is resumed from its snapshot, and the run
says so on stderr; a finished one stays finished and only its summary is printed (exit 0 unless it ended in
``:error``). ``--restart`` deletes what the store holds of the script's streams and starts them over.

The script's ``mcp-stream`` forms run while it loads, and each names its stream: :meth:`StoredStreams.capability`
wraps ``:mcp.stream.start`` so that a stream the store does not hold starts at once, as in a run without a store,
and the others are set aside; :meth:`StoredStreams.carry_on` deals with those once the script has loaded.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import msgspec

from streamrt.errors import CapabilityError
from streamrt.lang.effects import declare_effects
from streamrt.lang.script import CallContext, Script, StreamRequest, stream_request
from streamrt.runtime.capture import SCRIPT_KEY, source_failed
from streamrt.runtime.machine import Status
from streamrt.runtime.resume import resume_streams
from streamrt.secrets import secrets_given
from streamrt.store import Snapshot, StreamSummary
from streamrt.values import Keyword

if TYPE_CHECKING:
    from streamrt.lang.script import Capability
    from streamrt.runtime.persist import Persister
    from streamrt.runtime.provider import Provider
    from streamrt.sources import Source

__all__ = ["StoredStreams", "is_resumable", "naming_only", "recorded_script"]

_STREAM_ID: Final = Keyword("stream-id")


def is_resumable(status: str, snap: Snapshot | None = None) -> bool:
    """What ``resume --all`` takes: a live stream, or one in ``:error`` because its source gave up."""
    if status in (Status.ACTIVE.value, Status.PAUSED.value):
        return True
    return status == Status.ERROR.value and snap is not None and source_failed(snap)


def recorded_script(snaps: Iterable[Snapshot]) -> tuple[str | None, str]:
    """The script path the snapshots recorded (one for all of them), or None and what is wrong."""
    paths: dict[str, str] = {}
    for snap in snaps:
        recorded = snap.options.get(SCRIPT_KEY)
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


@declare_effects()
def naming_only(args: dict[Keyword, Any], ctx: CallContext) -> str:
    """``:mcp.stream.start`` while resuming: the script's streams are only named (the resumed ones are in the
    store)."""
    request = stream_request(args, ctx.pos)
    sid = request.options.get(_STREAM_ID)
    return sid if isinstance(sid, str) else request.processor


class StoredStreams(msgspec.Struct):
    """The streams of one ``run --store``, sorted by what the store holds of them."""

    held: Mapping[str, StreamSummary]
    """What the store holds, by stream id (read before the script loads)."""
    restart: bool = False
    stream_id: str | None = None
    """``--stream-id``: the one stream the script may start."""
    resumed: list[Snapshot] = msgspec.field(default_factory=list)
    finished: list[Snapshot] = msgspec.field(default_factory=list)
    restarted: list[tuple[StreamRequest, str]] = msgspec.field(default_factory=list)
    _set_aside: list[tuple[StreamRequest, str]] = msgspec.field(default_factory=list)
    _named: set[str] = msgspec.field(default_factory=set)
    _ids: Any = msgspec.field(default_factory=lambda: itertools.count(1))

    def capability(self, start: Capability) -> Capability:
        """``:mcp.stream.start`` that starts a stream new to the store through ``start`` and sets the others aside.

        The id each stream gets is decided here (``--stream-id``, its ``:stream-id``, else ``PROCESSOR-N`` as the
        provider numbers them), so a stream started by an earlier run is found under the same id.
        """

        def start_or_set_aside(args: dict[Keyword, Any], ctx: CallContext) -> str:
            request = stream_request(args, ctx.pos)
            if self.stream_id is not None and self._named:
                raise CapabilityError(
                    f"the stream id {self.stream_id!r} was given for one stream, but the script starts more than one"
                )
            sid = self._id_for(request)
            self._named.add(sid)
            if sid in self.held:
                self._set_aside.append((request, sid))
                return sid
            result: str = start({**args, _STREAM_ID: sid}, ctx)
            return result

        # no declared effects: the guards around it judge the endpoint, as for the capability it wraps
        return start_or_set_aside

    def _id_for(self, request: StreamRequest) -> str:
        if self.stream_id is not None:
            return self.stream_id
        given = request.options.get(_STREAM_ID)
        if isinstance(given, str):
            return given
        sid = f"{request.processor}-{next(self._ids)}"
        while sid in self._named:
            sid = f"{request.processor}-{next(self._ids)}"
        return sid

    async def carry_on(
        self,
        provider: Provider,
        persister: Persister,
        script: Script,
        *,
        open_source: Callable[[str, Mapping[Keyword, Any]], Source],
        source_uri: str | None,
        accept_changed: bool,
        queue_capacity: int | None,
        check: Callable[[Snapshot], None],
        secrets: Mapping[str, str] | None = None,
    ) -> None:
        """Resume the resumable streams set aside, note the finished ones, or (``--restart``) start them over.

        ``check`` is called with each snapshot to resume before anything is resumed (the security context).
        """
        if not self._set_aside:
            return
        store = persister.store
        snaps = await store.get_many([sid for _, sid in self._set_aside])
        if self.restart:
            for request, sid in self._set_aside:
                if sid in snaps:
                    await store.delete(sid)
                provider.start_request(
                    script,
                    request,
                    source=open_source(request.endpoint, request.options),
                    stream_id=sid,
                    queue_capacity=queue_capacity,
                )
                await persister.claim(sid)
                self.restarted.append((request, sid))
            return
        resumable = {}
        for _, sid in self._set_aside:
            snap = snaps.get(sid)
            if snap is None:
                continue  # deleted since it was listed: nothing to go on from
            if is_resumable(snap.status, snap):
                resumable[sid] = snap
            else:
                self.finished.append(snap)
        for snap in resumable.values():
            check(snap)
        if resumable:
            await resume_streams(
                provider,
                persister,
                None,
                script,
                source=source_uri,
                accept_changed=accept_changed,
                snapshots=resumable,
                secrets=secrets,
                # the script holds the secrets the snapshots only name
                stream_secrets={
                    sid: secrets_given(request.options, request.endpoint) for request, sid in self._set_aside
                },
            )
            self.resumed.extend(resumable.values())
