"""The snapshot codec: exact round-trips of language values, and refusal of anything damaged, by stream name."""

from __future__ import annotations

import math
import struct
import zlib
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrt.errors import SnapshotCorruptError, StoreError
from streamrt.store import (
    FORMAT_VERSION,
    Snapshot,
    decode_snapshot,
    decode_value,
    encode_snapshot,
    encode_value,
)
from streamrt.values import Keyword, LList, Symbol

K = Keyword
HEADER = struct.Struct("!4sHII")

# --- strategies ------------------------------------------------------------------------------------------------------

any_text = st.text(st.characters(exclude_categories=()), max_size=12)  # lone surrogates included
keywords = st.one_of(
    st.from_regex(r"\A[a-z][a-z0-9\-?!.]{0,8}\Z"),
    st.from_regex(r"\A[a-z][a-z.]{0,5}/[a-z][a-z0-9\-]{0,5}\Z"),
    any_text.filter(bool),
).map(Keyword)
ints = st.one_of(st.integers(-(2**64), 2**64), st.integers(-(2**300), 2**300))
floats = st.floats(allow_nan=True, allow_infinity=True)
scalars = st.one_of(st.none(), st.booleans(), ints, floats, any_text, keywords, any_text.map(Symbol))
hashable_leaves = st.one_of(st.none(), st.booleans(), ints, any_text, keywords)
keys = st.one_of(hashable_leaves, st.lists(hashable_leaves, max_size=3).map(tuple))


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=5).map(tuple),
        st.lists(children, max_size=5).map(LList),
        st.dictionaries(keys, children, max_size=5),
    )


values = st.recursive(scalars, _containers, max_leaves=40)
small_values = st.recursive(scalars, _containers, max_leaves=6)


