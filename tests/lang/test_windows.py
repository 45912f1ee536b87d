"""Windows: ``window``, ``window-step``, ``window-flush``, ``window-bounds``; the watermark, lateness and late
policies, sessions, processing time closed by timers on the fake clock, and batching that changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrt.lang.core.windows import CLOSE_TIMER, IDLE_TIMER
from streamrt.lang.core.windows import TIME as LANG_TIME
from streamrt.meta import KIND, RECEIVED_AT, TIMER
from streamrt.runtime.provider import Provider
from streamrt.runtime.timers import TIME
from streamrt.testing import FakeClock
from tests.lang.conftest import compile_error, load
from tests.lang.core_support import K, call, expect_error

TS, ID, V = K("ts"), K("id"), K("v")
OUTPUTS, STATE, TIMERS = K("outputs"), K("state"), K("timers")


def spec(**kw: Any) -> dict[Any, Any]:
    return call("window", {K(k.replace("_", "-")): v for k, v in kw.items()})


def ev(ts: Any, v: Any = 1, key: Any = "a") -> dict[Any, Any]:
    return {TS: ts, V: v, ID: key}


def feed(w: Any, events: list[Any], ws: Any = None, meta: Any = None) -> tuple[Any, list[Any]]:
    """Step ``w`` over ``events`` one chunk each; the final state and every output, in order."""
    outs: list[Any] = []
    for e in events:
        r = call("window-step", w, ws, e, meta)
        ws = r[STATE]
        outs += r.get(OUTPUTS, ())
    return ws, outs


def window_out(start: int, end: int, n: int, value: Any, key: Any = "a", **extra: Any) -> dict[Any, Any]:
    out = {K("key"): key, K("start"): start, K("end"): end, K("count"): n, K("value"): value}
    out.update({K(k): v for k, v in extra.items()})
    return out


MEAN = {"size": 60000, "time": TS, "key": ID, "value": V, "agg": K("mean")}


def test_the_time_keyword_agrees_with_the_runtime() -> None:
    assert LANG_TIME is TIME


# --- window: the spec -----------------------------------------------------------------------------------------


def test_window_fills_in_its_defaults() -> None:
    w = spec(size=1000)
    assert w[K("type")] is K("tumbling") and w[K("agg")] is K("count")
    assert (w[K("lateness")], w[K("late")]) == (0, K("drop"))
    assert spec(size=1000, slide=250)[K("type")] is K("sliding")
    assert spec(size=1000, slide=1000)[K("type")] is K("tumbling")
    assert spec(gap=30, agg=K("sum"))[K("type")] is K("session")
    assert call("window", w) == w, "a checked spec checks again as itself"


@pytest.mark.parametrize(
    ("given", "fragments"),
    [
        pytest.param(5, ("expected a map",), id="not-a-map"),
        pytest.param({K("sise"): 5}, ("unknown key :sise", "known: :size"), id="unknown-key"),
        pytest.param({}, ("give :size", "or :gap"), id="no-kind"),
        pytest.param({K("size"): 5, K("gap"): 5}, ("not both",), id="both"),
        pytest.param({K("size"): 0}, (":size must be a number of ms > 0, got integer 0",), id="zero-size"),
        pytest.param({K("size"): "1m"}, (":size must be a number of ms",), id="string-size"),
        pytest.param({K("gap"): 5, K("slide"): 2}, (":slide goes with :size",), id="slide-on-session"),
        pytest.param({K("size"): 5, K("time"): 3}, (":time must be a function or a keyword",), id="time"),
        pytest.param({K("size"): 5, K("agg"): K("median")}, ("unknown :agg :median", ":mean"), id="agg"),
        pytest.param({K("size"): 5, K("agg"): {K("init"): 0}}, (":agg needs :add",), id="agg-no-add"),
        pytest.param({K("size"): 5, K("agg"): {K("add"): 1}}, (":add must be a function",), id="agg-add"),
        pytest.param({K("size"): 5, K("agg"): {K("plus"): 1}}, ("unknown key :plus in :agg",), id="agg-key"),
        pytest.param({K("size"): 5, K("agg"): 7}, (":agg must be a keyword",), id="agg-type"),
        pytest.param(
            {K("gap"): 5, K("agg"): {K("add"): call("constantly", 1)}}, ("needs :merge",), id="session-merge"
        ),
        pytest.param(
            {K("size"): 5, K("late"): K("keep")}, (":late must be :drop, :side or :update",), id="late"
        ),
        pytest.param(
            {K("size"): 5, K("lateness"): -1}, (":lateness must be a number of ms >= 0",), id="lateness"
        ),
        pytest.param({K("size"): 5, K("idle"): 100}, (":idle is for event-time windows",), id="idle"),
        pytest.param({K("size"): 5, K("type"): K("session")}, (":type :session does not match",), id="type"),
    ],
)
def test_a_bad_spec_is_named(given: Any, fragments: tuple[str, ...]) -> None:
    expect_error("window", (given,), *fragments)


def test_window_bounds() -> None:
    assert call("window-bounds", spec(size=60000), 61000) == ((60000, 120000),)
    assert call("window-bounds", spec(size=60000), -1) == ((-60000, 0),)
    assert call("window-bounds", spec(size=1000, slide=250), 1100) == (
        (250, 1250),
        (500, 1500),
        (750, 1750),
        (1000, 2000),
    )
    expect_error("window-bounds", (spec(gap=10), 5), "session windows have no fixed bounds")
    expect_error("window-bounds", (spec(size=10), "5"), "an event's time must be a number (ms), got string")
    expect_error("window-bounds", ({K("size"): 10}, 5), "expected a window made by (window {...})")


# --- event time: the watermark, lateness, late chunks ------------------------------------------------------------


def test_a_tumbling_window_closes_exactly_when_the_watermark_reaches_its_end() -> None:
    w = spec(**MEAN)
    ws, outs = feed(w, [ev(1000, 2), ev(2000, 4), ev(59999, 1, "b")])
    assert outs == [], "the watermark is at 59999: the window [0 60000) is open"
    ws, outs = feed(w, [ev(60000, 10)], ws)
    assert outs == [window_out(0, 60000, 2, 3.0), window_out(0, 60000, 1, 1.0, "b")]
    assert ws[K("wm")] == 60000 and list(ws[K("open")]) == [("a", 60000)]


def test_lateness_keeps_a_window_open_past_its_end() -> None:
    w = spec(**MEAN, lateness=5000)
    ws, outs = feed(w, [ev(1000, 2), ev(64999, 7), ev(59000, 4)])
    assert outs == [], "watermark 64999 < end 60000 + lateness 5000: the late reading still counts"
    _, outs = feed(w, [ev(65000, 1)], ws)
    assert outs == [window_out(0, 60000, 2, 3.0)]


def test_a_late_chunk_is_dropped_and_counted_by_default() -> None:
    w = spec(**MEAN)
    ws, outs = feed(w, [ev(1000, 2), ev(60000, 4), ev(59999, 100)])
    assert outs == [window_out(0, 60000, 1, 2.0)]
    assert ws[K("dropped")] == 1
    assert ws[K("open")] == {("a", 60000): (120000, 4, 1, False)}


def test_a_late_chunk_goes_to_the_side_output_under_side() -> None:
    w = spec(**MEAN, late=K("side"))
    ws, outs = feed(w, [ev(1000, 2), ev(60000, 4), ev(59999, 100)])
    assert outs == [
        window_out(0, 60000, 1, 2.0),
        {K("late"): ev(59999, 100), K("time"): 59999, K("key"): "a"},
    ]
    assert ws[K("dropped")] == 0


def test_a_late_chunk_updates_its_window_under_update_until_lateness_runs_out() -> None:
    w = spec(**MEAN, late=K("update"), lateness=10000)
    ws, outs = feed(w, [ev(1000, 2), ev(60000, 4)])
    assert outs == [window_out(0, 60000, 1, 2.0)], "fires at its end"
    ws, outs = feed(w, [ev(30000, 6)], ws)
    assert outs == [window_out(0, 60000, 2, 4.0, update=True)], "fires again with the late reading"
    ws, outs = feed(w, [ev(70000, 1), ev(30000, 8)], ws)
    assert outs == [], "watermark 70000 = end + lateness: the window is gone, the reading dropped"
    assert ws[K("dropped")] == 1 and ("a", 0) not in ws[K("open")]


def test_sliding_windows_count_each_event_in_every_window_holding_it() -> None:
    w = spec(size=1000, slide=500, time=TS, agg=K("sum"), value=V)
    _, outs = feed(w, [ev(100, 1), ev(700, 2), ev(1200, 4), ev(3000, 0)])
    assert [(o[K("start")], o[K("end")], o[K("value")]) for o in outs] == [
        (-500, 500, 1),
        (0, 1000, 3),
        (500, 1500, 6),
        (1000, 2000, 4),
    ]


def test_sessions_merge_when_an_event_bridges_them() -> None:
    w = spec(gap=100, time=TS, key=ID, value=V, agg=K("collect"), lateness=100)
    ws, outs = feed(w, [ev(0, 1), ev(150, 3), ev(90, 2), ev(170, 4, "b")])
    assert outs == [], "watermark 170: [0 100) waits for lateness, and 90 bridges it to [150 250)"
    assert ws[K("open")] == {("a", 0): (250, (1, 3, 2), 3, False), ("b", 170): (270, (4,), 1, False)}
    _, outs = feed(w, [ev(1000, 9)], ws)
    assert outs == [window_out(0, 250, 3, (1, 3, 2)), window_out(170, 270, 1, (4,), "b")]


def test_a_custom_aggregate() -> None:
    script = load(
        """
        (def w (window {:gap 10 :time :ts :value :v
                        :agg {:init [] :add conj :merge into :done (fn [xs] (apply max xs))}}))
        (defn run [events]
          (let [r (window-step w {} events nil)]
            (into (:outputs r) (:outputs (window-flush w (:state r))))))
        """
    )
    result = script.processor("run")((ev(0, 3), ev(5, 9), ev(50, 1)))
    assert [o[K("value")] for o in result] == [9, 1]


def test_window_flush_fires_every_open_window_and_later_events_are_late() -> None:
    w = spec(**MEAN)
    ws, _ = feed(w, [ev(1000, 2), ev(59000, 4, "b")])
    r = call("window-flush", w, ws)
    assert r[OUTPUTS] == (window_out(0, 60000, 1, 2.0), window_out(0, 60000, 1, 4.0, "b"))
    assert r[STATE][K("open")] == {}
    _, outs = feed(w, [ev(59999, 1)], r[STATE])
    assert outs == [] and call("window-flush", w, r[STATE]).get(OUTPUTS) is None


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        pytest.param(
            ({K("size"): 5}, {}, ev(1)), ("expected a window made by (window {...})",), id="raw-spec"
        ),
        pytest.param((spec(**MEAN), 7, ev(1)), ("the window state must be a map",), id="state"),
        pytest.param(
            (spec(**MEAN), {}, ev("noon")), ("an event's time must be a number (ms), got string",), id="t"
        ),
        pytest.param((spec(**MEAN), {}, ev(True)), ("got boolean true",), id="bool-time"),
        pytest.param(
            (spec(size=10), {}, ev(1)), ("processing time comes from the chunk's meta",), id="no-meta"
        ),
    ],
)
def test_window_step_errors(args: tuple[Any, ...], fragments: tuple[str, ...]) -> None:
    expect_error("window-step", args, *fragments)


def test_window_step_never_changes_its_input_state() -> None:
    w = spec(**MEAN)
    ws, _ = feed(w, [ev(1000, 2)])
    frozen = {k: (dict(v) if isinstance(v, dict) else v) for k, v in ws.items()}
    feed(w, [ev(2000, 2), ev(90000, 1)], ws)
    assert ws == frozen


# --- batching does not matter ----------------------------------------------------------------------------------

events = st.lists(
    st.tuples(st.integers(0, 2000), st.sampled_from(["a", "b", "c"]), st.integers(-5, 5)),
    max_size=40,
)


def _batched(draw: Any, items: list[Any]) -> list[tuple[Any, ...]]:
    cuts = sorted(draw(st.sets(st.integers(1, max(len(items) - 1, 1)), max_size=len(items))))
    out, last = [], 0
    for cut in [*cuts, len(items)]:
        if cut > last:
            out.append(tuple(items[last:cut]))
            last = cut
    return out


@settings(max_examples=200, deadline=None)
@given(events, st.data(), st.sampled_from([K("drop"), K("side"), K("update")]), st.integers(0, 300))
def test_a_session_windows_result_does_not_depend_on_how_the_input_is_batched(
    raw: list[tuple[int, str, int]], data: Any, late: Any, lateness: int
) -> None:
    w = spec(gap=100, time=TS, key=ID, value=V, agg=K("sum"), late=late, lateness=lateness)
    items = [ev(ts, v, key) for ts, key, v in raw]
    one_by_one = feed(w, items)
    batches = _batched(data.draw, items)
    batched = feed(w, batches)
    assert batched == one_by_one
    flushed = [
        # a flush of windows that all fired already (kept for :update late events) has no :outputs
        call("window-flush", w, ws).get(OUTPUTS, ()) if ws and ws[K("open")] else ()
        for ws, _ in (one_by_one, batched)
    ]
    assert flushed[0] == flushed[1]
    # and, without updates, every event is in exactly one place: a window's count, the side output, or dropped
    ws, outs = one_by_one
    if ws is not None and late is not K("update"):
        windows = [o for o in [*outs, *flushed[0]] if K("count") in o]
        sides = [o for o in outs if K("late") in o]
        assert sum(o[K("count")] for o in windows) + len(sides) + ws[K("dropped")] == len(items)


@settings(max_examples=200, deadline=None)
@given(events, st.sampled_from([K("drop"), K("side"), K("update")]), st.integers(0, 300), st.booleans())
def test_the_fast_path_of_tumbling_windows_agrees_with_the_general_step(
    raw: list[tuple[int, str, int]], late: Any, lateness: int, by_keyword: bool
) -> None:
    """A map chunk of tumbling event-time windows takes a fast path; a one-event vector takes the general step."""
    fields: dict[str, Any] = {"time": TS, "key": ID, "value": V}
    if not by_keyword:
        fields = {"time": lambda e: e[TS], "key": lambda e: e[ID], "value": lambda e: e[V]}
    w = spec(size=500, agg=K("mean"), late=late, lateness=lateness, **fields)
    items = [ev(ts, v, key) for ts, key, v in raw]
    assert feed(w, items) == feed(w, [(item,) for item in items])


# --- processing time: windows closed by timers, on the fake clock --------------------------------------------

PROCESSING = """
(def per-second (window {:size 1000 :key :id :agg :count}))
(defn count-per-second [state chunk meta] (window-step per-second state chunk meta))
"""


async def test_processing_time_windows_close_by_timer_with_no_chunk_arriving() -> None:
    clock = FakeClock(100.0)  # 100 000 ms
    script = load(PROCESSING)
    seen: list[Any] = []
    async with Provider(clock=clock) as p:
        p.add_sink(lambda o: seen.append(o.value))
        sid = p.start(script.processor("count-per-second"), processor_name="count-per-second")
        await p.push_many(sid, [{ID: "a"}, {ID: "b"}, {ID: "a"}])
        await p.settle()
        await clock.advance_ms(500, p.settle)
        await p.push(sid, {ID: "a"})
        await p.settle()
        assert seen == [] and p.record(sid).timers == {CLOSE_TIMER: 101.0}
        await clock.advance_ms(499, p.settle)
        assert seen == []
        await clock.advance_ms(1, p.settle)
        assert seen == [
            window_out(100000, 101000, 3, 3, "a"),
            window_out(100000, 101000, 1, 1, "b"),
        ]
        assert p.record(sid).timers == {}, "nothing open, no timer"
        await clock.advance_ms(250, p.settle)
        await p.push(sid, {ID: "c"})
        await clock.advance_ms(2000, p.settle)
        assert seen[-1] == window_out(101000, 102000, 1, 1, "c")
        assert p.record(sid).statistics().timers_run == 2


async def test_an_idle_timer_closes_event_time_windows_when_nothing_arrives() -> None:
    clock = FakeClock(0.0)
    script = load(
        """
        (def w (window {:size 60000 :time :ts :agg :count :idle 5000}))
        (defn p [state chunk meta] (window-step w state chunk meta))
        """
    )
    seen: list[Any] = []
    async with Provider(clock=clock) as p:
        p.add_sink(lambda o: seen.append(o.value))
        sid = p.start(script.processor("p"), processor_name="p")
        await p.push(sid, {TS: 1000})
        await clock.advance_ms(3000, p.settle)
        await p.push(sid, {TS: 2000})
        await clock.advance_ms(4999, p.settle)
        assert seen == [], "the idle timer came at 5000 but a reading came at 3000: it waits until 8000"
        await clock.advance_ms(1, p.settle)
        assert seen == [{K("start"): 0, K("end"): 60000, K("count"): 2, K("value"): 2}]
        await p.push(sid, {TS: 3000})
        await p.settle()
        state = p.record(sid).state
        assert state[K("dropped")] == 1, "the window was closed by the idle timer: the reading is late"


def test_timer_chunks_that_are_not_the_windows_pass_through() -> None:
    w = spec(**MEAN)
    ws, _ = feed(w, [ev(1000, 2)])
    meta = {KIND: "timer", TIMER: K("mine")}
    assert call("window-step", w, ws, {TIMER: K("mine"), TIME: 5}, meta) == {STATE: ws}
    assert IDLE_TIMER is K("window/idle")
    r = call("window-step", spec(size=1000), {}, {ID: 1}, {RECEIVED_AT: 2.5})
    assert r[TIMERS] == {CLOSE_TIMER: {K("at"): 3000.0}}


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        pytest.param("(window)", "expected 1", id="window"),
        pytest.param("(window-step {})", "expected 3 to 4", id="window-step"),
        pytest.param("(window-flush {} {} {})", "expected 2", id="window-flush"),
        pytest.param("(window-bounds {})", "expected 2", id="window-bounds"),
    ],
)
def test_arity_is_checked_when_compiling(form: str, expected: str) -> None:
    err = compile_error(f"(defn f [] {form})")
    assert err.message.startswith(
        f"wrong number of arguments to {form[1:].split()[0].rstrip(')')}: {expected}"
    )


# --- through a real provider: however a producer batches the input, the same outputs ------------------------

SESSIONS = """
(def sessions (window {:gap 100 :time :ts :key :id :value :v :agg :sum :lateness 50}))
(defn track [state chunk meta] (window-step sessions state chunk meta))
(defn done [state] (window-flush sessions state))
"""


def _run_through_provider(chunks: list[Any], capacity: int, one_by_one: bool) -> list[Any]:
    script = load(SESSIONS)

    async def go() -> list[Any]:
        seen: list[Any] = []
        async with Provider(clock=FakeClock()) as p:
            p.add_sink(lambda o: seen.append(o.value))
            sid = p.start(
                script.processor("track"),
                processor_name="track",
                on_end=script.processor("done"),
                queue_capacity=capacity,
            )
            if one_by_one:
                for chunk in chunks:
                    await p.push(sid, chunk)
            else:
                await p.push_many(sid, chunks)
            p.end_input(sid)
            await p.wait(sid)
        return seen

    return asyncio.run(go())


@settings(max_examples=40, deadline=None)
@given(events, st.data(), st.integers(1, 8), st.booleans())
def test_a_session_windows_outputs_through_the_runtime_do_not_depend_on_batching(
    raw: list[tuple[int, str, int]], data: Any, capacity: int, one_by_one: bool
) -> None:
    items = [ev(ts, v, key) for ts, key, v in raw]
    single = _run_through_provider(items, 4, True)
    batched = _run_through_provider(_batched(data.draw, items), capacity, one_by_one)
    assert batched == single
