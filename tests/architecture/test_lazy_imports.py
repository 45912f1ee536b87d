"""Start-up stays light: each command loads only the libraries it needs (issue 17).

Each case runs the command in a fresh interpreter and reads ``sys.modules`` after it: a module-level import of a
heavy library added anywhere on the path (the CLI, the observers, a package's ``__init__``) fails here instead of
silently slowing every start. Timing lives in benchmarks/bench_startup.py; this only checks what is loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streamrt.cli.parser import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[2]

# libraries that only serving, the network sources, stores other than memory, metrics or property tests need
SERVICE_LIBRARIES = (
    "sqlalchemy",
    "aiosqlite",
    "httpx",
    "prometheus_client",
    "mcp",
    "websockets",
    "starlette",
    "uvicorn",
    "sse_starlette",
    "jsonschema",
    "hypothesis",
    "redis",
    "shtab",
)
# what reading, compiling and running a script needs, which the command line alone does not
LANGUAGE_AND_RUNTIME = (
    "asyncio",
    "lark",
    "re2",
    "msgpack",
    "streamrt.lang.compiler",
    "streamrt.lang.reader",
    "streamrt.runtime.provider",
    "streamrt.store.codec",
)
# what a run over a file of JSON lines does without: the other commands, regexes, schemas, package resources,
# what only a run with a store or a resume needs (snapshot policies, leases, group commits, the snapshot codec)
NOT_FOR_A_RUN = (
    "streamrt.cli.ctl",
    "streamrt.cli.mcp",
    "streamrt.cli.repl",
    "streamrt.cli.stored",
    "streamrt.runtime.leases",
    "streamrt.runtime.persist",
    "streamrt.runtime.resume",
    "streamrt.store.base",
    "streamrt.store.codec",
    "streamrt.store.group",
    "streamrt.store.memory",
    "streamrt.store.registry",
    "msgpack",
    "streamrt.policy.schema",
    "re2",
    "importlib.resources",
    "zipfile",
)

_CHILD = """
import io, json, sys
argv = json.loads(sys.argv[1])
import streamrt.cli
if argv:
    try:
        code = streamrt.cli.main(argv, out=io.StringIO(), err=io.StringIO())
    except SystemExit as exc:  # --version
        code = exc.code
    assert code == 0, code
