"""The provider's public ports, as a server, an MCP face or a cluster would use them.

The event port (observers, in order), bounded waits for room, read-only views, restore and release for a hand-over,
and the leases port a persister owns streams through.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from streamrt.errors import QueueFullError, StoreError, StreamClosedError, UnknownStreamError
from streamrt.runtime import Observer, Output, Persister, Provider, StatusChange, StreamView
from streamrt.runtime.contract import result
from streamrt.runtime.machine import Event, Status
from streamrt.store import MemoryStore, Snapshot, SnapshotStore
from streamrt.store.snapshot import DeadLetter
from streamrt.values import Keyword

K = Keyword
N = K("n")


def count(state: Any, chunk: Any) -> Any:
    n = state.get(N, 0) + 1
    if chunk == "done":
        return result({N: n}, action="complete", output=n)
    if chunk == "boom":
        raise ValueError("boom")
    return result({N: n}, output=n) if chunk == "out" else {N: n}


class Log(Observer):
    """Every event, in the order it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def started(self, stream: StreamView) -> None:
        self.events.append(("started", stream.id))

    def output(self, output: Output) -> None:
        self.events.append(("output", output.stream_id, output.seq, output.value))

    def status(self, change: StatusChange) -> None:
        self.events.append(
            ("status", change.stream_id, change.source, change.target, change.seq, change.message)
        )

    def dead_letter(self, letter: DeadLetter) -> None:
        self.events.append(("dead-letter", letter.stream_id, letter.seq, letter.chunk))

    def released(self, stream_id: str) -> None:
        self.events.append(("released", stream_id))


# --- the event port ----------------------------------------------------------------------------------------------


async def test_observers_are_told_every_output_and_status_change_in_order() -> None:
    log = Log()
    async with Provider(observers=[log]) as p:
        sid = p.start(count, stream_id="s")
        await p.push_many(sid, ["a", "out", "b"])
        await p.settle(sid)
        p.pause(sid)
        p.resume(sid)
        await p.push_many(sid, ["out", "done", "never"])
        await p.settle(sid)
        with pytest.raises(StreamClosedError):
            await p.push(sid, "too late")
    assert log.events == [
        ("started", "s"),
        ("output", "s", 1, 2),
        ("status", "s", Status.ACTIVE, Status.PAUSED, None, None),
        ("status", "s", Status.PAUSED, Status.ACTIVE, None, None),
        ("output", "s", 2, 4),
        ("output", "s", 3, 5),
        ("status", "s", Status.ACTIVE, Status.COMPLETED, 5, None),  # chunk 5 asked for it
    ]


async def test_a_failure_and_a_dead_letter_are_told_with_their_chunk() -> None:
    log = Log()
    async with Provider(observers=[log]) as p:
        p.start(count, stream_id="skips", on_error="dead-letter")
        p.start(count, stream_id="fails")
        await p.push_many("skips", ["a", "boom", "b"])
        await p.push_many("fails", ["a", "boom"])
        await p.settle()
    assert ("dead-letter", "skips", 2, "boom") in log.events
    [failure] = [e for e in log.events if e[0] == "status" and e[1] == "fails"]
    assert failure[2:5] == (Status.ACTIVE, Status.ERROR, 2)
    assert failure[5] == "chunk 2: ValueError: boom"


async def test_a_failing_status_observer_is_logged_and_the_stream_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(Observer):
        def status(self, change: StatusChange) -> None:
            raise RuntimeError("observer bug")

    async with Provider(observers=[Broken()]) as p:
        sid = p.start(count)
        p.pause(sid)
        p.resume(sid)
        await p.push(sid, "a")
        await p.settle(sid)
        assert p.record(sid).state == {N: 1}
    assert "observer bug" in caplog.text


async def test_a_failing_output_observer_fails_its_stream_only() -> None:
    class Refuses(Observer):
        def output(self, output: Output) -> None:
            if output.stream_id == "a":
                raise OSError("event log full")

    async with Provider(observers=[Refuses()]) as p:
        a, b = p.start(count, stream_id="a"), p.start(count, stream_id="b")
        await p.push_many(a, ["out"])
        await p.push_many(b, ["out"])
        await p.settle()
        assert p.record(a).status is Status.ERROR
        assert "event log full" in (p.record(a).message or "")
        assert p.record(b).status is Status.ACTIVE


