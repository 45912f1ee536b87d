"""What a ``deftest`` / ``defproperty`` map means: validated into :class:`ExampleTest` and :class:`PropertyTest`.

Validation happens while the test file loads, so a misspelled key or a bad step is reported at the test's line
before any test runs (keys of a literal map are also checked before compiling, at the key's own position, by
:mod:`streamrt.testing.scripts`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import msgspec

from streamrt.errors import StreamrtError
from streamrt.printer import pr_str
from streamrt.runtime.machine import KNOWN_ACTIONS, Status
from streamrt.runtime.provider import takes_meta
from streamrt.values import Keyword, type_name

__all__ = [
    "EXAMPLE_KEYS",
    "EXPECT_KEYS",
    "PROPERTY_KEYS",
    "STAT_KEYS",
    "ExampleTest",
    "PropertyTest",
    "SpecProblem",
    "Step",
    "Subject",
    "parse_steps",
]

_K = Keyword
SUBJECT_KEYS: Final = ("processor", "stream", "initial-state", "on-end", "queue-capacity")
EXAMPLE_KEYS: Final = (
    *SUBJECT_KEYS,
    "chunks",
    "steps",
    "source",
    "end-input",
    "expect",
    "check",
    "timeout-ms",
)
PROPERTY_KEYS: Final = (
    *SUBJECT_KEYS,
    "chunk",
    "directives",
    "end-input",
    "runs",
    "max-steps",
    "advance-ms",
    "allow-errors",
    "check",
    "seed",
)
EXPECT_KEYS: Final = ("status", "state", "outputs", "error", "stats")
STAT_KEYS: Final = ("processed", "queued", "dropped", "errors", "outputs", "timers")
STEP_KEYS: Final = ("chunk", "chunks", "directive", "end-input", "advance-ms")
STATUSES: Final = tuple(s.keyword for s in Status)


class SpecProblem(StreamrtError):
    """A test map that does not say something runnable; the loader adds the test's position."""


def unknown_key(key: Any, known: Sequence[str], where: str) -> SpecProblem:
    """An unknown key, with a did-you-mean when one is close."""
    name = key.qualified if isinstance(key, Keyword) else pr_str(key)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean :{close[0]}?)" if close else ""
    return SpecProblem(
        f"unknown key {pr_str(key)} in {where}{hint}; known: {' '.join(':' + k for k in known)}"
    )


def check_keys(value: Mapping[Any, Any], known: Sequence[str], where: str) -> None:
    for key in value:
        if not (isinstance(key, Keyword) and key.qualified in known):
            raise unknown_key(key, known, where)


class Subject(msgspec.Struct, frozen=True):
    """What a test runs: a processor and how its stream starts."""

    processor: Callable[..., Any]
    name: str
    initial_state: Any
    on_end: Callable[..., Any] | None
    queue_capacity: int | None
    options: Mapping[Keyword, Any]


class Step(msgspec.Struct, frozen=True):
    """One thing done to the stream: ``{:chunk v :meta m}``, ``{:chunks [...]}``, ``{:directive :pause}``,
    ``{:end-input true}`` or ``{:advance-ms 1000}`` (the fake clock moves on; timers due meanwhile run)."""

    kind: str
    value: Any = None
    meta: dict[Keyword, Any] | None = None


def parse_steps(value: Any, where: str = ":steps") -> tuple[Step, ...]:
    """Validate a ``:steps`` vector."""
    if not isinstance(value, tuple):
        raise SpecProblem(f"{where} must be a vector of step maps, got {type_name(value)}")
    steps = []
    for i, raw in enumerate(value):
        here = f"step {i + 1} of {where}"
        if not isinstance(raw, Mapping):
            raise SpecProblem(
                f"{here} must be a map such as {{:chunk 1}} or {{:directive :pause}}, got {pr_str(raw)[:60]}"
            )
        check_keys(raw, (*STEP_KEYS, "meta"), here)
        kinds = [k.qualified for k in raw if k.qualified in STEP_KEYS]
        if len(kinds) != 1:
            raise SpecProblem(
                f"{here} needs exactly one of :chunk :chunks :directive :end-input :advance-ms, got "
                f"{pr_str(raw)[:60]}"
            )
        kind = kinds[0]
        item = raw[_K(kind)]
        meta = raw.get(_K("meta"))
        if meta is not None and (kind != "chunk" or not isinstance(meta, Mapping)):
            raise SpecProblem(f"{here}: :meta goes with :chunk and must be a map")
        if kind == "directive" and item not in KNOWN_ACTIONS:
            known = " ".join(pr_str(k) for k in KNOWN_ACTIONS)
            raise SpecProblem(f"{here}: unknown directive {pr_str(item)}; known: {known}")
        if kind == "chunks" and not isinstance(item, tuple):
            raise SpecProblem(f"{here}: :chunks must be a vector")
        if kind == "advance-ms" and (type(item) not in (int, float) or not 0 <= item < float("inf")):
            raise SpecProblem(
                f"{here}: :advance-ms must be a number of milliseconds >= 0, got {pr_str(item)}"
            )
        steps.append(Step(kind, item, dict(meta) if meta else None))
    return tuple(steps)


