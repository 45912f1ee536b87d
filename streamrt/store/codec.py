"""Snapshot and value encoding: msgpack with extension types, framed and checksummed.

Theory of operation
-------------------
Every blob a store writes is a *frame*::

    magic (4 bytes) | format version (u16) | payload length (u32) | CRC32 of payload (u32) | payload

all big-endian. The magic tells a snapshot (``SRTS``) from a single value (``SRTV``, used for dead letters); the
length tells a truncated blob from a garbled one before the checksum is even computed; the CRC32 catches bit rot
and torn writes. Any failure raises :class:`~streamrt.errors.SnapshotCorruptError` naming the stream, so a damaged
snapshot is never mistaken for a state.

The payload is msgpack. A snapshot is packed as one array of its fields in declaration order (the format version
fixes that order), which is smaller and faster than a map. Language values round-trip exactly:

| value | msgpack |
|---|---|
| nil, booleans, str, float, bytes | native (strings with lone surrogates too, via ``surrogatepass``) |
| int within 64 bits | native |
| int beyond 64 bits | ext 3: two's-complement big-endian bytes |
| :class:`~streamrt.values.Keyword` | ext 1: the qualified name, interned again on decode |
| vector (``tuple``) | array; arrays decode as tuples |
| :class:`~streamrt.values.LList` | ext 2: the items packed as an array |
| :class:`~streamrt.values.Symbol` | ext 4: the name |
| :class:`~streamrt.values.LSet` | ext 5: the members packed as an array, in the set's order |
| map (``dict``, any hashable keys) | map, decoded with ``strict_map_key=False`` |

The packer runs with ``strict_types=True`` so tuple subclasses (``LList``) and ``int`` subclasses reach the
``default`` hook instead of being silently flattened; plain tuples therefore take one hop through the hook.
A Python ``list`` is packed as an array and so comes back as a tuple (a vector), the language's only sequence type.
"""

from __future__ import annotations

import gc
import struct
import threading
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

import msgpack

from streamrt.errors import SnapshotCorruptError, UnstorableValueError
from streamrt.store.snapshot import FORMAT_VERSION, Snapshot
from streamrt.values import Keyword, LList, LSet, Symbol, measure, type_name

__all__ = [
    "STORE_WALK_LIMIT",
    "SUPPORTED_FORMAT_VERSIONS",
    "decode_snapshot",
    "decode_value",
    "encode_snapshot",
    "encode_value",
    "gc_paused",
]

SUPPORTED_FORMAT_VERSIONS: Final = frozenset({1, 2, 3, 4, 5})

STORE_WALK_LIMIT = 4_000_000
"""The most items (a shared part counted each time it appears) one snapshot or stored value may hold. msgpack packs
maps in C without a way to stop it, so every blob is measured first: a value that shares itself at each of 60
levels is 60 objects but 2**60 items to write."""

_SNAPSHOT_MAGIC: Final = b"SRTS"
_VALUE_MAGIC: Final = b"SRTV"
_HEADER: Final = struct.Struct("!4sHII")

_EXT_KEYWORD: Final = 1
_EXT_LLIST: Final = 2
_EXT_BIGINT: Final = 3
_EXT_SYMBOL: Final = 4
_EXT_SET: Final = 5

_FIELDS: Final = (
    "stream_id",
    "processor",
    "processor_hash",
    "state",
    "initial_state",
    "status",
    "status_message",
    "queue",
    "continuation",
    "source_uri",
    "queue_capacity",
    "options",
    "stats",
    "seq",
    "output_seq",
    "pending_outputs",
    "version",
    "created_at",
    "updated_at",
    "input_ended",
    "source_kind",
    "source_failed",
    "queue_received_at",
    "timers",
)
_FIELD_COUNT: Final = {
    1: len(_FIELDS) - 5,
    2: len(_FIELDS) - 3,
    3: len(_FIELDS) - 2,
    4: len(_FIELDS) - 1,
    5: len(_FIELDS),
}
"""Fields per format version: each version appends fields, so an older snapshot is a prefix of the layout."""

# --- packing ---------------------------------------------------------------------------------------------------

_keyword_exts: dict[Keyword, msgpack.ExtType] = {}
_KEYWORD_EXTS_KEPT: Final = 4096


