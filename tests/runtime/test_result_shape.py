"""The compiler's static result shape, and the provider loops that trust it.

A ``defn`` whose every tail is a bare state map (or ``{:state x}`` alone) is marked, and the provider takes its
results as the new state without checking them. Two things must hold: the mark is sound (whatever the function
returns has that shape, for any input, plain and metered), and a marked stream ends exactly like the same stream
with the mark removed (the reference that checks every result).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrt.errors import StreamClosedError
from streamrt.lang import shape as lang_shape
from streamrt.lang.meter import DEFAULT_LIMITS
from streamrt.lang.metered import metered
from streamrt.lang.script import Script, load_script
from streamrt.runtime import Provider, feeding
from streamrt.runtime import building as building_module
from streamrt.runtime.callables import result_shape
from streamrt.runtime.contract import RESULT_KEYS, STATE, interpret
from streamrt.values import Keyword

K = Keyword


def shape_of(body: str, params: str = "[state chunk]") -> str | None:
    script = load_script(f"(defn p {params} {body})", filename="shape.rtfs")
    return script.compiled.globals["p"].result


@pytest.mark.parametrize(
    ("body", "shape"),
    [
        pytest.param("{:count (inc (:count state 0))}", "bare", id="bare-map"),
        pytest.param("{}", "bare", id="empty-map"),
        pytest.param("{:state {:n 1}}", "state", id="state-only"),
        pytest.param("{:state (assoc state :n 1)}", "state", id="state-expression"),
        pytest.param("(if (:x chunk) {:a 1} {:b 2})", "bare", id="if-both-bare"),
        pytest.param("(if (:x chunk) {:state 1} {:state 2})", "state", id="if-both-state"),
        pytest.param("(if (:x chunk) {:a 1} {:state 2})", None, id="if-mixed"),
        pytest.param("(if (:x chunk) {:a 1})", None, id="if-without-else-is-nil"),
        pytest.param("(let [n 1] (do (inc n) {:n n}))", "bare", id="let-do"),
        pytest.param("(let [n 1])", None, id="empty-let-is-nil"),
        pytest.param("(when (:x chunk) {:a 1})", None, id="when-can-be-nil"),
        pytest.param("(cond (:x chunk) {:a 1} :else {:b 2})", "bare", id="cond-with-else"),
        pytest.param("(cond (:x chunk) {:a 1} (:y chunk) {:b 2})", None, id="cond-without-else"),
        pytest.param("(-> state (assoc :a 1))", None, id="threading-is-a-call"),
        pytest.param("{:a 1 :output 2}", None, id="output-key"),
        pytest.param("{:action :pause}", None, id="action-key"),
        pytest.param("{:outputs [1]}", None, id="outputs-key"),
        pytest.param("{:state 1 :action :continue}", None, id="state-and-action"),
        pytest.param('{"a" 1}', None, id="string-key"),
        pytest.param("{(:k chunk) 1}", None, id="computed-key"),
        pytest.param("(merge state {:a 1})", None, id="call"),
        pytest.param("state", None, id="symbol"),
        pytest.param("(or {:a 1} {:b 2})", None, id="or"),
        pytest.param("'{:a 1}", None, id="quoted"),
        pytest.param("", None, id="empty-body"),
    ],
)
def test_the_compiler_marks_only_what_it_can_prove(body: str, shape: str | None) -> None:
    assert shape_of(body) == shape


def test_the_language_restates_the_contracts_result_keys() -> None:
    assert lang_shape._RESULT_KEYS == RESULT_KEYS


# --- soundness: a marked function returns what its mark says, for any input ---------------------------------

KEYS = (":a", ":b", ":n", ":state", ":action", ":output", ":outputs", '"s"', "(:k chunk)")
TESTS = ("(:x chunk)", "(> (:n chunk 0) 2)", "true", "false", "nil")


def _map(draw: st.DrawFn) -> str:
    keys = draw(st.lists(st.sampled_from(KEYS), max_size=3, unique=True))
    values = [draw(st.sampled_from(("1", "(inc (:n chunk 0))", "state", "nil", ":continue"))) for _ in keys]
    return "{" + " ".join(f"{k} {v}" for k, v in zip(keys, values, strict=True)) + "}"


@st.composite
def tails(draw: st.DrawFn, depth: int = 3) -> str:
    """A function body: map literals under if/when/cond/let/do, now and then a call, a symbol or nil."""
    kind = draw(
        st.sampled_from(("map", "map", "if", "if1", "when", "cond", "let", "do", "call", "sym", "nil"))
    )
    if depth == 0 or kind == "map":
        return _map(draw)
    test = draw(st.sampled_from(TESTS))
    sub = tails(depth - 1)
    if kind == "if":
        return f"(if {test} {draw(sub)} {draw(sub)})"
    if kind == "if1":
        return f"(if {test} {draw(sub)})"
    if kind == "when":
        return f"(when {test} {draw(sub)})"
    if kind == "cond":
        other = draw(st.sampled_from(TESTS))
        return f"(cond {test} {draw(sub)} {other} {draw(sub)} :else {draw(sub)})"
    if kind == "let":
        return f"(let [v (:n chunk 0)] {draw(sub)})"
    if kind == "do":
        return f"(do (inc 1) {draw(sub)})"
    if kind == "call":
        return f"(merge {{}} {draw(sub)})"
    return "state" if kind == "sym" else "nil"


CHUNKS = st.fixed_dictionaries(
    {K("x"): st.booleans(), K("n"): st.integers(0, 5), K("k"): st.sampled_from([K("a"), K("state"), "z"])}
)


@settings(max_examples=200, deadline=None)
@given(body=tails(), chunks=st.lists(CHUNKS, min_size=1, max_size=6))
def test_a_marked_function_always_returns_its_shape(body: str, chunks: list[dict[Keyword, Any]]) -> None:
    script = load_script(f"(defn p [state chunk] {body})", filename="shape.rtfs")
    plain = script.processor("p")
    shape = result_shape(plain)
    assert shape == script.compiled.globals["p"].result
    variant = metered(plain, DEFAULT_LIMITS)
    assert variant is not plain and result_shape(variant) == shape
    if shape is None:
        return
    state: Any = {K("n"): 0}
    for chunk in chunks:
        for fn in (plain, variant):
            res = fn(state, chunk)
            assert type(res) is dict
            if shape == "bare":
                assert RESULT_KEYS.isdisjoint(res)
                assert interpret(res, state, "p") == (res, None, (), None)
            else:
                assert set(res) == {STATE}
                assert interpret(res, state, "p") == (res[STATE], None, (), None)


def test_only_a_scripts_own_defn_is_marked() -> None:
    script = load_script("(defn p [s c] {:a 1}) (def q (fn [s c] {:a 1}))", filename="own.rtfs")
    assert result_shape(script.processor("p")) == "bare"
    assert result_shape(script.get("q")) is None
    assert result_shape(lambda s, c: {}) is None
    assert result_shape(print) is None


# --- the provider: a marked stream ends exactly like the checked reference ----------------------------------


class Checked(Provider):
    """The reference: every result goes through the full check, as if the compiler had marked nothing."""

    def start(self, processor: Any, **kwargs: Any) -> str:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(building_module, "result_shape", lambda fn: None)
            return super().start(processor, **kwargs)


SCRIPT = """
(defn tally [state chunk]
  (let [pause-at (:pause-at state) cancel-at (:cancel-at state) fail-at (:fail-at state) n (:n chunk)]
    (when (= n pause-at) (call :mcp.stream.pause {:stream-id "s"}))
    (when (= n cancel-at) (call :mcp.stream.cancel {:stream-id "s"}))
    (if (:half chunk)
      {:count (inc (:count state 0)) :sum (+ (:sum state 0) (quot 10 (- n fail-at)))
       :pause-at pause-at :cancel-at cancel-at :fail-at fail-at}
      {:count (inc (:count state 0)) :sum (:sum state 0) :pause-at pause-at :cancel-at cancel-at :fail-at fail-at})))

