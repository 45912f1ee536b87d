"""The language's speed: a compiled processor against hand-written Python, and parse+compile time.

Run from the repository root::

    .venv/bin/python benchmarks/bench_lang.py [--calls 1000000] [--repeats 10] [--lines 500] [--events 200000]
    .venv/bin/python benchmarks/bench_lang.py --only-printers [--repeats 10]
    .venv/bin/python benchmarks/bench_lang.py --only-weather [--repeats 10] [--events 200000]

1. The count-and-sum processor, in the language and as an idiomatic Python function over the same keyword-keyed
   dicts, each called ``--calls`` times in the same loop shape (``state = f(state, chunk)`` over a pre-built list
   of chunks), ``--repeats`` times each as adjacent pairs in alternating order. The ratio reported is the median
   of the pairs' ratios (target: >= 0.8x), with their range and each side's best rate.
2. The parse+compile time of a generated script of about ``--lines`` lines (many ``defn`` forms using ``let``,
   ``if``, ``cond``, map literals and destructuring), best of ``--repeats`` (target: < 100 ms). The one-off grammar
   load is timed on its own.
3. A windowed aggregate, the per-sensor one-minute tumbling mean over event time: ``window-step`` in the language
   against the same written by hand in Python (a pure processor over the same keyword-keyed maps, returning the same
   result maps: copy the open windows, add the reading, close what the watermark passed), each over ``--events``
   readings of 50 sensors 100 ms apart, ``--repeats`` interleaved pairs; the median ratio (target: >= 0.7x).
4. The printers on small values (an output map of four keys; a vector of ten such maps): ``to_json`` and
   ``pr_str`` (recursive fast path) and the iterative walks they fall back to, against ``json.dumps`` of the same
   data already converted, µs per call, ``--repeats`` interleaved rounds; each ratio is the median of the rounds'
   ``json.dumps`` time over the printer's (report).
5. ``bench_cli.py``'s two processors (A: the city's summary per chunk; B: the per-city aggregate, a map keyed by
   city) as functions over ``--events`` decoded weather chunks (float temperatures, 24 cities): the compiled
   processor, plain and as the metered variant ``streamrt run`` uses by default (its default limits), against the
   same written by hand in Python over the same keyword-keyed maps, the state copied on each change as the language
   does; ``--repeats`` rounds in rotating order, µs per chunk and the median of the rounds' ratios (report).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from streamrt import jsoncodec, printer, values
from streamrt.lang.meter import DEFAULT_LIMITS
from streamrt.lang.metered import metered
from streamrt.lang.reader import read
from streamrt.lang.script import compile_script, load_script
from streamrt.values import Keyword

__all__ = ["count_and_sum_python", "generate_script", "main", "minute_means_python", "weather"]

SOURCE = """
(defn count-and-sum [state chunk]
  {:count (inc (:count state 0)) :sum (+ (:sum state 0) (:value chunk 0))})
