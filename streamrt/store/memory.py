"""An in-process snapshot store for tests and embedding.

It keeps *encoded* snapshots, not the objects, so everything that goes through it also goes through the codec the
way a SQL store's rows do: a value that cannot be stored fails here too, and a snapshot read back is a fresh copy
the caller cannot alias. Each method runs without awaiting, so every call, ``put_many`` included, is atomic with
respect to other tasks on the event loop.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec
from msgspec.structs import replace

from streamrt.errors import SnapshotNotFoundError
from streamrt.store.base import (
    SnapshotStore,
    check_expected_version,
    check_lease_args,
    conflict_error,
    fenced_out_error,
)
from streamrt.store.codec import decode_snapshot, decode_value, encode_snapshot, encode_value, gc_paused
from streamrt.store.snapshot import DeadLetter, Lease, Snapshot, StreamSummary

__all__ = ["MemoryStore"]


class _Row(msgspec.Struct, frozen=True):
    """What a SQL store's snapshot row holds."""

    processor: str
    status: str
    version: int
    seq: int
    updated_at: float
    blob: bytes
    fence: int = 0


class _Letter(msgspec.Struct, frozen=True):
    seq: int
    chunk: bytes
    meta: bytes
    error: str
    created_at: float


class MemoryStore(SnapshotStore):
    """Snapshots in a dict of encoded rows; ``clock`` is injectable so lease expiry can be tested without waiting."""

    fencing = True

    def __init__(self, url: str = "memory:", *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(url)
        self._clock = clock
        self._rows: dict[str, _Row] = {}
        self._leases: dict[str, Lease] = {}
        self._letters: dict[str, builtins.list[_Letter]] = {}

    async def open(self) -> None:
        self._open = True

    async def aclose(self) -> None:
        self._open = False

    async def get(self, stream_id: str) -> Snapshot:
        self._check_open()
        row = self._rows.get(stream_id)
        if row is None:
            raise SnapshotNotFoundError(f"no snapshot of stream {stream_id!r} in {self.url}")
        return _decoded(row, stream_id)

    async def get_many(self, stream_ids: Iterable[str]) -> dict[str, Snapshot]:
        self._check_open()
        rows = self._rows
        with gc_paused():
            return {sid: _decoded(rows[sid], sid) for sid in dict.fromkeys(stream_ids) if sid in rows}

    async def put_many(self, items: Sequence[tuple[Snapshot, int | None]]) -> builtins.list[int]:
        self._check_open()
        for snapshot, expected in items:
            check_expected_version(snapshot.stream_id, expected)
        saved = [(s, s.version, s.updated_at) for s, _ in items]
        staged: dict[str, _Row] = {}
        versions: builtins.list[int] = []
        now = self._clock()
        try:
            for snapshot, expected in items:
                sid = snapshot.stream_id
                current = staged.get(sid) or self._rows.get(sid)
                actual = current.version if current is not None else None
                if current is not None and current.fence > snapshot.fence:
                    raise fenced_out_error(sid, snapshot.fence, current.fence)
                if actual != expected:
                    raise conflict_error(sid, expected, actual)
                snapshot.version = (expected or 0) + 1
                snapshot.updated_at = now
                blob = encode_snapshot(snapshot)
                staged[sid] = _Row(
                    snapshot.processor,
                    snapshot.status,
                    snapshot.version,
                    snapshot.seq,
                    now,
                    blob,
                    snapshot.fence,
                )
                versions.append(snapshot.version)
        except BaseException:
            for s, version, updated_at in reversed(saved):
                s.version, s.updated_at = version, updated_at
            raise
        self._rows.update(staged)
        return versions

    async def list(self) -> builtins.list[StreamSummary]:
        self._check_open()
        return [
            StreamSummary(sid, r.processor, r.status, r.version, r.updated_at, r.seq, r.fence)
            for sid, r in sorted(self._rows.items())
        ]

    async def delete(self, stream_id: str, *, expected_version: int | None = None) -> None:
        self._check_open()
        row = self._rows.get(stream_id)
        if row is None:
            raise SnapshotNotFoundError(f"no snapshot of stream {stream_id!r} in {self.url}")
        if expected_version is not None and row.version != expected_version:
            raise conflict_error(stream_id, expected_version, row.version)
        del self._rows[stream_id]
        self._leases.pop(stream_id, None)
        self._letters.pop(stream_id, None)

    async def raise_fence(self, stream_id: str, token: int) -> int:
        self._check_open()
        row = self._rows.get(stream_id)
        if row is None:
            return 0
        if row.fence < token:
            self._rows[stream_id] = replace(row, fence=token)
        return row.fence

    async def claim(self, stream_id: str, owner: str, ttl: float) -> bool:
        self._check_open()
        check_lease_args(stream_id, owner, ttl)
        now = self._clock()
        held = self._leases.get(stream_id)
        if held is not None and held.owner != owner and held.expires_at > now:
            return False
        self._leases[stream_id] = Lease(stream_id, owner, now + ttl)
        return True

    async def claim_many(self, stream_ids: Iterable[str], owner: str, ttl: float) -> builtins.set[str]:
        self._check_open()
        ids = builtins.list(dict.fromkeys(stream_ids))
        for sid in ids:
            check_lease_args(sid, owner, ttl)
        now = self._clock()
        won: builtins.set[str] = set()
        for sid in ids:
            held = self._leases.get(sid)
            if held is None or held.owner == owner or held.expires_at <= now:
                self._leases[sid] = Lease(sid, owner, now + ttl)
                won.add(sid)
        return won

    async def release(self, stream_id: str, owner: str) -> bool:
        self._check_open()
        held = self._leases.get(stream_id)
        if held is None or held.owner != owner:
            return False
        del self._leases[stream_id]
        return True

    async def lease(self, stream_id: str) -> Lease | None:
        self._check_open()
        return self._leases.get(stream_id)

    async def add_dead_letter(
        self, stream_id: str, seq: int, chunk: Any, meta: Any, error: str, *, created_at: float | None = None
    ) -> None:
        self._check_open()
        letter = _Letter(
            seq,
            encode_value(chunk, stream_id=stream_id, what="dead-letter chunk"),
            encode_value(meta, stream_id=stream_id, what="dead-letter metadata"),
            error,
            self._clock() if created_at is None else created_at,
        )
        self._letters.setdefault(stream_id, []).append(letter)

    async def dead_letters(self, stream_id: str) -> builtins.list[DeadLetter]:
        self._check_open()
        return [
            DeadLetter(
                stream_id,
                d.seq,
                decode_value(d.chunk, stream_id=stream_id, what="dead-letter chunk"),
                decode_value(d.meta, stream_id=stream_id, what="dead-letter metadata"),
                d.error,
                d.created_at,
            )
            for d in self._letters.get(stream_id, [])
        ]


def _decoded(row: _Row, stream_id: str) -> Snapshot:
    snapshot = decode_snapshot(row.blob, stream_id=stream_id)
    snapshot.fence = row.fence
    return snapshot