(defn wrapped [state chunk]
  (let [n (:n chunk)]
    (when (= n (:pause-at state)) (call :mcp.stream.pause {:stream-id "s"}))
    (when (= n (:cancel-at state)) (call :mcp.stream.cancel {:stream-id "s"}))
    {:state (if (:half chunk) (assoc state :sum (+ (:sum state 0) (quot 10 (- n (:fail-at state))))) state)}))
"""


async def _observe(
    p: Provider, name: str, ns: list[int], initial: dict[Keyword, Any], per_chunk: bool
) -> dict[str, Any]:
    capabilities = p.capabilities()
    pause = capabilities["mcp.stream.pause"]
    loop = asyncio.get_running_loop()

    def resume_if_paused() -> None:
        if p.record("s").status.value == "paused":
            p.resume("s")

    resumes: list[asyncio.Future[None]] = []

    def pause_then_resume_soon(args: dict[Keyword, Any], ctx: Any) -> Any:
        """A real pause from inside the processor; the host resumes it on the loop's next turn."""
        done = pause(args, ctx)
        resumed: asyncio.Future[None] = loop.create_future()

        def resume() -> None:
            resume_if_paused()
            resumed.set_result(None)

        loop.call_soon(resume)
        resumes.append(resumed)
        return done

    capabilities["mcp.stream.pause"] = pause_then_resume_soon
    script: Script = load_script(SCRIPT, capabilities=capabilities, filename="tally.rtfs")
    sid = p.start(script.processor(name), stream_id="s", initial_state=initial)
    assert (p.record(sid).result_shape is not None) == (type(p) is Provider)
    chunks = [{K("n"): n, K("half"): n % 2 == 0} for n in ns]
    try:
        if per_chunk:
            for chunk in chunks:
                await p.push(sid, chunk)
        else:
            await p.push_many(sid, chunks)
        returned = "ok"
    except StreamClosedError as exc:
        returned = f"closed: {exc}"
    # settled means nothing more will happen without the host, and a paused stream is settled at once: wait for
    # the host's resumes too (whether one is still due when the pushes return depends on where turns ended)
    await p.settle(sid)
    while not all(f.done() for f in resumes):
        await asyncio.gather(*resumes)
        await p.settle(sid)
    r = p.record(sid)
    stats = r.statistics()._replace(last_latency=None, last_event_time=None, backpressure_wait=0.0)
    return {
        "returned": returned,
        "state": r.state,
        "status": r.status,
        "message": r.message,
        "seq": r.seq,
        "stats": stats,
    }