"""

COUNT = Keyword("count")
SUM = Keyword("sum")
VALUE = Keyword("value")


def count_and_sum_python(state: dict[Keyword, Any], chunk: dict[Keyword, Any]) -> dict[Keyword, Any]:
    """The same processor as plain Python: what a user would write by hand."""
    return {COUNT: state.get(COUNT, 0) + 1, SUM: state.get(SUM, 0) + chunk.get(VALUE, 0)}


WINDOWED = """
(def per-minute (window {:size 60000 :time :ts :key :sensor :value :temp :agg :mean}))
(defn minute-means [state chunk] (window-step per-minute state chunk))
"""
MINUTE = 60000
TS, SENSOR, TEMP = Keyword("ts"), Keyword("sensor"), Keyword("temp")
STATE, OUTPUTS = Keyword("state"), Keyword("outputs")
WM, OPEN, NEXT, DROPPED = Keyword("wm"), Keyword("open"), Keyword("next"), Keyword("dropped")
KEY, START, END, N, MEAN = (
    Keyword("key"),
    Keyword("start"),
    Keyword("end"),
    Keyword("count"),
    Keyword("value"),
)


def minute_means_python(state: dict[Keyword, Any], chunk: dict[Keyword, Any]) -> dict[Keyword, Any]:
    """Per-sensor one-minute tumbling means by hand: the state is a value (a snapshot may hold the old one), so
    the open windows are copied, never changed in place; windows close when the latest ``ts`` passes their end."""
    ts = chunk[TS]
    start = ts - ts % MINUTE
    wm = state.get(WM)
    if wm is not None and start + MINUTE <= wm:
        return {STATE: {**state, DROPPED: state[DROPPED] + 1}}
    windows = dict(state.get(OPEN) or {})
    slot = (chunk[SENSOR], start)
    total, n = windows.get(slot, (0, 0))
    windows[slot] = (total + chunk[TEMP], n + 1)
    nxt = state.get(NEXT)
    if nxt is None or start + MINUTE < nxt:
        nxt = start + MINUTE
    if wm is None or ts > wm:
        wm = ts
    new = {WM: wm, OPEN: windows, NEXT: nxt, DROPPED: state.get(DROPPED, 0)}
    if wm < nxt:
        return {STATE: new}
    outputs = []
    for (key, s), (total, n) in sorted(windows.items(), key=lambda kv: kv[0][1]):
        if s + MINUTE <= wm:
            outputs.append({KEY: key, START: s, END: s + MINUTE, N: n, MEAN: total / n})
            del windows[(key, s)]
    new[NEXT] = min((s + MINUTE for _, s in windows), default=None)
    return {STATE: new, OUTPUTS: tuple(outputs)}


def drive_results(fn: Callable[[Any, Any], Any], chunks: list[dict[Keyword, Any]]) -> tuple[float, list[Any]]:
    """Seconds to run ``fn`` over ``chunks`` as a processor returning result maps, and the outputs."""
    state: Any = {}
    outputs: list[Any] = []
    start = time.perf_counter()
    for chunk in chunks:
        result = fn(state, chunk)
        state = result[STATE]
        emitted = result.get(OUTPUTS)
        if emitted:
            outputs += emitted
    return time.perf_counter() - start, outputs


def drive(fn: Callable[[Any, Any], Any], chunks: list[dict[Keyword, Any]]) -> tuple[float, Any]:
    """Seconds to fold ``fn`` over ``chunks``, and the final state."""
    state: Any = {}
    start = time.perf_counter()
    for chunk in chunks:
        state = fn(state, chunk)
    return time.perf_counter() - start, state


def best_of(repeats: int, fn: Callable[[], float]) -> float:
    return min(fn() for _ in range(repeats))


_BLOCK = """\
(defn step-{i} [state {{:keys [value city] :or {{value 0}} :as chunk}}]
  (let [n (inc (:count state 0))
        total (+ (:sum state 0) value)
        [lo hi] (:range state [0 0])]
    (cond
      (nil? city) {{:state (assoc state :skipped (inc (:skipped state 0)))}}
      (> value hi) {{:state {{:count n :sum total :range [lo value]}} :output {{:city city :max value}}}}
      (< value lo) {{:state {{:count n :sum total :range [value hi]}}}}
      :else (if (= 0 (mod n {m}))
              {{:state (assoc state :count n :sum total) :action :checkpoint}}
              {{:state (assoc state :count n :sum total)}}))))
