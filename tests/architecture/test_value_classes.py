"""streamrt's value classes are msgspec Structs, not dataclasses (docs/architecture.md, "Value classes"; issue 17).

On Python 3.11 each ``@dataclass`` costs 0.5-0.9 ms at import (every generated method is compiled from source), a
``msgspec.Struct`` class ~20 us; ``streamrt run`` made 51 dataclasses before its first output. The check counts
the dataclasses made in a fresh interpreter that runs a script: one of streamrt's, added anywhere on the run path,
fails here (libraries' own, such as lark's, are theirs). Timing lives in benchmarks/bench_startup.py.
"""

from __future__ import annotations

import ast
import copy
import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

from streamrt.errors import Pos, ScriptCompileError
from streamrt.lang.forms import Sym
from streamrt.lang.meter import Limits
from streamrt.policy.effects import SecurityContext
from streamrt.runtime.machine import TRANSITIONS
from streamrt.store.snapshot import Snapshot
from streamrt.values import Keyword

ROOT = Path(__file__).resolve().parents[2]

_CHILD = """
import dataclasses, io, json, sys
made = []
process = dataclasses._process_class
def counted(cls, *args, **kwargs):
    made.append(f"{cls.__module__}.{cls.__qualname__}")
    return process(cls, *args, **kwargs)
dataclasses._process_class = counted
dataclasses.dataclass(type("Probe", (), {"__annotations__": {"x": int}}))
import streamrt.cli
code = streamrt.cli.main(json.loads(sys.argv[1]), out=io.StringIO(), err=io.StringIO())
assert code == 0, code
print(json.dumps(made))
"""


def _dataclasses_made(argv: list[str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(argv)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    made: list[str] = json.loads(done.stdout.splitlines()[-1])
    return made


def test_a_run_makes_no_dataclass_of_streamrt() -> None:
    made = _dataclasses_made(["run", "processors/weather.rtfs", "--no-progress"])
    assert made[0] == "__main__.Probe", "dataclasses._process_class is no longer where dataclasses are made"
    assert [name for name in made if name.startswith("streamrt.")] == []


def _dataclass_uses(path: Path) -> list[str]:
    """``file:line`` of every import of :mod:`dataclasses` in a module (a decorator needs one)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        if "dataclasses" in names:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_module_of_streamrt_uses_dataclasses() -> None:
    """One way of writing value classes in the package, off the run path too (tests may keep their own helpers)."""
    package = ROOT / "streamrt"
    assert [use for path in sorted(package.rglob("*.py")) for use in _dataclass_uses(path)] == []


def test_structs_pickle_and_copy_as_the_dataclasses_did() -> None:
    """Frozen ones normalized or derived in ``__post_init__`` (a transition's flags, a context's labels) come back
    equal; a form (equal only to itself) comes back with its fields; a script error keeps its place."""
    values: list[Any] = [
        Pos("f.rtfs", 3, 4),
        *TRANSITIONS.values(),
        SecurityContext.parse(allow="network,fs", deny="fs"),
        Snapshot("s", "p", state={Keyword("n"): 1}, queue=[(1, {})]),
        Limits(fuel=5_000),
    ]
    for value in values:
        for again in (pickle.loads(pickle.dumps(value)), copy.copy(value), copy.deepcopy(value)):
            assert again == value and type(again) is type(value)
    form = Sym("x", Pos("f.rtfs", 1, 2))
    back = pickle.loads(pickle.dumps(form))
    assert back != form and (back.name, back.pos) == (form.name, form.pos)
    error = pickle.loads(pickle.dumps(ScriptCompileError("bad", Pos("f.rtfs", 3, 4), "(x)")))
    assert (error.message, error.pos, error.source_line) == ("bad", Pos("f.rtfs", 3, 4), "(x)")
