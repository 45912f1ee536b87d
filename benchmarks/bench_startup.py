"""Start-up: how long the ``streamrt`` command takes to show its first output, next to Python's own start.

Run from the repository root::

    .venv/bin/python benchmarks/bench_startup.py [--repeats 10] [--importtime 15]

Each case is a fresh process started with :mod:`subprocess`; its time is the wall time from starting it until its
first line on stdout (or, for a command that prints nothing, until stdout closes). The cases run ``--repeats``
rounds, interleaved (every case once per round, the order rotated each round), so a load spike on this shared
machine hits all of them alike; the figures are medians, and each ratio is the median of the per-round ratios
against ``python -c pass`` of the same round. The CPU time of the whole process (user + sys, the child's own
``os.wait4`` accounting) is shown beside it: it does not wait for other processes, so it is steadier here.

The cases:

- ``python -c pass`` and ``python -c "import json"``: the interpreter of this virtualenv, the floor any Python
  command stands on;
- ``streamrt --version``: the command line only;
- ``streamrt check processors/weather.rtfs``: read and compile a script;
- ``streamrt run processors/weather.rtfs``: the main job, to its first output line (target: median < 0.3 s), three
  ways: with ``--no-cache`` (read and compile the script, as before the compiled-script cache); with a cold cache
  (an empty cache directory before every run: compile, and write the entry); with a warm cache (the entry written
  by the warm-up round is loaded, the reader and the compiler are not imported).

Every streamrt run uses a temporary cache directory of its own (``STREAMRT_CACHE_DIR``), never the user's.

Python's bytecode caches are written before measuring (a warm-up round, and every run, with
``PYTHONDONTWRITEBYTECODE`` removed from the environment), as installing a wheel does; a sandbox that sets that
variable would otherwise compile all of streamrt from source at every start (about three times slower here).

Last, ``python -X importtime -c "import streamrt.cli"`` is run once and its ``--importtime`` largest entries by
cumulative time are listed (what a start-up change should look at first).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["Case", "first_output", "importtime_top", "main"]

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = "processors/weather.rtfs"


class Case:
    """One command to time; ``argv`` runs from the repository root."""

    def __init__(self, name: str, argv: list[str], *, cold: Path | None = None) -> None:
        self.name = name
        self.argv = argv
        self.cold = cold
        """A cache directory emptied before each run (a cold compiled-script cache)."""
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def time(self, env: dict[str, str]) -> tuple[float, float]:
        if self.cold is not None:
            shutil.rmtree(self.cold, ignore_errors=True)
            env = {**env, "STREAMRT_CACHE_DIR": str(self.cold)}
        return first_output(self.argv, env)


def _streamrt() -> list[str]:
    """The console script next to this interpreter, as a user runs it; else ``python -m streamrt``."""
    script = Path(sys.executable).parent / "streamrt"
    return [str(script)] if script.exists() else [sys.executable, "-m", "streamrt"]


def first_output(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds from start to the first stdout line (or to EOF), and the process's own CPU seconds."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    wall = time.perf_counter() - start
    rest = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited with {proc.returncode}")
    if not line and rest:
        raise SystemExit(f"{' '.join(argv)}: no first line")
    return wall, usage.ru_utime + usage.ru_stime


def importtime_top(env: dict[str, str], count: int) -> list[tuple[int, int, str]]:
    """The ``count`` largest entries of ``-X importtime`` for ``import streamrt.cli``: (cumulative us, self us, name)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import streamrt.cli"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows: list[tuple[int, int, str]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, name = line[len("import time:") :].split("|")
        rows.append((int(cumulative), int(own), name.rstrip()))
    return sorted(rows, reverse=True)[:count]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--repeats", type=int, default=10, help="interleaved rounds (default 10)")
    ap.add_argument("--importtime", type=int, default=15, metavar="N", help="import-time entries listed (15)")
    args = ap.parse_args(argv)

    caches = Path(tempfile.mkdtemp(prefix="bench_startup-"))
    try:
        _measure(args, caches)
    finally:
        shutil.rmtree(caches, ignore_errors=True)


def _measure(args: argparse.Namespace, caches: Path) -> None:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("STREAMRT_NO_CACHE", None)
    env["STREAMRT_CACHE_DIR"] = str(caches / "warm")
    streamrt = _streamrt()
    cases = [
        Case("python -c pass", [sys.executable, "-c", "pass"]),
        Case('python -c "import json"', [sys.executable, "-c", "import json"]),
        Case("streamrt --version", [*streamrt, "--version"]),
        Case(f"streamrt check {SCRIPT}", [*streamrt, "check", SCRIPT]),
        Case(f"streamrt run {SCRIPT} --no-cache", [*streamrt, "run", SCRIPT, "--no-cache"]),
        Case(f"streamrt run {SCRIPT}, cold cache", [*streamrt, "run", SCRIPT], cold=caches / "cold"),
        Case(f"streamrt run {SCRIPT}, warm cache", [*streamrt, "run", SCRIPT]),
    ]
    for case in cases:  # warm-up: bytecode caches written, files in the page cache, the warm cache's entry
        case.time(env)
    for round_ in range(args.repeats):
        shift = round_ % len(cases)
        for case in cases[shift:] + cases[:shift]:
            wall, cpu = case.time(env)
            case.wall.append(wall)
            case.cpu.append(cpu)

    base = cases[0]
    print(f"Python {sys.version.split()[0]}, {args.repeats} interleaved rounds, bytecode caches written")
    print(f"{'case':<52} {'first output':>13} {'x pass':>8} {'CPU (whole)':>12}")
    for case in cases:
        ratio = statistics.median(w / b for w, b in zip(case.wall, base.wall, strict=True))
        print(
            f"{case.name:<52} {statistics.median(case.wall) * 1000:>10.0f} ms {ratio:>7.1f}x "
            f"{statistics.median(case.cpu) * 1000:>9.0f} ms"
        )
    for run in cases[-3:]:
        median = statistics.median(run.wall)
        print(
            f"time to first output of `{run.name}`: median {median * 1000:.0f} ms "
            f"(range {min(run.wall) * 1000:.0f}-{max(run.wall) * 1000:.0f}; target < 300 ms: "
            f"{'met' if median < 0.3 else 'not met'})"
        )
    if args.importtime:
        print(
            f'\npython -X importtime -c "import streamrt.cli", {args.importtime} largest (cumulative, self):'
        )
        for cumulative, own, name in importtime_top(env, args.importtime):
            print(f"  {cumulative / 1000:>8.1f} ms {own / 1000:>8.1f} ms  {name}")


if __name__ == "__main__":
    main()