print(json.dumps(sorted(sys.modules)))
"""


def _loaded(argv: list[str], env: dict[str, str] | None = None) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(argv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=None if env is None else {**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def _present(loaded: set[str], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if n in loaded or any(m.startswith(n + ".") for m in loaded)]


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param([], id="import streamrt.cli"),
        pytest.param(["--version"], id="--version"),
        pytest.param(["--help"], id="--help"),
    ],
)
def test_the_command_line_alone_loads_no_language_runtime_or_service_library(argv: list[str]) -> None:
    loaded = _loaded(argv)
    assert _present(loaded, (*SERVICE_LIBRARIES, *LANGUAGE_AND_RUNTIME)) == []


@pytest.mark.parametrize(
    "argv", [pytest.param([], id="import streamrt.cli"), pytest.param(["--version"], id="--version")]
)
def test_the_version_builds_no_command_flags(argv: list[str]) -> None:
    loaded = _loaded(argv)
    assert _present(loaded, ("streamrt.observe", "streamrt.values", "msgspec")) == []


def test_check_loads_the_language_but_no_runtime_or_service_library() -> None:
    loaded = _loaded(["check", "processors/weather.rtfs"])
    assert "streamrt.lang.compiler" in loaded  # it did compile the script
    assert _present(loaded, (*SERVICE_LIBRARIES, "streamrt.runtime.provider", "msgpack")) == []


def test_run_over_a_file_loads_no_service_library() -> None:
    loaded = _loaded(["run", "processors/weather.rtfs"])
    assert "streamrt.runtime.provider" in loaded
    assert _present(loaded, SERVICE_LIBRARIES) == []
    assert _present(loaded, NOT_FOR_A_RUN) == []


def test_run_without_progress_lines_loads_no_progress_display() -> None:
    loaded = _loaded(["run", "processors/weather.rtfs", "--no-progress"])
    assert "streamrt.runtime.provider" in loaded
    assert "streamrt.observe.progress" not in loaded


# what reading and compiling a script needs, which a run of a script loaded from the compiled-script cache does not
READING_AND_COMPILING = (
    "lark",
    "streamrt.lang.reader",
    "streamrt.lang.parser_tables",
    "streamrt.lang.macros",
    "streamrt.lang.compiler",
    "streamrt.lang.compiling",
    "streamrt.lang.specials",
    "streamrt.lang.control",
    "streamrt.lang.literals",
    "streamrt.lang.inline",
)
# what a run, from the cache or not, does without: paths are strings (lang/cache.py, script.py, tables.py), and
# pathlib brings urllib.parse and ipaddress (~15 M instructions together); hashlib and pickle it does need (the
# cache's key, its entry)
NO_PATHLIB = ("pathlib", "urllib.parse", "ipaddress")


def test_a_run_from_the_cache_loads_no_reader_and_no_compiler(tmp_path: Path) -> None:
    env = {"STREAMRT_CACHE_DIR": str(tmp_path / "cache")}
    missed = _loaded(["run", "processors/weather.rtfs"], env)  # compiles, and writes the entry
    assert "streamrt.lang.compiling" in missed
    assert list((tmp_path / "cache").glob("*.rtc"))
    hit = _loaded(["run", "processors/weather.rtfs"], env)
    assert "streamrt.runtime.provider" in hit
    assert _present(hit, READING_AND_COMPILING) == []
    off = _loaded(["run", "processors/weather.rtfs", "--no-cache"], env)
    assert "streamrt.lang.compiling" in off
    for loaded in (missed, hit, off):
        assert _present(loaded, NO_PATHLIB) == []


def _flags(parser: argparse.ArgumentParser, command: str) -> list[tuple[tuple[str, ...], str, object]]:
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    child = sub.choices[command]
    return [(tuple(a.option_strings), a.dest, a.default) for a in child._actions]


def test_a_command_parsed_alone_has_the_flags_the_whole_parser_gives_it() -> None:
    """main() builds only the parser of the command its first word names: it must be that command's whole parser."""
    full = build_parser()
    [sub] = [a for a in full._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(sub.choices) == COMMANDS
    for command in sorted(COMMANDS):
        assert _flags(build_parser(command), command) == _flags(full, command), command


_GC_AT_EXIT = """
import atexit, gc, sys
atexit.register(lambda: print("gc", gc.isenabled(), gc.get_freeze_count(), file=sys.stderr))
from streamrt.cli import entry
sys.argv = ["streamrt", *sys.argv[1:]]
entry()
"""


def _gc_at_exit(argv: list[str]) -> tuple[bool, int]:
    done = subprocess.run(
        [sys.executable, "-c", _GC_AT_EXIT, *argv], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    _, enabled, frozen = done.stderr.splitlines()[-1].split()
    return enabled == "True", int(frozen)


@pytest.mark.parametrize("argv", [["run", "processors/weather.rtfs"], ["check", "processors/weather.rtfs"]])
def test_the_console_script_freezes_what_a_command_imported_and_collects_after(argv: list[str]) -> None:
    """``entry`` imports a command's modules with the collector paused and freezes them (cli/__init__.py, _start_up)."""
    enabled, frozen_by_command = _gc_at_exit(argv)
    assert enabled
    _, frozen_by_version = _gc_at_exit(["--version"])
    # the language (and for a run the runtime and asyncio) are frozen, not only the command line
    assert frozen_by_command > 2 * frozen_by_version, (frozen_by_command, frozen_by_version)


def test_a_run_that_compiles_its_script_freezes_the_compiler_too() -> None:
    """Without the cache the reader and the compiler are imported after start-up: cli/run.py's _as_start_up
    freezes them as start-up would have, so a miss costs what a run cost before the cache (issue #17)."""
    enabled, frozen = _gc_at_exit(["run", "processors/weather.rtfs", "--no-cache"])
    assert enabled
    _gc_at_exit(["run", "processors/weather.rtfs"])  # the entry is written
    _, frozen_from_cache = _gc_at_exit(["run", "processors/weather.rtfs"])
    # the reader's and the compiler's modules and the parser's tables: ~10,000 objects more
    assert frozen > frozen_from_cache + 5000, (frozen, frozen_from_cache)
