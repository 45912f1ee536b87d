"""``streamrt run`` end to end against the plain Python script people would write instead, and against Bytewax.

Run from the repository root::

    .venv/bin/python benchmarks/bench_cli.py [--lines 200000] [--pairs 5] [--skip-bytewax]

The job: per-city count, mean and max temperature over ``--lines`` weather JSON lines (``{"city": ..., "temp": ...,
"ts": ...}``, 24 cities), written to a file in a temporary directory. Two cases:

(A) an output per chunk (the city's running summary after each reading);
(B) one output at the end (every city's summary, in name order).

Each case is run three ways, each a fresh process with its standard output going to a file, timed wall-clock from
the start of the process to its exit (start-up included, as a user sees it):

- ``streamrt run CASE.rtfs --source FILE --no-progress``;
- ``python3 plain.py FILE``: the standard library only, ``json.loads`` per line, the same aggregate as a Python
  function, ``print(json.dumps(...))`` per output, in the ``{"stream", "seq", "output"}`` envelope ``streamrt run``
  prints (the ratio is plain time / streamrt time: >= 1.0x means streamrt is as fast, the target; 1.5x the stretch);
- ``python -m bytewax.run FLOW.py:flow(...)`` (when Bytewax 0.21.1 is importable, the ``bench`` extra): its
  ``FileSource``, ``json.loads``, (A) ``stateful_map`` keyed by city, (B) ``fold_final`` over one key, its
  ``StdOutSink``.

``streamrt run`` uses a compiled-script cache directory the benchmark makes in its temporary directory
(``STREAMRT_CACHE_DIR``), not the user's: the first round (the correctness round) compiles the script and writes
the entry, and the later rounds load it, as a user's second run of an unchanged script does.

Every run's outputs are checked against the plain script's before a figure counts: the same values in the same
order (Bytewax's in any order, since it groups each batch of lines by key). This shared machine's speed moves 15-40% between identical runs, so the sides run as ``--pairs``
interleaved rounds in rotating order and each ratio is the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["CASES", "PLAIN", "main", "write_data"]

ROOT = Path(__file__).resolve().parent.parent

CITIES = [
    "Accra", "Athens", "Bogota", "Cairo", "Dakar", "Delhi", "Dublin", "Hanoi", "Havana", "Jakarta", "Kyiv", "Lagos",
    "Lima", "Lisbon", "Manila", "Montreal", "Nairobi", "Oslo", "Quito", "Riga", "Santiago", "Seoul", "Tunis", "Zagreb",
]  # fmt: skip

COMMON = """
(defn add-reading [stats temp]
  (if (nil? stats)
    {:count 1 :sum temp :max temp}
    {:count (inc (:count stats)) :sum (+ (:sum stats) temp) :max (max (:max stats) temp)}))

(defn summary [city stats]
  {:city city :count (:count stats) :mean (/ (:sum stats) (:count stats)) :max (:max stats)})
"""

CASES = {
    "A": COMMON
    + """
(defn per-chunk [state chunk]
  (let [city (:city chunk)
        stats (add-reading (get state city) (:temp chunk))]
    {:state (assoc state city stats) :output (summary city stats)}))

(mcp-stream "jsonl:weather.jsonl" per-chunk {} {:stream-id "weather"})
""",
    "B": COMMON
    + """
(defn aggregate [state chunk]
  (let [city (:city chunk)]
    {:state (assoc state city (add-reading (get state city) (:temp chunk)))}))

(defn finish [state meta]
  {:output (vec (map (fn [[city stats]] (summary city stats)) (sort-by first state)))})

(mcp-stream "jsonl:weather.jsonl" aggregate {} {:stream-id "weather" :on-end "finish"})
""",
}
"""The processor of each case, in the language."""

PY_COMMON = """

def add_reading(stats, temp):
    if stats is None:
        return {"count": 1, "sum": temp, "max": temp}
    return {"count": stats["count"] + 1, "sum": stats["sum"] + temp, "max": max(stats["max"], temp)}