def _bigint(value: int) -> msgpack.ExtType:
    return msgpack.ExtType(_EXT_BIGINT, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def _default(obj: Any) -> Any:
    """Turn what msgpack cannot pack natively (or must not flatten) into something it can."""
    t = type(obj)
    if t is Keyword:
        ext = _keyword_exts.get(obj)
        if ext is None:
            if len(_keyword_exts) >= _KEYWORD_EXTS_KEPT:
                _keyword_exts.clear()  # a cache, not a second keyword table that keeps every key alive
            ext = _keyword_exts[obj] = msgpack.ExtType(
                _EXT_KEYWORD, obj.qualified.encode("utf-8", "surrogatepass")
            )
        return ext
    if t is tuple:
        return list(obj)
    if t is int:
        return _bigint(obj)
    if t is LList:
        return msgpack.ExtType(_EXT_LLIST, _fresh_packer().pack(list(obj)))
    if t is Symbol:
        return msgpack.ExtType(_EXT_SYMBOL, obj.name.encode("utf-8", "surrogatepass"))
    if t is LSet:
        return msgpack.ExtType(_EXT_SET, _fresh_packer().pack(list(obj)))
    # Host values of subclassed builtin types (enums, named tuples, mappings) are stored as their base value.
    if isinstance(obj, int):
        value = int(obj)
        return value if -(2**63) <= value < 2**64 else _bigint(value)
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, tuple | list):
        return list(obj)
    raise TypeError(f"a {type_name(obj)} value cannot be stored in a snapshot")


def _fresh_packer() -> msgpack.Packer:
    return msgpack.Packer(
        default=_default, use_bin_type=True, strict_types=True, unicode_errors="surrogatepass"
    )


class _PackerSlot(threading.local):
    """One reusable packer per thread: a Packer is not thread-safe, and building one per call costs a buffer."""

    def __init__(self) -> None:
        self.packer = _fresh_packer()


_slot = _PackerSlot()


def _pack(obj: Any) -> bytes:
    packer = _slot.packer
    try:
        return packer.pack(obj)
    except BaseException:
        # A failed pack leaves partial data in the buffer; start clean next time.
        _slot.packer = _fresh_packer()
        raise


def _frame(magic: bytes, payload: bytes) -> bytes:
    return _HEADER.pack(magic, FORMAT_VERSION, len(payload), zlib.crc32(payload)) + payload


def encode_snapshot(snapshot: Snapshot) -> bytes:
    """Encode a snapshot as a checksummed frame; a value that cannot be stored raises :class:`~streamrt.errors.UnstorableValueError`."""
    s = snapshot
    fields = [
        s.stream_id,
        s.processor,
        s.processor_hash,
        s.state,
        s.initial_state,
        s.status,
        s.status_message,
        [[value, meta] for value, meta in s.queue],
        s.continuation,
        s.source_uri,
        s.queue_capacity,
        s.options,
        s.stats,
        s.seq,
        s.output_seq,
        [[n, value] for n, value in s.pending_outputs],
        s.version,
        s.created_at,
        s.updated_at,
        s.input_ended,
        s.source_kind,
        bool(s.source_failed),
        s.queue_received_at,
        [[name, due] for name, due in s.timers],
    ]
    try:
        measure(fields, limit=STORE_WALK_LIMIT)
        payload = _pack(fields)
    except (TypeError, ValueError, OverflowError) as e:
        raise UnstorableValueError(f"cannot snapshot stream {s.stream_id!r}: {e}") from None
    return _frame(_SNAPSHOT_MAGIC, payload)


def encode_value(value: Any, *, stream_id: str, what: str = "value") -> bytes:
    """Encode one language value as a checksummed frame (dead-letter chunks and metadata)."""
    try:
        measure(value, limit=STORE_WALK_LIMIT)
        payload = _pack(value)
    except (TypeError, ValueError, OverflowError) as e:
        raise UnstorableValueError(f"cannot store the {what} of stream {stream_id!r}: {e}") from None
    return _frame(_VALUE_MAGIC, payload)


