"""Every stream configuration ends exactly like the plain checked path (hypothesis).

The chunk loop is generated per configuration (:mod:`streamrt.runtime.loops`); this is what keeps the variants
honest. A script processor is run twice over the same chunks:

- the *reference*: the plain checked path, every result through the contract (no shape mark), every chunk through
  the queue (no hand-off), no limits, no store, no observers;
- the *configuration*: its shape as the compiler marked it, the hand-off on or off, the default limits (its
  metered variant) or none, snapshots every chunk or every 3 chunks in a memory store or no store, an observer or
  none, metadata taken or not;

both with the same schemas, ``:on-error`` policy and queue capacity (1, 2 or 32; 1 with the hand-off), which are
part of what the stream is (how many chunks a stream that ends has accepted depends on its queue). They must agree on the
state, status, message, counters, sequence numbers, outputs, dead letters and what ``push_many`` returned or
raised; and the observer must have been told every output, in order, and every status change the stream went
through.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrt.errors import StreamClosedError
from streamrt.lang.script import Script, load_script
from streamrt.policy.limits import DEFAULT_LIMITS
from streamrt.runtime import Observer, Output, Provider, StatusChange
from streamrt.runtime import building as building_module
from streamrt.runtime.persist import Persister, SnapshotPolicy
from streamrt.store import MemoryStore
from streamrt.values import Keyword

from .helpers import hand_off_size

K = Keyword

SCRIPT = """
(defn mixed [state chunk]
  (let [k (:k chunk) v (:v chunk) n (inc (:n state 0))]
    (cond (= k 0) {:n n}
          (= k 1) {:state {:n n}}
          (= k 2) {:state {:n n} :output v}
          (= k 3) {:state {:n n} :outputs [v (- v)]}
          (= k 4) {:state {:n n} :action :checkpoint}
          (= k 5) {:state {:n n} :action :complete :output v}
          (= k 6) {:state {:n n} :action :cancel}
          (= k 7) (quot v 0)
          (= k 8) 42
          :else {:n "not a number"})))

(defn mixed-meta [state chunk meta]
  (mixed (assoc state :seen (:seq meta)) chunk))

(defn bare [state chunk]
  {:n (inc (:n state 0)) :sum (+ (:sum state 0) (quot 10 (- (:k chunk) 7)))})

(defn wrapped [state chunk]
  {:state {:n (inc (:n state 0)) :sum (+ (:sum state 0) (quot 10 (- (:k chunk) 7)))}})
"""
"""``mixed`` answers by the chunk's ``:k`` (the contract checked); ``bare`` and ``wrapped`` have one result shape,
which the compiler marks, and fail on ``:k 7``; ``:k 9`` breaks the state schema."""

PROCESSORS = ("mixed", "mixed-meta", "bare", "wrapped")
INPUT = "[:map [:k :int] [:v :int]]"
STATE = "[:map [:n :int]]"


class Recorder(Observer):
    def __init__(self) -> None:
        self.outputs: list[Output] = []
        self.changes: list[StatusChange] = []

    def output(self, output: Output) -> None:
        self.outputs.append(output)

    def status(self, change: StatusChange) -> None:
        self.changes.append(change)


def chunk(k: int, i: int, fits: bool) -> dict[Keyword, Any]:
    return {K("k"): k, K("v"): i + 1} if fits else {K("k"): k, K("v"): "not an int"}


async def run(
    script: Script,
    name: str,
    chunks: list[dict[Keyword, Any]],
    guard: dict[str, Any],
    *,
    capacity: int = 1,
    limits: bool = False,
    policy: SnapshotPolicy | None = None,
    observer: Recorder | None = None,
) -> dict[str, Any]:
    store = MemoryStore()
    await store.open()
    persister = Persister(store, policy) if policy is not None else None
    outs: list[tuple[int, Any]] = []
    async with Provider(
        default_queue_capacity=capacity,
        limits=DEFAULT_LIMITS if limits else None,
        persistence=persister,
        observers=[observer] if observer is not None else [],
    ) as p:
        p.add_sink(lambda o: outs.append((o.seq, o.value)))
        sid = p.start(
            script.processor(name), stream_id="s", processor_name=name, initial_state={K("n"): 0}, **guard
        )
        if persister is not None:
            await persister.claim(sid)
        try:
            returned: Any = await p.push_many(sid, chunks)
        except StreamClosedError as exc:
            returned = f"closed: {exc}"
        await p.settle(sid)
        r = p.record(sid)
        stats = r.statistics()._replace(
            last_latency=None, last_event_time=None, backpressure_wait=0.0, queue_high_watermark=0
        )
        letters = p.dead_letters(sid)
        if persister is not None:
            letters = await store.dead_letters(sid)
        outcome = {
            "returned": returned,
            "state": r.state,
            "status": r.status,
            "message": r.message,
            "seq": (r.seq, r.output_seq),
            "stats": stats,
            "outputs": outs,
            "dead_letters": [(d.seq, d.chunk, d.error) for d in letters],
        }
    await store.aclose()
    return outcome


@pytest.fixture(scope="module")
def script() -> Script:
    return load_script(SCRIPT, filename="configurations.rtfs")


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(PROCESSORS),
    ks=st.lists(st.integers(0, 9), max_size=30),
    misfits=st.sets(st.integers(0, 29), max_size=3),
    schemas=st.tuples(st.booleans(), st.booleans()),
    on_error=st.sampled_from(["fail", "skip", "dead-letter"]),
    hand_off=st.sampled_from([0, 2, 1024]),
    capacity=st.sampled_from([1, 2, 32]),
    limits=st.booleans(),
    policy=st.sampled_from([None, SnapshotPolicy(), SnapshotPolicy(chunks=3)]),
    observed=st.booleans(),
)
def test_every_configuration_ends_like_the_plain_checked_path(
    script: Script,
    name: str,
    ks: list[int],
    misfits: set[int],
    schemas: tuple[bool, bool],
    on_error: str,
    hand_off: int,
    capacity: int,
    limits: bool,
    policy: SnapshotPolicy | None,
    observed: bool,
) -> None:
    use_input, use_state = schemas
    if hand_off:
        # the hand-off holds one chunk at a time: a queue of one is what it stands for (with a deeper queue, a
        # stream that ends has accepted more of the chunks queued behind it, by design)
        capacity = 1
    chunks = [chunk(k, i, i not in misfits or not use_input) for i, k in enumerate(ks)]
    guard: dict[str, Any] = {"on_error": on_error}
    if use_input:
        guard["input_schema"] = INPUT
    if use_state:
        guard["state_schema"] = STATE
    observer = Recorder() if observed else None

    async def reference() -> dict[str, Any]:
        with hand_off_size(0), pytest.MonkeyPatch.context() as mp:
            mp.setattr(building_module, "result_shape", lambda fn: None)  # every result checked
            return await run(script, name, chunks, guard, capacity=capacity)

    async def configured() -> dict[str, Any]:
        with hand_off_size(hand_off):
            return await run(
                script,
                name,
                chunks,
                guard,
                capacity=capacity,
                limits=limits,
                policy=policy,
                observer=observer,
            )

    expected = asyncio.run(reference())
    got = asyncio.run(configured())
    assert got == expected
    if observer is not None:
        assert [(o.seq, o.value) for o in observer.outputs] == got["outputs"]
        if got["status"].value != "active":
            last = observer.changes[-1]
            assert (last.stream_id, last.target, last.message) == ("s", got["status"], got["message"])
        assert all(c.source is not c.target for c in observer.changes)