async def test_an_observer_that_overrides_nothing_costs_nothing_and_can_be_removed() -> None:
    quiet = Observer()
    async with Provider(observers=[quiet]) as p:
        assert p.observers == (quiet,)
        p.remove_observer(quiet)
        assert p.observers == ()


# --- bounded waits for room --------------------------------------------------------------------------------------


async def test_push_with_a_timeout_refuses_without_taking_the_chunk() -> None:
    async with Provider(default_queue_capacity=2) as p:
        sid = p.start(count)
        p.pause(sid)
        await p.push_many(sid, ["a", "b"])
        with pytest.raises(QueueFullError, match=r"no room in the queue within 0\.01 s"):
            await p.push(sid, "c", timeout=0.01)
        view = p.record(sid)
        assert (view.seq, view.dropped, view.queue_depth) == (2, 0, 2), (
            "the chunk was neither taken nor dropped"
        )
        assert view.producers_waiting == 0 and view.backpressure_wait > 0


async def test_push_many_with_a_timeout_says_how_many_it_took_and_a_retry_applies_the_rest_once() -> None:
    chunks = [f"c{i}" for i in range(7)]
    async with Provider(default_queue_capacity=3) as p:
        sid = p.start(lambda s, c: {N: (*s[N], c)}, initial_state={N: ()})
        p.pause(sid)
        taken = await p.push_many(sid, chunks, timeout=0.01)
        assert taken == 3
        p.resume(sid)
        assert await p.push_many(sid, chunks[taken:], timeout=1.0) == 4
        await p.settle(sid)
        assert p.record(sid).state == {N: tuple(chunks)}


async def test_wait_for_room_answers_in_bounded_time() -> None:
    async with Provider(default_queue_capacity=1) as p:
        sid = p.start(count)
        assert await p.wait_for_room(sid, timeout=0) is True
        p.pause(sid)
        p.push_nowait(sid, "a")
        assert await p.wait_for_room(sid, timeout=0.01) is False
        later = asyncio.get_running_loop().call_later(0.01, p.resume, sid)
        assert await p.wait_for_room(sid, timeout=5) is True
        later.cancel()
        p.cancel(sid)
        with pytest.raises(StreamClosedError, match="it is cancelled"):
            await p.wait_for_room(sid, timeout=0)


# --- views -------------------------------------------------------------------------------------------------------


async def test_views_are_live_read_only_and_cheap_to_list() -> None:
    async with Provider() as p:
        ids = [p.start(count, stream_id=f"s{i}", options={K("tag"): i}) for i in range(1000)]
        streams = p.streams
        assert len(streams) == 1000 and list(streams)[:2] == ["s0", "s1"] and "s7" in streams
        view = streams["s7"]
        assert (view.id, view.processor_name, view.status, view.options) == (
            "s7",
            "count",
            Status.ACTIVE,
            {K("tag"): 7},
        )
        await p.push(ids[7], "a")
        await p.settle(ids[7])
        assert view.state == {N: 1} and view.statistics().processed == 1, (
            "a view reads the stream as it is now"
        )
        with pytest.raises(AttributeError):
            view.state = {}  # type: ignore[misc]
        assert sum(v.processed for v in streams.views()) == 1
        with pytest.raises(UnknownStreamError):
            p.record("nope")


# --- restore and release: handing a stream over ------------------------------------------------------------------


async def test_a_released_stream_goes_on_where_it_stopped_on_another_provider() -> None:
    log = Log()
    async with MemoryStore() as store:
        first = Persister(store)
        async with Provider(persistence=first, observers=[log]) as a:
            await first.claim("s")
            a.start(count, stream_id="s", queue_capacity=4)
            await a.push_many("s", ["x"] * 10)
            a.pause("s")
            await a.push_many("s", ["y", "y"])  # queued behind the pause: they travel with the stream
            snap = await a.release("s")
            assert "s" not in a.streams and ("released", "s") in log.events
            with pytest.raises(UnknownStreamError):
                await a.push("s", "z")
            assert (await store.lease("s")) is None, "the lease was given up"
        stored = await store.get("s")
        assert (stored.seq, stored.status, len(stored.queue)) == (snap.seq, "paused", 2) == (12, "paused", 2)

        second = Persister(store)
        async with Provider(persistence=second) as b:
            await second.claim("s", stored.version)
            sid = b.restore(stored, count)
            view = b.record(sid)
            assert (view.status, view.state, view.queue_depth) == (Status.PAUSED, {N: 10}, 2)
            b.resume(sid)
            await b.push_many(sid, ["x"] * 3)
            await b.settle(sid)
            assert view.state == {N: 15} and view.processed == 15 and view.seq == 15