# --- unpacking -------------------------------------------------------------------------------------------------


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector off while thousands of snapshots are decoded or rehydrated.

    Decoding allocates many small containers and none of them is garbage, yet each few hundred allocations trigger
    a collection that walks the ever larger young heap: measured on 10,000 snapshots, that was two thirds of the
    time (msgpack's documentation gives the same advice for large messages). Reference counting still frees
    everything; a collection that was due runs once the block ends. Nested use keeps the outermost setting.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _EXT_KEYWORD:
        return Keyword(data.decode("utf-8", "surrogatepass"))
    if code == _EXT_LLIST:
        return LList(_unpack(data))
    if code == _EXT_BIGINT:
        return int.from_bytes(data, "big", signed=True)
    if code == _EXT_SYMBOL:
        return Symbol(data.decode("utf-8", "surrogatepass"))
    if code == _EXT_SET:
        return LSet(_unpack(data))
    raise ValueError(f"unknown extension type {code}")


def _unpack(payload: bytes | memoryview) -> Any:
    return msgpack.unpackb(
        payload,
        use_list=False,
        raw=False,
        strict_map_key=False,
        unicode_errors="surrogatepass",
        ext_hook=_ext_hook,
    )


def _unframe(blob: bytes, magic: bytes, stream_id: str, what: str) -> tuple[int, Any]:
    """Check a frame and unpack its payload (with its format version); failures name the stream and the fault."""

    def corrupt(why: str) -> SnapshotCorruptError:
        return SnapshotCorruptError(f"{what} of stream {stream_id!r} is corrupt: {why}")

    if len(blob) < _HEADER.size:
        if blob and not magic.startswith(bytes(blob[:4])):
            raise corrupt("bad magic (not a streamrt snapshot)")
        raise corrupt(f"truncated ({len(blob)} bytes, shorter than the {_HEADER.size}-byte header)")
    got_magic, version, length, crc = _HEADER.unpack_from(blob)
    if got_magic != magic:
        raise corrupt("bad magic (not a streamrt snapshot)")
    if version not in SUPPORTED_FORMAT_VERSIONS:
        supported = ", ".join(str(v) for v in sorted(SUPPORTED_FORMAT_VERSIONS))
        raise corrupt(f"unsupported format version {version} (this streamrt reads {supported})")
    actual = len(blob) - _HEADER.size
    if actual < length:
        raise corrupt(f"truncated ({actual} of {length} payload bytes)")
    if actual > length:
        raise corrupt(f"{actual - length} unexpected bytes after the payload")
    payload = memoryview(blob)[_HEADER.size :]
    if zlib.crc32(payload) != crc:
        raise corrupt("checksum mismatch")
    try:
        return version, _unpack(payload)
    except Exception as e:  # msgpack raises many types for bad input; all mean the same here
        raise corrupt(f"payload cannot be decoded ({type(e).__name__}: {e})") from None


def decode_value(blob: bytes, *, stream_id: str, what: str = "value") -> Any:
    """Decode a frame made by :func:`encode_value`."""
    return _unframe(blob, _VALUE_MAGIC, stream_id, what)[1]


_NONE: Final = type(None)
_NUMBER: Final = (int, float)
_FIELD_TYPES: Final[tuple[type | tuple[type, ...] | None, ...]] = (
    str,  # stream_id
    str,  # processor
    str,  # processor_hash
    None,  # state
    None,  # initial_state
    str,  # status
    (str, _NONE),  # status_message
    tuple,  # queue
    (dict, _NONE),  # continuation
    (str, _NONE),  # source_uri
    int,  # queue_capacity
    dict,  # options
    dict,  # stats
    int,  # seq
    int,  # output_seq
    tuple,  # pending_outputs
    int,  # version
    _NUMBER,  # created_at
    _NUMBER,  # updated_at
    bool,  # input_ended
    str,  # source_kind
    bool,  # source_failed
    (tuple, _NONE),  # queue_received_at
    tuple,  # timers
)


def decode_snapshot(blob: bytes, *, stream_id: str) -> Snapshot:
    """Decode and check a snapshot of ``stream_id``; anything wrong raises :class:`SnapshotCorruptError`."""
    version, fields = _unframe(blob, _SNAPSHOT_MAGIC, stream_id, "snapshot")

    def corrupt(why: str) -> SnapshotCorruptError:
        return SnapshotCorruptError(f"snapshot of stream {stream_id!r} is corrupt: {why}")

    if type(fields) is not tuple or len(fields) != _FIELD_COUNT[version]:
        raise corrupt("unexpected layout")
    for name, expected, value in zip(_FIELDS, _FIELD_TYPES, fields, strict=False):
        if expected is not None and not isinstance(value, expected):
            raise corrupt(f"field {name} is a {type_name(value)}")
    (sid, processor, processor_hash, state, initial_state, status, status_message, queue, continuation,
     source_uri, queue_capacity, options, stats, seq, output_seq, pending, snap_version, created_at,
     updated_at) = fields[:19]  # fmt: skip
    input_ended, source_kind = fields[19:21] if version >= 2 else (False, "")
    source_failed: bool | None = fields[21] if version >= 3 else None
    received: tuple[Any, ...] | None = fields[22] if version >= 4 else None
    timers: tuple[Any, ...] = fields[23] if version >= 5 else ()
    if sid != stream_id:
        raise corrupt(f"it holds stream {sid!r}")
    try:
        queue_list = [(value, meta) for value, meta in queue]
        pending_list = [(n, value) for n, value in pending]
    except (TypeError, ValueError):
        raise corrupt("malformed queue or pending outputs") from None
    if received is not None and (
        len(received) != len(queue_list) or not all(type(t) is float or type(t) is int for t in received)
    ):
        raise corrupt("the queued chunks' receive times do not match the queue")
    try:
        timer_list = [(name, due) for name, due in timers]
    except (TypeError, ValueError):
        raise corrupt("malformed timers") from None
    if not all(type(due) is float or type(due) is int for _, due in timer_list):
        raise corrupt("a timer's due time is not a number")
    return Snapshot(
        sid,
        processor,
        processor_hash,
        state,
        initial_state,
        status,
        status_message,
        queue_list,
        continuation,
        source_uri,
        queue_capacity,
        options,
        stats,
        seq,
        output_seq,
        pending_list,
        snap_version,
        version,
        created_at,
        updated_at,
        input_ended,
        source_kind,
        source_failed,
        list(received) if received is not None else None,
        [(name, float(due)) for name, due in timer_list],
    )