"""


def generate_script(lines: int) -> str:
    """A realistic script of about ``lines`` lines: processor-shaped functions plus a stream per ten of them."""
    parts: list[str] = ["; generated for bench_lang.py\n"]
    count = 0
    i = 0
    while count < lines:
        block = _BLOCK.format(i=i, m=i % 7 + 2)
        if i % 10 == 9:
            block += f'(mcp-stream "jsonl:data/feed-{i}.jsonl" step-{i} {{:count 0}} {{:stream-id "s{i}"}})\n'
        parts.append(block)
        count += block.count("\n")
        i += 1
    return "".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--lines", type=int, default=500)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--only-printers", action="store_true", help="only part 4")
    parser.add_argument("--only-weather", action="store_true", help="only part 5")
    args = parser.parse_args(argv)
    if args.only_printers:
        printers(args.repeats)
        return
    if args.only_weather:
        weather(args.events, args.repeats)
        return

    start = time.perf_counter()
    read("", "<warm-up>")
    grammar_ms = (time.perf_counter() - start) * 1000

    script = load_script(SOURCE, filename="count_and_sum.rtfs")
    compiled = script.processor("count-and-sum")
    pool = [{VALUE: i % 100, Keyword("id"): i} for i in range(1000)]
    chunks = [pool[i % len(pool)] for i in range(args.calls)]
    expected = drive(count_and_sum_python, chunks[:1000])[1]
    assert drive(compiled, chunks[:1000])[1] == expected, "the two processors disagree"

    ratios: list[float] = []
    best_py = best_lang = float("inf")
    for r in range(args.repeats):
        # adjacent runs in alternating order: a burst of load on this shared machine hits one pair, and both
        # halves of it alike, so the median of the pairs' ratios is steadier than a ratio of two best-ofs
        if r % 2:
            t_lang, t_py = drive(compiled, chunks)[0], drive(count_and_sum_python, chunks)[0]
        else:
            t_py, t_lang = drive(count_and_sum_python, chunks)[0], drive(compiled, chunks)[0]
        ratios.append(t_py / t_lang)
        best_py, best_lang = min(best_py, t_py), min(best_lang, t_lang)
    print(f"count-and-sum, {args.calls:,} calls, {args.repeats} interleaved pairs:")
    print(f"  plain Python : {args.calls / best_py / 1e6:6.2f} M calls/s (best)")
    print(f"  language     : {args.calls / best_lang / 1e6:6.2f} M calls/s (best)")
    print(
        f"  ratio        : {statistics.median(ratios):6.2f}x median of the pairs "
        f"(range {min(ratios):.2f}-{max(ratios):.2f}x)  (target >= 0.8x)"
    )

    text = generate_script(args.lines)
    nlines = text.count("\n")

    def compile_once() -> float:
        t0 = time.perf_counter()
        compile_script(text, filename="generated.rtfs")
        return time.perf_counter() - t0

    compile_ms = best_of(args.repeats, compile_once) * 1000
    ndefs = len(compile_script(text, filename="generated.rtfs").globals)
    print(
        f"parse+compile of a {nlines}-line script ({ndefs} functions), best of {args.repeats}: "
        f"{compile_ms:.1f} ms  (target < 100 ms)"
    )
    print(f"grammar load (once per process): {grammar_ms:.1f} ms")
    windowed(args.events, args.repeats)
    printers(args.repeats)
    weather(args.events, args.repeats)


def _per_call(fn: Callable[[Any], Any], value: Any, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn(value)
    return (time.perf_counter() - t0) / calls


def printers(repeats: int, calls: int = 20_000) -> None:
    """Part 4: the printers on small values against json.dumps of the converted data, interleaved rounds."""
    output = {Keyword("city"): "Lisbon", Keyword("count"): 5, Keyword("mean"): 20.8, Keyword("max"): 22.6}
    cases = {"4-key map": output, "vector of 10 maps": tuple(dict(output) for _ in range(10))}
    walk = jsoncodec._json_walk  # the iterative walks, for the same values in the same run
    show = printer._print
    sides: dict[str, Callable[[Any], Any]] = {
        "json.dumps (converted)": lambda v: json.dumps(v),
        "to_json": jsoncodec.to_json,
        "to_json, the walk": lambda v: walk(v, values.WALK_LIMIT),
        "pr_str": printer.pr_str,
        "pr_str, the walk": lambda v: show(v, True, values.WALK_LIMIT, 0),
    }
    for name, value in cases.items():
        plain = jsoncodec.to_json(value)
        times: dict[str, list[float]] = {side: [] for side in sides}
        for r in range(repeats):
            order = list(sides)[r % len(sides) :] + list(sides)[: r % len(sides)]
            for side in order:
                arg = plain if side.startswith("json.dumps") else value
                times[side].append(_per_call(sides[side], arg, calls))
        base = times["json.dumps (converted)"]
        print(f"printers, {name}, {calls:,} calls x {repeats} interleaved rounds:")
        for side, ts in times.items():
            ratio = statistics.median(b / t for b, t in zip(base, ts, strict=True))
            print(f"  {side:<24}: {statistics.median(ts) * 1e6:6.2f} us  {ratio:5.2f}x json.dumps")


def windowed(events: int, repeats: int) -> None:
    """Part 3: the per-sensor one-minute tumbling mean, language vs plain Python, interleaved pairs."""
    lang = load_script(WINDOWED, filename="windowed.rtfs").processor("minute-means")
    readings = [{TS: i * 100, SENSOR: f"s{i % 50}", TEMP: float(i % 37) / 2} for i in range(events)]
    expected = drive_results(minute_means_python, readings)[1]
    assert drive_results(lang, readings)[1] == expected, "the two processors disagree"
    ratios: list[float] = []
    best_py = best_lang = float("inf")
    for r in range(repeats):
        if r % 2:
            t_lang, t_py = drive_results(lang, readings)[0], drive_results(minute_means_python, readings)[0]
        else:
            t_py, t_lang = drive_results(minute_means_python, readings)[0], drive_results(lang, readings)[0]
        ratios.append(t_py / t_lang)
        best_py, best_lang = min(best_py, t_py), min(best_lang, t_lang)
    print(
        f"per-sensor 1-minute tumbling mean, {events:,} readings, 50 sensors, {len(expected):,} windows, "
        f"{repeats} interleaved pairs:"
    )
    print(f"  plain Python : {events / best_py / 1e6:6.2f} M readings/s (best)")
    print(f"  language     : {events / best_lang / 1e6:6.2f} M readings/s (best)")
    print(
        f"  ratio        : {statistics.median(ratios):6.2f}x median of the pairs "
        f"(range {min(ratios):.2f}-{max(ratios):.2f}x)  (target >= 0.7x)"
    )


CITY, COUNT_, SUM_, MAX_, MEAN_ = (
    Keyword("city"),
    Keyword("count"),
    Keyword("sum"),
    Keyword("max"),
    Keyword("mean"),
)
OUTPUT = Keyword("output")


def _add_reading(stats: dict[Keyword, Any] | None, temp: float) -> dict[Keyword, Any]:
    if stats is None:
        return {COUNT_: 1, SUM_: temp, MAX_: temp}
    return {COUNT_: stats[COUNT_] + 1, SUM_: stats[SUM_] + temp, MAX_: max(stats[MAX_], temp)}


def _summary(city: str, stats: dict[Keyword, Any]) -> dict[Keyword, Any]:
    return {CITY: city, COUNT_: stats[COUNT_], MEAN_: stats[SUM_] / stats[COUNT_], MAX_: stats[MAX_]}


def _per_chunk_python(state: dict[Any, Any], chunk: dict[Keyword, Any]) -> dict[Keyword, Any]:
    city = chunk[CITY]
    stats = _add_reading(state.get(city), chunk[TEMP])
    return {STATE: {**state, city: stats}, OUTPUT: _summary(city, stats)}


def _aggregate_python(state: dict[Any, Any], chunk: dict[Keyword, Any]) -> dict[Keyword, Any]:
    city = chunk[CITY]
    return {STATE: {**state, city: _add_reading(state.get(city), chunk[TEMP])}}


def _fold_states(fn: Callable[[Any, Any], Any], chunks: list[dict[Keyword, Any]]) -> tuple[float, Any]:
    state: Any = {}
    start = time.perf_counter()
    for chunk in chunks:
        state = fn(state, chunk)[STATE]
    return time.perf_counter() - start, state


def weather(events: int, repeats: int) -> None:
    """Part 5: bench_cli.py's processors, compiled (plain and metered) against hand-written Python."""
    from bench_cli import CASES, CITIES  # beside this file

    rng = random.Random(17)
    chunks = [
        {CITY: rng.choice(CITIES), TEMP: round(rng.uniform(-20.0, 40.0), 1), TS: f"t{i}"}
        for i in range(events)
    ]
    for case, fn_name, python in (
        ("A", "per-chunk", _per_chunk_python),
        ("B", "aggregate", _aggregate_python),
    ):
        script = load_script(CASES[case].replace("(mcp-stream", ";(mcp-stream"), filename=f"case-{case}.rtfs")
        plain = script.processor(fn_name)
        sides = {
            "plain Python": python,
            "language": plain,
            "language, metered": metered(plain, DEFAULT_LIMITS),
        }
        expected = _fold_states(python, chunks[:2000])[1]
        for side, fn in sides.items():
            assert _fold_states(fn, chunks[:2000])[1] == expected, f"case {case}: {side} disagrees"
        times: dict[str, list[float]] = {side: [] for side in sides}
        for r in range(repeats):
            order = list(sides)[r % len(sides) :] + list(sides)[: r % len(sides)]
            for side in order:
                times[side].append(_fold_states(sides[side], chunks)[0])
        base = times["plain Python"]
        print(f"bench_cli case {case} processor ({fn_name}), {events:,} chunks x {repeats} rotating rounds:")
        for side, ts in times.items():
            ratio = statistics.median(b / t for b, t in zip(base, ts, strict=True))
            print(
                f"  {side:<18}: {statistics.median(ts) / events * 1e6:6.2f} us/chunk  {ratio:5.2f}x plain Python"
            )


if __name__ == "__main__":
    main()