async def test_release_without_a_store_hands_back_a_snapshot_to_restore_from() -> None:
    async with Provider() as a, Provider() as b:
        a.start(count, stream_id="s")
        await a.push_many("s", ["x"] * 5)
        a.end_input("s")  # the input ended, not yet the stream: it completes where it lands
        snap = await a.release("s")
        assert a.stream_ids() == [] and snap.input_ended
        b.restore(snap, count)
        await b.wait("s")
        assert (b.record("s").status, b.record("s").state) == (Status.COMPLETED, {N: 5})


async def test_a_restored_stream_reaches_its_status_through_the_machine() -> None:
    changes: list[tuple[Status, Event]] = []

    class Watch(Observer):
        def status(self, change: StatusChange) -> None:
            changes.append((change.target, change.event))

    for status in ("paused", "cancelled", "error"):
        snap = Snapshot(
            "s", "count", state={N: 3}, initial_state={}, status=status, status_message="why", seq=3
        )
        async with Provider(observers=[Watch()]) as p:
            p.restore(snap, count)
            view = p.record("s")
            assert view.status.value == status
            assert view.message == "why"
            assert view.state == {N: 3}
    assert changes == [], "a restore is not news: the stream was already in that status"


# --- the leases port ---------------------------------------------------------------------------------------------


class FencedStore(MemoryStore):
    """Refuses a write whose stream's token is not the current one (as a Redis lease's store would)."""

    def __init__(self) -> None:
        super().__init__()
        self.token: dict[str, int] = {}
        self.written_with: list[int] = []


class Fencing:
    """A store that writes through its leases' token."""

    def __init__(self, store: FencedStore, leases: TokenLeases) -> None:
        self.store = store
        self.leases = leases

    async def put_many(self, items: Any) -> list[int]:
        for snap, _ in items:
            token = self.leases.held()[snap.stream_id]
            assert token is not None
            if token != self.store.token.get(snap.stream_id):
                raise StoreError(f"stream {snap.stream_id!r}: fencing token {token} is stale")
            self.store.written_with.append(token)
        return await self.store.put_many(items)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


class TokenLeases:
    """Leases with a fencing token each, in a dict: what a Redis lease port would keep in Redis."""

    def __init__(self, store: FencedStore) -> None:
        self.owner = "node-1"
        self.store = store
        self.tokens: dict[str, int] = {}
        self.released: list[str] = []

    async def claim(self, stream_id: str) -> None:
        token = self.store.token.get(stream_id, 0) + 1
        self.store.token[stream_id] = self.tokens[stream_id] = token

    async def claim_many(self, stream_ids: Iterable[str]) -> None:
        for sid in stream_ids:
            await self.claim(sid)

    async def release(self, stream_id: str) -> None:
        self.tokens.pop(stream_id, None)
        self.released.append(stream_id)

    async def close(self) -> None:
        for sid in list(self.tokens):
            await self.release(sid)

    def fenced(self, store: SnapshotStore) -> SnapshotStore:
        return Fencing(self.store, self)  # type: ignore[return-value]

    def held(self) -> Mapping[str, int | None]:
        return dict(self.tokens)


async def test_another_lease_port_plugs_in_and_fences_every_write() -> None:
    async with FencedStore() as store:
        leases = TokenLeases(store)
        persister = Persister(store, leases=leases)
        assert persister.owner == "node-1"
        async with Provider(persistence=persister) as p:
            await persister.claim("s")
            p.start(count, stream_id="s")
            await p.push_many("s", ["x"] * 3)
            store.token["s"] += 1  # another node took the stream over: this one's token is stale now
            with pytest.raises(StoreError, match="fencing token 1 is stale"):
                await p.push("s", "x")  # per-chunk policy: the push waits for its (refused) snapshot
            await p.settle("s")
            assert p.record("s").status is Status.ERROR
            await persister.close(final=False)
        assert store.written_with and set(store.written_with) == {1}
        assert leases.released == ["s"]
