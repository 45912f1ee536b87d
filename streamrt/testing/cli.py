"""``streamrt test [PATHS...]``: find ``*_test.rtfs`` files, run their tests, print one line per test.

Exit codes: 0 every test passed; 1 some test failed; 2 a bad command line, no test files, or a test file (or the
script it tests) that does not load, reported as ``file:line:col: message`` with the line and a caret. The other
files still run, so one broken file does not hide the rest.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from streamrt.errors import ScriptError, StreamrtError

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "discover", "run_command"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
_SKIP_DIRS = frozenset({"node_modules", "__pycache__", "venv"})


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        for name in sorted(files):
            if name.endswith("_test.rtfs"):
                yield Path(root) / name


def discover(paths: Sequence[str]) -> list[str]:
    """The test files named by ``paths`` (files as given; folders searched for ``*_test.rtfs``), in order."""
    found: list[str] = []
    for given in paths or ["."]:
        path = Path(given)
        if path.is_dir():
            found.extend(os.path.normpath(p) for p in _walk(path))
        elif path.is_file():
            found.append(os.path.normpath(given))
        else:
            raise FileNotFoundError(given)
    return list(dict.fromkeys(found))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def run_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The body of ``streamrt test`` (``args``: ``paths``, ``keyword``, ``runs``, ``seed``)."""
    try:
        files = discover(args.paths)
    except FileNotFoundError as exc:
        err.write(f"streamrt test: no such file or folder: {exc.args[0]}\n")
        return EXIT_USAGE
    if not files:
        err.write(f"streamrt test: no *_test.rtfs files under {' '.join(args.paths) or '.'}\n")
        return EXIT_USAGE
    # Streams failing on purpose are the point of many tests: keep the runtime's log records off the terminal.
    quiet = logging.NullHandler()
    logger = logging.getLogger("streamrt")
    logger.addHandler(quiet)
    try:
        return _run_files(files, args, out, err)
    finally:
        logger.removeHandler(quiet)


def _run_files(files: list[str], args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # the compiler and the runtime load only once there are test files to run
    from streamrt.testing.runner import run_test_file
    from streamrt.testing.scripts import load_test_file

    pattern = args.keyword
    started = time.perf_counter()
    passed = failed = broken = 0
    for path in files:
        try:
            test_file = load_test_file(path)
            results = run_test_file(
                test_file,
                select=(lambda name: pattern in name) if pattern else None,
                runs=args.runs,
                seed=args.seed,
            )
        except ScriptError as exc:
            err.write(exc.format() + "\n")
            out.write(f"ERROR {path}: does not load (see above)\n")
            broken += 1
            continue
        except StreamrtError as exc:
            out.write(f"ERROR {path}: {exc}\n")
            broken += 1
            continue
        for result in results:
            runs = f" ({_plural(result.runs, 'run')})" if result.kind == "property" else ""
            label = f"{result.pos.filename}:{result.pos.line}:{result.pos.column}"
            if result.ok:
                passed += 1
                out.write(f"ok    {label}  {result.name}{runs}\n")
            else:
                failed += 1
                out.write(f"FAIL  {label}  {result.name}{runs}: {result.reason}\n")
                for line in result.details:
                    out.write(f"        {line}\n")
        out.flush()
    total = passed + failed
    summary = f"{_plural(total, 'test')} in {_plural(len(files), 'file')}: {passed} passed, {failed} failed"
    if broken:
        summary += f", {_plural(broken, 'file')} did not load"
    out.write(f"{summary} ({time.perf_counter() - started:.2f} s)\n")
    if broken:
        return EXIT_USAGE
    return EXIT_FAILED if failed else EXIT_OK