def same(a: Any, b: Any) -> bool:
    """Exact equality: same types all the way down, floats bit for bit (NaN, -0.0), keywords identical."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return struct.pack("!d", a) == struct.pack("!d", b)
    if type(a) is Keyword:
        return a is b
    if type(a) is dict:
        return len(a) == len(b) and all(
            same(ka, kb) and same(va, vb) for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True)
        )
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def same_snapshot(a: Snapshot, b: Snapshot) -> bool:
    return all(same(getattr(a, f), getattr(b, f)) for f in Snapshot.__struct_fields__)


def snapshot(state: Any = None, **fields: Any) -> Snapshot:
    return Snapshot("orders-7", "tally", state=state, **fields)


# --- round trips -----------------------------------------------------------------------------------------------------


@settings(max_examples=300)
@given(values)
def test_any_language_value_round_trips_exactly(value: Any) -> None:
    assert same(decode_value(encode_value(value, stream_id="s"), stream_id="s"), value)
    assert same(decode_snapshot(encode_snapshot(snapshot(value)), stream_id="orders-7").state, value)


@settings(max_examples=60)
@given(
    state=small_values,
    initial=small_values,
    queue=st.lists(st.tuples(small_values, st.dictionaries(keywords, small_values, max_size=3)), max_size=4),
    continuation=st.none()
    | st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=3),
    options=st.dictionaries(keys, small_values, max_size=3),
    stats=st.dictionaries(st.text(max_size=8), st.integers(0, 2**40) | st.floats(0, 1e9), max_size=4),
    pending=st.lists(st.tuples(st.integers(0, 2**40), small_values), max_size=3),
    numbers=st.tuples(*(st.integers(0, 2**62) for _ in range(4))),
    status=st.sampled_from(["active", "paused", "completed", "stopped", "cancelled", "error"]),
    message=st.none() | st.text(max_size=20),
    ended=st.booleans(),
    stamped=st.booleans(),
)
def test_every_snapshot_field_round_trips(
    state: Any,
    initial: Any,
    queue: list[tuple[Any, dict[Any, Any]]],
    continuation: dict[str, Any] | None,
    options: dict[Any, Any],
    stats: dict[str, int | float],
    pending: list[tuple[int, Any]],
    numbers: tuple[int, int, int, int],
    status: str,
    message: str | None,
    ended: bool,
    stamped: bool,
) -> None:
    seq, output_seq, version, capacity = numbers
    s = Snapshot(
        "orders-7",
        "tally",
        processor_hash="9f86d081",
        state=state,
        initial_state=initial,
        status=status,
        status_message=message,
        queue=queue,
        continuation=continuation,
        source_uri="jsonl:orders.jsonl",
        queue_capacity=capacity,
        options=options,
        stats=stats,
        seq=seq,
        output_seq=output_seq,
        pending_outputs=pending,
        version=version,
        created_at=1.5,
        updated_at=2.25,
        input_ended=ended,
        source_kind="jsonl",
        queue_received_at=[1.7e9 + i / 4 for i in range(len(queue))] if stamped else None,
    )
    got = decode_snapshot(encode_snapshot(s), stream_id="orders-7")
    assert same_snapshot(got, s)
    assert type(got.queue) is list and all(type(item) is tuple for item in got.queue)
    assert type(got.pending_outputs) is list and all(type(item) is tuple for item in got.pending_outputs)


def test_special_values_keep_their_exact_form() -> None:
    value = {
        K("nan"): math.nan,
        K("neg-zero"): -0.0,
        K("inf"): (math.inf, -math.inf),
        K("edges"): (2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1, 10**40),
        K("list-in-vector"): (LList(()), LList((1,)), ()),
        LList((K("k"),)): "llist key",
        (1, (2, 3)): "vector key",
        K("surrogate"): "\ud800x\udfff",
        K("sym"): Symbol("quoted-sym"),
    }
    got = decode_value(encode_value(value, stream_id="s"), stream_id="s")
    assert same(got, value)
    assert type(next(k for k in got if type(k) is LList)) is LList


def test_keywords_come_back_interned() -> None:
    got = decode_value(encode_value({K("weather/city"): K("oslo")}, stream_id="s"), stream_id="s")
    ((key, value),) = got.items()
    assert key is K("weather/city") and value is K("oslo") and key.namespace == "weather"


def test_python_lists_and_subclasses_are_stored_as_their_language_value() -> None:
    import enum

    class Level(enum.IntEnum):
        HIGH = 3

    got = decode_value(encode_value({"l": [1, [2]], "e": Level.HIGH}, stream_id="s"), stream_id="s")
    assert same(got, {"l": (1, (2,)), "e": 3})


@pytest.mark.parametrize(
    ("state", "what"),
    [
        pytest.param({K("f"): len}, "function", id="function"),
        pytest.param((object(),), "object", id="object"),
    ],
)
def test_unstorable_values_are_refused_by_stream_name(state: Any, what: str) -> None:
    with pytest.raises(
        StoreError, match=rf"cannot snapshot stream 'orders-7': a {what} value cannot be stored"
    ):
        encode_snapshot(snapshot(state))
    # A failed pack must not leave bytes behind for the next one.
    assert decode_snapshot(encode_snapshot(snapshot(1)), stream_id="orders-7").state == 1


# --- damage ----------------------------------------------------------------------------------------------------------

GOOD = encode_snapshot(
    snapshot({K("count"): 3}, queue=[({K("v"): 1}, {K("seq"): 1})], continuation={"line": 3}, seq=3)
)


def _reframe(payload: bytes, *, magic: bytes = b"SRTS", version: int = FORMAT_VERSION) -> bytes:
    return HEADER.pack(magic, version, len(payload), zlib.crc32(payload)) + payload


def test_every_truncation_is_refused_as_truncated() -> None:
    for n in range(len(GOOD)):
        with pytest.raises(
            SnapshotCorruptError, match=r"snapshot of stream 'orders-7' is corrupt: truncated"
        ):
            decode_snapshot(GOOD[:n], stream_id="orders-7")


def test_every_flipped_bit_is_refused() -> None:
    for i in range(len(GOOD)):
        for bit in (0x01, 0x80):
            garbled = bytearray(GOOD)
            garbled[i] ^= bit
            with pytest.raises(SnapshotCorruptError, match="'orders-7' is corrupt"):
                decode_snapshot(bytes(garbled), stream_id="orders-7")


def test_payload_damage_is_a_checksum_mismatch() -> None:
    garbled = bytearray(GOOD)
    garbled[-3] ^= 0x10
    with pytest.raises(SnapshotCorruptError, match="checksum mismatch"):
        decode_snapshot(bytes(garbled), stream_id="orders-7")


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_garbage_is_refused(blob: bytes) -> None:
    with pytest.raises(SnapshotCorruptError, match="'orders-7'"):
        decode_snapshot(blob, stream_id="orders-7")


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        pytest.param(b"PK\x03\x04" + GOOD[4:], "bad magic", id="bad-magic"),
        pytest.param(b"{}", "bad magic", id="short-garbage"),
        pytest.param(encode_value(1, stream_id="x"), "bad magic", id="a-value-not-a-snapshot"),
        pytest.param(
            _reframe(GOOD[HEADER.size :], version=99), "unsupported format version 99", id="future-version"
        ),
        pytest.param(GOOD + b"\x00", "1 unexpected bytes after the payload", id="trailing-bytes"),
        pytest.param(_reframe(b"\xc1"), r"payload cannot be decoded", id="invalid-msgpack"),
        pytest.param(_reframe(msgpack.packb([1, 2])), "unexpected layout", id="not-a-snapshot-layout"),
        pytest.param(
            encode_snapshot(Snapshot("other", "tally")),
            "it holds stream 'other'",
            id="another-streams-snapshot",
        ),
    ],
)
def test_damage_is_named(blob: bytes, message: str) -> None:
    with pytest.raises(SnapshotCorruptError, match=rf"snapshot of stream 'orders-7' is corrupt: .*{message}"):
        decode_snapshot(blob, stream_id="orders-7")


def test_a_field_of_the_wrong_type_is_refused() -> None:
    fields = msgpack.unpackb(GOOD[HEADER.size :], strict_map_key=False)
    fields[13] = "three"  # seq
    with pytest.raises(SnapshotCorruptError, match="field seq is a string"):
        decode_snapshot(_reframe(msgpack.packb(fields)), stream_id="orders-7")


def test_format_1_snapshots_are_still_read() -> None:
    """Format 1 had no input_ended, source_kind, source_failed, queue_received_at nor timers: the layout minus
    those."""
    fields = msgpack.unpackb(GOOD[HEADER.size :], strict_map_key=False)
    assert fields[-5:] == [False, "", False, None, []]
    old = decode_snapshot(_reframe(msgpack.packb(fields[:-5]), version=1), stream_id="orders-7")
    new = decode_snapshot(GOOD, stream_id="orders-7")
    assert (old.format_version, new.format_version) == (1, FORMAT_VERSION)
    assert (old.input_ended, old.source_kind, old.source_failed) == (False, "", None)
    assert (old.state, old.queue, old.continuation, old.seq) == (
        new.state,
        new.queue,
        new.continuation,
        new.seq,
    )
    with pytest.raises(SnapshotCorruptError, match="unexpected layout"):
        decode_snapshot(_reframe(msgpack.packb(fields), version=1), stream_id="orders-7")


def test_format_2_snapshots_are_read_with_source_failed_unknown() -> None:
    """Format 2 did not record whether the source failed: None, so resume falls back to the status message."""
    fields = msgpack.unpackb(
        encode_snapshot(snapshot(1, input_ended=True, source_kind="sse", source_failed=True))[HEADER.size :],
        strict_map_key=False,
    )
    assert fields[-3] is True
    old = decode_snapshot(_reframe(msgpack.packb(fields[:-3]), version=2), stream_id="orders-7")
    assert (old.format_version, old.input_ended, old.source_kind, old.source_failed) == (2, True, "sse", None)
    new = decode_snapshot(_reframe(msgpack.packb(fields)), stream_id="orders-7")
    assert new.source_failed is True
    with pytest.raises(SnapshotCorruptError, match="unexpected layout"):
        decode_snapshot(_reframe(msgpack.packb(fields[:-3])), stream_id="orders-7")


def test_format_3_snapshots_are_read_without_receive_times() -> None:
    """Format 3 did not keep when the queued chunks were received: None, and resume stamps them anew."""
    queue = [({K("v"): 1}, {}), ({K("v"): 2}, {K("line"): 7})]
    fields = msgpack.unpackb(
        encode_snapshot(snapshot(1, queue=queue, queue_received_at=[100.5, 101.25]))[HEADER.size :],
        strict_map_key=False,
    )
    assert fields[-2] == [100.5, 101.25]
    old = decode_snapshot(_reframe(msgpack.packb(fields[:-2]), version=3), stream_id="orders-7")
    assert (old.format_version, old.queue, old.queue_received_at) == (3, queue, None)
    new = decode_snapshot(_reframe(msgpack.packb(fields)), stream_id="orders-7")
    assert (new.format_version, new.queue, new.queue_received_at) == (FORMAT_VERSION, queue, [100.5, 101.25])
    with pytest.raises(SnapshotCorruptError, match="unexpected layout"):
        decode_snapshot(_reframe(msgpack.packb(fields[:-2])), stream_id="orders-7")


def test_format_4_snapshots_are_read_with_no_timers() -> None:
    """Format 4 had no timers (there were none): an empty list, and the rest as it was."""
    timers = [(K("flush"), 1700000001.5), ("close", 1700000060)]
    fields = msgpack.unpackb(
        encode_snapshot(snapshot(1, queue_received_at=[], timers=timers))[HEADER.size :], strict_map_key=False
    )
    old = decode_snapshot(_reframe(msgpack.packb(fields[:-1]), version=4), stream_id="orders-7")
    assert (old.format_version, old.timers, old.queue_received_at) == (4, [], [])
    new = decode_snapshot(_reframe(msgpack.packb(fields)), stream_id="orders-7")
    assert new.timers == [(K("flush"), 1700000001.5), ("close", 1700000060.0)]
    assert all(type(due) is float for _, due in new.timers)
    with pytest.raises(SnapshotCorruptError, match="unexpected layout"):
        decode_snapshot(_reframe(msgpack.packb(fields[:-1])), stream_id="orders-7")


@pytest.mark.parametrize(
    ("timers", "message"),
    [
        pytest.param([["t", "soon"]], "a timer's due time is not a number", id="due-not-a-number"),
        pytest.param([["t"]], "malformed timers", id="no-due-time"),
        pytest.param([5], "malformed timers", id="not-a-pair"),
        pytest.param({"t": 5}, "field timers is a map", id="a-map"),
    ],
)
def test_malformed_timers_are_refused(timers: Any, message: str) -> None:
    fields = msgpack.unpackb(encode_snapshot(snapshot(1))[HEADER.size :], strict_map_key=False)
    fields[-1] = timers
    with pytest.raises(SnapshotCorruptError, match=message):
        decode_snapshot(_reframe(msgpack.packb(fields)), stream_id="orders-7")


@pytest.mark.parametrize(
    "received", [pytest.param([1.0], id="one-time-for-two-chunks"), pytest.param([1.0, "x"], id="not-a-time")]
)
def test_receive_times_that_do_not_match_the_queue_are_refused(received: list[Any]) -> None:
    fields = msgpack.unpackb(
        encode_snapshot(snapshot(1, queue=[(1, {}), (2, {})], queue_received_at=[5.0, 6.0]))[HEADER.size :],
        strict_map_key=False,
    )
    fields[-2] = received
    with pytest.raises(SnapshotCorruptError, match="receive times do not match the queue"):
        decode_snapshot(_reframe(msgpack.packb(fields)), stream_id="orders-7")


def test_damaged_values_are_named_too() -> None:
    blob = encode_value({K("x"): 1}, stream_id="s9", what="dead-letter chunk")
    with pytest.raises(SnapshotCorruptError, match="dead-letter chunk of stream 's9' is corrupt: truncated"):
        decode_value(blob[:-1], stream_id="s9", what="dead-letter chunk")