def function(
    value: Any, what: str, arities: tuple[int, int], resolve: Callable[[str], Callable[..., Any]]
) -> Callable[..., Any]:
    """A function given as a value or by name, checked for the arities the runtime calls it with."""
    if isinstance(value, Keyword | str):
        value = resolve(value.qualified if isinstance(value, Keyword) else value)
    if not callable(value) or isinstance(value, Keyword):
        raise SpecProblem(f"{what} must be a function, got {pr_str(value)[:60]}")
    try:
        takes_meta(value, arities, what)
    except StreamrtError:
        lo, hi = arities
        count = f"{lo} argument{'s' if lo != 1 else ''}" if lo == hi else f"{lo} or {hi} arguments"
        raise SpecProblem(f"{what} must be a function of {count}") from None
    fn: Callable[..., Any] = value
    return fn


def checks(value: Any, resolve: Callable[[str], Callable[..., Any]]) -> tuple[Callable[..., Any], ...]:
    """``:check``: one function of the result map, or a vector of them."""
    if value is None:
        return ()
    items = value if isinstance(value, tuple) else (value,)
    return tuple(function(v, ":check", (1, 1), resolve) for v in items)


def positive_int(value: Any, what: str, default: int | None) -> int | None:
    if value is None:
        return default
    if type(value) is not int or value < 1:
        raise SpecProblem(f"{what} must be a positive integer, got {pr_str(value)}")
    return value


def parse_expect(value: Any) -> dict[str, Any]:
    """``:expect``: what the run must end with; only the given keys are compared."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SpecProblem(f":expect must be a map such as {{:status :completed}}, got {pr_str(value)[:60]}")
    check_keys(value, EXPECT_KEYS, ":expect")
    out = {k.qualified: v for k, v in value.items()}
    status = out.get("status")
    if "status" in out and status not in STATUSES:
        raise SpecProblem(
            f":expect :status must be one of {' '.join(pr_str(s) for s in STATUSES)}, got {pr_str(status)}"
        )
    if "outputs" in out and not isinstance(out["outputs"], tuple):
        raise SpecProblem(f":expect :outputs must be a vector, got {pr_str(out['outputs'])[:60]}")
    if "error" in out and not isinstance(out["error"], str):
        raise SpecProblem(":expect :error must be a string found in the stream's error message")
    stats = out.get("stats")
    if stats is not None:
        if not isinstance(stats, Mapping):
            raise SpecProblem(":expect :stats must be a map such as {:processed 3 :dropped 0}")
        check_keys(stats, STAT_KEYS, ":expect :stats")
        for k, v in stats.items():
            if type(v) is not int:
                raise SpecProblem(f":expect :stats {pr_str(k)} must be an integer, got {pr_str(v)}")
    return out


class ExampleTest(msgspec.Struct):
    """A ``deftest``: given chunks and directives in, the status, state and outputs that must come out."""

    name: str
    pos: Any
    subject: Subject
    steps: tuple[Step, ...] = ()
    source: str | None = None
    end_input: bool = True
    expect: dict[str, Any] = msgspec.field(default_factory=dict)
    checks: tuple[Callable[..., Any], ...] = ()
    timeout: float = 10.0


class PropertyTest(msgspec.Struct):
    """A ``defproperty``: random chunks and directives, the runtime's invariants and the test's checks hold."""

    name: str
    pos: Any
    subject: Subject
    chunk: Any = msgspec.field(default_factory=lambda: _K("any"))
    directives: tuple[Keyword, ...] = KNOWN_ACTIONS
    end_input: bool = True
    runs: int = 100
    max_steps: int = 12
    advance_ms: int | None = None
    """The most one ``{:advance-ms N}`` step moves the fake clock; None: no such steps (time stands still)."""
    allow_errors: bool = False
    checks: tuple[Callable[..., Any], ...] = ()
    seed: int | None = None
    strategy: Any = None
