"""Per-chunk limits: fuel, time, depth and value size stop a runaway processor, and only its own stream."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from streamrt.errors import LimitExceededError, ScriptRuntimeError, UsageError
from streamrt.lang.meter import DEFAULT_LIMITS, SLICE, WATCH, Limits
from streamrt.lang.metered import metered
from streamrt.lang.script import load_script
from streamrt.policy.limits import resolve_limits
from streamrt.runtime.provider import Provider
from streamrt.values import Keyword

pytestmark = pytest.mark.timeout(60)

LIMITS = Keyword("limits")

SCRIPT = """
(defn forever [state chunk] (forever state chunk))
(defn down [n] (if (= n 0) 0 (inc (down (dec n)))))
(defn deep [state chunk] {:depth (down (:n chunk))})
(defn twice [n] (if (> n 0) (do (twice (dec n)) (twice (dec n))) 0))
(defn exponential [state chunk] {:r (twice (:n chunk))})
(defn runaway-range [state chunk] {:n (count (range (:n chunk)))})
(defn huge-str [state chunk]
  (let [s (apply str (range 200000))] {:n (count (str s s s s s s s s s s))}))
(defn huge-concat [state chunk]
  (let [v (vec (range 600000))] {:n (count (concat v v))}))
(defn quadratic [state chunk] {:n (count (reduce concat [] (map vector (range (:n chunk)))))})
(defn slow [state chunk] {:sum (reduce (fn [acc x] (+ acc x)) 0 (range (:n chunk)))})
(defn counter [state chunk] {:count (inc (:count state 0))})
(defn squaring [state chunk] {:n (reduce (fn [x _] (* x x)) 3 (range (:n chunk)))})
"""


def limits(**kw: int) -> dict[Keyword, Any]:
    return {LIMITS: {Keyword(k.replace("_", "-")): v for k, v in kw.items()}}


async def run_two(
    processor: str, chunk: Any, options: dict[Keyword, Any] | None = None, **provider: Any
) -> tuple[dict[str, Any], float, Provider]:
    """Start the runaway processor and a counter in one provider; feed both; the runaway's report and time."""
    script = load_script(SCRIPT)
    p = Provider(**provider)
    bad = p.start(script.processor(processor), stream_id="bad", options=options)
    good = p.start(script.processor("counter"), stream_id="good")
    await p.push(good, {})
    started = time.perf_counter()
    await p.push(bad, chunk)
    await p.settle(bad)
    elapsed = time.perf_counter() - started
    for _ in range(3):
        await p.push(good, {})
    await p.settle(good)
    report = p.inspect(bad)
    assert p.record(good).state == {Keyword("count"): 4}
    assert p.inspect(good)["status"] == "active"
    await p.close()
    return report, elapsed, p


@pytest.mark.parametrize(
    ("processor", "chunk", "options", "limit", "words"),
    [
        pytest.param("forever", {}, None, "depth", "more than 800 nested", id="infinite-recursion"),
        pytest.param("deep", {Keyword("n"): 5000}, None, "depth", "nested", id="deep-recursion"),
        pytest.param(
            "deep", {Keyword("n"): 300}, limits(depth=100), "depth", "more than 100 nested", id="depth-option"
        ),
        pytest.param(
            "exponential",
            {Keyword("n"): 60},
            limits(fuel=200_000),
            "fuel",
            "200,000 steps",
            id="endless-work",
        ),
        pytest.param(
            "runaway-range", {Keyword("n"): 10**12}, None, "max-size", "range would build", id="runaway-range"
        ),
        pytest.param("huge-str", {}, None, "max-size", "str would build", id="huge-str"),
        pytest.param("huge-concat", {}, None, "max-size", "concat would build 1,200,000", id="huge-concat"),
        # 3^(2^40) has about 5e11 digits: unchecked, one of the last multiplications alone would take hours
        pytest.param(
            "squaring", {Keyword("n"): 40}, None, "max-size", "* would build 1,", id="runaway-product"
        ),
        pytest.param(
            "squaring",
            {Keyword("n"): 40},
            limits(max_size=WATCH),
            "max-size",
            "digits in one integer, more than 1,000 items",
            id="product-past-max-size",
        ),
        pytest.param(
            "quadratic", {Keyword("n"): 100_000}, None, "fuel", "10,000,000 steps", id="quadratic-concat"
        ),
        pytest.param(
            "slow",
            {Keyword("n"): 900_000},
            limits(time_ms=30, fuel=10**9),
            "time-ms",
            "30 milliseconds",
            id="slow",
        ),
    ],
)
async def test_runaway_is_stopped_and_the_other_stream_goes_on(
    processor: str, chunk: Any, options: Any, limit: str, words: str
) -> None:
    # a host ceiling of a minute on time: each case is stopped by its own limit, never by the clock of a slow run
    # (CPython 3.11 can make a recursion ten times slower where its frames cross a data-stack chunk boundary, and
    # where that falls depends on how deep the caller's stack is)
    report, elapsed, _ = await run_two(processor, chunk, options, limits=Limits(time_ms=60_000))
    assert report["status"] == "error"
    message = report["message"]
    assert f"{limit} limit exceeded" in message
    assert words in message
    assert f":limits {{:{limit} N}}" in message  # how to raise it
    assert elapsed < 5, f"took {elapsed:.1f}s to stop"