@settings(max_examples=150, deadline=None)
@given(
    ns=st.lists(st.integers(0, 9), min_size=1, max_size=40),
    pause_at=st.sampled_from([None, 3, 7]),
    cancel_at=st.sampled_from([None, 5, 8]),
    fail_at=st.sampled_from([100, 4]),
    name=st.sampled_from(["tally", "wrapped"]),
    capacity=st.sampled_from([1, 1, 2, 32]),
    limits=st.booleans(),
    per_chunk=st.booleans(),
)
def test_a_marked_stream_ends_like_the_checked_reference(
    ns: list[int],
    pause_at: int | None,
    cancel_at: int | None,
    fail_at: int,
    name: str,
    capacity: int,
    limits: bool,
    per_chunk: bool,
) -> None:
    """Pauses and cancels come from inside the processor (a capability); ``(quot 10 0)`` fails chunk ``fail_at``."""
    initial = {K("pause-at"): pause_at, K("cancel-at"): cancel_at, K("fail-at"): fail_at}

    async def both() -> tuple[dict[str, Any], dict[str, Any]]:
        lim = DEFAULT_LIMITS if limits else None
        async with (
            Provider(default_queue_capacity=capacity, limits=lim) as fast,
            Checked(default_queue_capacity=capacity, limits=lim) as ref,
        ):
            return (
                await _observe(fast, name, ns, initial, per_chunk),
                await _observe(ref, name, ns, initial, per_chunk),
            )

    fast, ref = asyncio.run(both())
    assert fast == ref
    s = fast["stats"]
    if fast["returned"] == "ok":
        assert s.processed + s.queued + s.dropped == len(ns)


@pytest.fixture
def small_hand_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feeding, "HAND_OFF", 4)


@pytest.mark.usefixtures("small_hand_off")
async def test_a_marked_stream_with_a_guard_checks_its_state_schema() -> None:
    """The mark skips the contract check, never a schema: a state that breaks ``:state-schema`` still fails."""
    script = load_script("(defn p [s c] {:n c})", filename="guarded.rtfs")
    async with Provider(default_queue_capacity=1) as p:
        sid = p.start(
            script.processor("p"), initial_state={K("n"): 0}, state_schema="[:map [:n :int]]", on_error="skip"
        )
        assert p.record(sid).result_shape == "bare"
        assert await p.push_many(sid, [1, 2, "three", 4, "five", 6]) == 6
        await p.settle(sid)
        r = p.record(sid)
        assert (r.state, r.processed, r.skipped, r.status.value) == ({K("n"): 6}, 6, 2, "active")