def summary(city, stats):
    return {"city": city, "count": stats["count"], "mean": stats["sum"] / stats["count"], "max": stats["max"]}
"""
"""The job's two functions in Python, shared by the plain script and the Bytewax flow."""

PLAIN = (
    """
import json
import sys
"""
    + PY_COMMON
    + """

def main(path, case):
    state = {}
    seq = 0
    with open(path, "rb") as f:
        for line in f:
            chunk = json.loads(line)
            city = chunk["city"]
            stats = state[city] = add_reading(state.get(city), chunk["temp"])
            if case == "A":
                seq += 1
                print(json.dumps({"stream": "weather", "seq": seq, "output": summary(city, stats)}))
    if case == "B":
        table = [summary(city, state[city]) for city in sorted(state)]
        print(json.dumps({"stream": "weather", "seq": 1, "output": table}))


main(sys.argv[1], sys.argv[2])
"""
)
"""The plain script: the standard library, a loop, the same function, a print per output."""

BYTEWAX = (
    """
import json

import bytewax.operators as op
from bytewax.connectors.files import FileSource
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
"""
    + PY_COMMON
    + """

def per_chunk(stats, chunk):
    stats = add_reading(stats, chunk["temp"])
    return stats, summary(chunk["city"], stats)


def fold(state, chunk):
    city = chunk["city"]
    state[city] = add_reading(state.get(city), chunk["temp"])
    return state


def table(state):
    return [summary(city, state[city]) for city in sorted(state)]


def flow(path, case):
    flow = Dataflow("weather")
    chunks = op.map("parse", op.input("in", flow, FileSource(path)), json.loads)
    if case == "A":
        keyed = op.key_on("city", chunks, lambda chunk: chunk["city"])
        outs = op.stateful_map("aggregate", keyed, per_chunk)
    else:
        keyed = op.key_on("all", chunks, lambda chunk: "all")
        outs = op.map_value("table", op.fold_final("aggregate", keyed, dict, fold), table)
    lines = op.map("line", outs, lambda kv: json.dumps({"stream": "weather", "output": kv[1]}))
    op.output("out", lines, StdOutSink())
    return flow
"""
)
"""The same job as a Bytewax dataflow (its file source, its stdout sink)."""


def write_data(path: Path, lines: int, seed: int = 17) -> None:
    """``lines`` weather readings, one JSON object a line."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(lines):
            city = rng.choice(CITIES)
            temp = round(rng.uniform(-20.0, 40.0), 1)
            ts = f"2026-07-{1 + i // 86400 % 28:02d}T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"
            f.write(json.dumps({"city": city, "temp": temp, "ts": ts}) + "\n")


def timed(cmd: list[str], out: Path, cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall-clock seconds of ``cmd`` from start to exit and the CPU seconds (user + system) of the process itself
    (its own rusage from ``os.wait4``), its stdout to ``out``; a failure stops the benchmark."""
    with out.open("wb") as f, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=f, stderr=err, cwd=cwd, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        took = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            err.seek(0)
            sys.exit(
                f"{' '.join(cmd)} exited {child.returncode}:\n{err.read().decode(errors='replace')[-3000:]}"
            )
    return took, usage.ru_utime + usage.ru_stime


def outputs(path: Path) -> list[Any]:
    """The ``output`` values of a run's JSON lines, in order."""
    with path.open("rb") as f:
        return [json.loads(line)["output"] for line in f if line.strip()]


def bytewax_skip_reason() -> str | None:
    try:
        from importlib.metadata import version

        found = version("bytewax")
    except Exception as exc:  # not installed: say so in the report
        return f"bytewax is not installed ({type(exc).__name__}); pip install -e '.[bench]'"
    return None if found == "0.21.1" else f"bytewax {found} is installed; this benchmark is for 0.21.1"