async def test_time_limit_stops_within_its_budget() -> None:
    report, elapsed, _ = await run_two("slow", {Keyword("n"): 1_000_000}, limits(time_ms=100, fuel=10**9))
    assert "time-ms limit exceeded" in report["message"]
    # the whole fold takes seconds here; building the range and one slice of steps take a few ms more
    assert elapsed < 1.0


async def test_limits_are_per_stream() -> None:
    script = load_script(SCRIPT)
    async with Provider() as p:
        tight = p.start(script.processor("deep"), stream_id="tight", options=limits(depth=50))
        loose = p.start(script.processor("deep"), stream_id="loose")
        for sid in (tight, loose):
            await p.push(sid, {Keyword("n"): 200})
            await p.settle(sid)
        assert p.inspect(tight)["status"] == "error"
        assert "more than 50 nested" in p.inspect(tight)["message"]
        assert p.inspect(loose)["status"] == "active"
        assert p.record(loose).state == {Keyword("depth"): 200}


async def test_provider_default_and_no_limits() -> None:
    script = load_script(SCRIPT)
    async with Provider(limits=Limits(max_size=5000)) as p:
        sid = p.start(script.processor("runaway-range"))
        await p.push(sid, {Keyword("n"): 6000})
        await p.settle(sid)
        assert "more than 5,000 items" in p.inspect(sid)["message"]
    async with Provider(limits=None) as p:
        sid = p.start(script.processor("runaway-range"))
        await p.push(sid, {Keyword("n"): 2_000_000})
        await p.settle(sid)
        assert p.record(sid).state == {Keyword("n"): 2_000_000}


async def test_fuel_is_per_chunk() -> None:
    script = load_script(SCRIPT)
    async with Provider() as p:
        # each chunk needs 2**11 calls; 50 chunks need far more than the fuel of one
        sid = p.start(script.processor("exponential"), options=limits(fuel=5 * 2**11))
        for _ in range(50):
            await p.push(sid, {Keyword("n"): 10})
        await p.settle(sid)
        assert p.inspect(sid)["status"] == "active"
        assert p.record(sid).processed == 50


async def test_on_end_runs_metered() -> None:
    script = load_script(SCRIPT + "(defn finish [state] {:output (forever state nil)})")
    async with Provider() as p:
        sid = p.start(script.processor("counter"), on_end=script.processor("finish"))
        await p.push(sid, {})
        p.end_input(sid)
        await p.wait(sid)
        assert p.inspect(sid)["status"] == "error"
        assert "depth limit exceeded" in p.inspect(sid)["message"]


def test_plain_functions_have_no_limits() -> None:
    script = load_script(SCRIPT)
    assert script.processor("runaway-range")({}, {Keyword("n"): 2_000_000}) == {Keyword("n"): 2_000_000}


def test_metered_variant_locates_the_error_and_keeps_its_class() -> None:
    script = load_script(SCRIPT)
    fn = metered(script.processor("runaway-range"), Limits(max_size=WATCH))
    with pytest.raises(LimitExceededError) as info:
        fn({}, {Keyword("n"): WATCH + 1})
    err = info.value
    assert isinstance(err, ScriptRuntimeError)
    assert (err.limit, err.value) == ("max-size", WATCH)
    assert err.pos is not None and (err.pos.line, err.pos.column) == (7, 46)  # at (range
    assert "(count (range (:n chunk)))" in err.format()


def test_metered_variant_is_cached_and_replays_toplevel_calls(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="streamrt.script")
    script = load_script('(def greeting (call :log {:message "loaded"}))\n' + SCRIPT)
    first = metered(script.processor("counter"), DEFAULT_LIMITS)
    assert metered(script.processor("counter"), DEFAULT_LIMITS) is first
    assert first is not script.processor("counter")
    assert [r.getMessage() for r in caplog.records] == ["loaded"]
    assert first({}, {}) == {Keyword("count"): 1}


def test_fuel_counts_exactly() -> None:
    script = load_script("(defn tree [n] (if (= n 0) 0 (do (tree (dec n)) (tree (dec n)))))")
    steps = 2 ** (11 + 1) - 2  # the nested calls of (tree 11); the outermost call starts the chunk
    assert steps > 4 * SLICE
    assert metered(script.processor("tree"), Limits(fuel=steps))(11) == 0
    with pytest.raises(LimitExceededError, match="fuel limit exceeded: more than 4,093 steps"):
        metered(script.processor("tree"), Limits(fuel=steps - 1))(11)


def test_python_recursion_limit_is_reported_as_depth() -> None:
    script = load_script(SCRIPT)
    fn = metered(script.processor("deep"), Limits(depth=1_000_000))
    with pytest.raises(LimitExceededError, match="Python's own stack ran out"):
        fn({}, {Keyword("n"): 100_000})


@pytest.mark.parametrize(
    ("option", "message"),
    [
        pytest.param({Keyword("fuel"): 0}, "fuel limit must be a positive integer", id="zero"),
        pytest.param({Keyword("depth"): "deep"}, "depth limit must be a positive integer", id="string"),
        pytest.param({Keyword("max-size"): 10}, "max-size limit must be at least", id="small-size"),
        pytest.param(
            {Keyword("speed"): 1}, "unknown key :speed; known: :fuel :time-ms :depth :max-size", id="key"
        ),
        pytest.param(5, ":limits must be a map", id="not-a-map"),
    ],
)
def test_bad_limits_option(option: Any, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        resolve_limits(DEFAULT_LIMITS, {LIMITS: option})


def test_resolve_limits() -> None:
    assert resolve_limits(None, None) is None
    assert resolve_limits(DEFAULT_LIMITS, {}) is DEFAULT_LIMITS
    assert resolve_limits(None, {LIMITS: {Keyword("fuel"): 5}}) == Limits(fuel=5)
    assert Limits(depth=9).merged({"time-ms": 3}) == Limits(depth=9, time_ms=3)
    assert Limits().as_option()[Keyword("max-size")] == 1_000_000


async def test_bad_limits_option_refuses_the_start() -> None:
    script = load_script(SCRIPT)
    async with Provider() as p:
        with pytest.raises(UsageError, match="unknown key"):
            p.start(script.processor("counter"), options={LIMITS: {Keyword("steps"): 1}})


def test_big_products_are_only_bounded_under_limits() -> None:
    script = load_script(SCRIPT)
    squaring = script.processor("squaring")
    # 3^(2^12) has 1,955 digits: past WATCH, inside max-size, so the metered variant computes it as the plain one
    plain = squaring({}, {Keyword("n"): 12})
    assert metered(squaring, DEFAULT_LIMITS)({}, {Keyword("n"): 12}) == plain == {Keyword("n"): 3 ** (2**12)}
    with pytest.raises(LimitExceededError) as caught:
        metered(squaring, Limits(max_size=WATCH))({}, {Keyword("n"): 12})
    assert caught.value.limit == "max-size"
    assert "* would build 1,955 digits in one integer" in str(caught.value)