def run_case(case: str, work: Path, data: Path, pairs: int, *, bytewax: bool) -> None:
    """One case: each side run ``pairs`` times, interleaved, its outputs checked against the plain script's in the
    first round; prints the times and the ratios."""
    python = sys.executable
    streamrt = str(Path(python).with_name("streamrt"))
    script = work / f"case_{case}.rtfs"
    script.write_text(CASES[case], encoding="utf-8")
    sides: dict[str, list[str]] = {
        "plain": [python, "plain.py", str(data), case],
        "streamrt": [streamrt, "run", str(script), "--source", str(data), "--no-progress"],
    }
    if bytewax:
        sides["bytewax"] = [python, "-m", "bytewax.run", f'bytewax_flow.py:flow("{data}", "{case}")']
    env = {**os.environ, "STREAMRT_CACHE_DIR": str(work / "streamrt-cache")}
    env.pop("STREAMRT_NO_CACHE", None)
    times: dict[str, list[float]] = {name: [] for name in sides}
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for round_ in range(pairs):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            out = work / f"out_{case}_{name}.jsonl"
            wall, used = timed(sides[name], out, work, env)
            times[name].append(wall)
            cpu[name].append(used)
            if round_ == 0 and name != "plain":  # round 0 runs the plain script first
                got, want = outputs(out), outputs(work / f"out_{case}_plain.jsonl")
                if name == "bytewax":  # it groups each batch of lines by key: compare as multisets
                    got, want = sorted(map(json.dumps, got)), sorted(map(json.dumps, want))
                if got != want:
                    sys.exit(f"case {case}: {name}'s outputs differ from the plain script's")
    label = {"A": "an output per chunk", "B": "one output at the end"}[case]
    print(f"\ncase {case} ({label}), wall seconds per run (start-up included):")
    for name in names:
        ts = times[name]
        print(f"  {name:9s}: median {statistics.median(ts):6.2f} s  (min {min(ts):.2f}, max {max(ts):.2f})")
    ratios = [p / s for p, s in zip(times["plain"], times["streamrt"], strict=True)]
    print(
        f"  streamrt vs plain: {statistics.median(ratios):.2f}x (plain time / streamrt time, median of "
        f"{len(ratios)} rounds, {min(ratios):.2f}-{max(ratios):.2f}; target >= 1.0x, stretch 1.5x)"
    )
    if "bytewax" in times:
        bw = [b / s for b, s in zip(times["bytewax"], times["streamrt"], strict=True)]
        print(f"  streamrt vs bytewax: {statistics.median(bw):.2f}x (bytewax time / streamrt time)")
    # CPU seconds of each process itself: steadier than wall time when other work shares the cores
    print("  CPU seconds per run (user + system of the process itself):")
    for name in names:
        ts = cpu[name]
        print(f"  {name:9s}: median {statistics.median(ts):6.2f} s  (min {min(ts):.2f}, max {max(ts):.2f})")
    ratios = [p / s for p, s in zip(cpu["plain"], cpu["streamrt"], strict=True)]
    print(f"  streamrt vs plain, CPU: {statistics.median(ratios):.2f}x (median of {len(ratios)} rounds)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--pairs", type=int, default=5, help="interleaved rounds per case")
    parser.add_argument("--cases", default="AB", help="which cases to run: A, B or AB")
    parser.add_argument("--skip-bytewax", action="store_true")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (its path is printed)"
    )
    args = parser.parse_args(argv)

    skip = "--skip-bytewax given" if args.skip_bytewax else bytewax_skip_reason()
    work = Path(tempfile.mkdtemp(prefix="bench_cli-"))
    try:
        data = work / "weather.jsonl"
        write_data(data, args.lines)
        (work / "plain.py").write_text(PLAIN, encoding="utf-8")
        (work / "bytewax_flow.py").write_text(BYTEWAX, encoding="utf-8")
        print(
            f"bench_cli: {args.lines:,} lines ({data.stat().st_size / 1e6:.1f} MB), {args.pairs} interleaved rounds"
        )
        print(
            f"  python {sys.version.split()[0]}, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}"
        )
        for case in args.cases:
            run_case(case, work, data, args.pairs, bytewax=skip is None)
        if skip is not None:
            print(f"\nbytewax: skipped: {skip}")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
