"""Metering compiled code: per-chunk fuel (steps), wall-clock time, call depth and the size of values built.

Theory of operation
-------------------
The plain compiled code stays as it is: a host calling ``script.processor("p")`` pays nothing. A stream started
with limits runs a *metered variant* of its script instead, made on first use and cached per
(:class:`Limits`, script) by :func:`streamrt.lang.metered.metered`: the script's forms are compiled again with
``meter=True``, which gives every function this prologue (see :func:`metered_body`)::

    _m = _M                    # the namespace's meter: an object with slots, cheap to read and write
    _d = _m.d                  # the call depth on entry, kept in a local: read once, restored on the way out
    if _d:                     # a nested call: check the depth, charge one step
        if _d >= _m.dm: _rt_depth()
        _f = _m.f - 1
        _m.f = _f
        if _f < 0: _rt_fuel()
        _m.d = _d + 1
    else:                      # the outermost call: a new chunk (or :on-end) starts
        _m.f = _m.k            # its first slice of fuel
        _m.c = None            # no clock reading yet
        _m.d = 1
    try:
        ... the body, unchanged ...
    except Exception as _e: raise _rt_error(_e)
    finally:
        _m.d = _d

so the per-chunk reset needs no wrapper around the processor, and a host that gives no limits runs the plain code.
A *leaf* (:func:`is_leaf`: a function whose body calls nothing but :data:`FIRST_ORDER` core functions and the
runtime's support functions, so no other script function can run while it does) charges and checks the same, but
does not count itself in ``_m.d`` and has no ``finally``: nothing reads the depth until it returns (about 400
instructions less per call).
Fuel is handed out in slices of at most :data:`SLICE` steps; ``_rt_fuel`` (:meth:`_Meter.refill`) runs once per
slice, takes the slice from the chunk's budget, reads the clock (the first refill of a chunk starts it, so a
chunk's first ``SLICE`` steps are not timed: well under a millisecond) and raises :class:`LimitExceededError` when
the fuel or the time is gone. Each nested compiled function call is one step. The same clock reading tells the
runtime's turn (:mod:`streamrt.lang.turn`) that a processor still runs when its batch's turn is over, and stops it
with :class:`~streamrt.lang.turn.Halted` when the host halted processing (a shutdown).

Processors run on the event loop's thread, one chunk at a time, so one meter per variant serves all the streams
that share it. The variant's top level is run again in its own namespace to define its functions; the results of
the ``call`` forms the first run made are replayed, so nothing is started or logged twice.

Core functions cost nothing extra on small values: only when a value past :data:`WATCH` items is built or walked
do they call :func:`built` or :func:`spend`, which look up the stack for the nearest script frame; if it belongs to
a metered variant, the size is checked against ``max-size`` and charged as fuel (one step per item). Python's own
``RecursionError`` inside a metered variant is reported as the depth limit too.
"""

from __future__ import annotations

import ast
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec

from streamrt.errors import LimitExceededError, ScriptError, UsageError
from streamrt.lang.rt import mangle
from streamrt.lang.turn import TURN
from streamrt.printer import pr_str
from streamrt.values import Keyword

__all__ = [
    "DEFAULT_LIMITS",
    "FIRST_ORDER",
    "SLICE",
    "WATCH",
    "Limits",
    "built",
    "install_meter",
    "is_leaf",
    "metered_body",
    "spend",
]

SLICE: Final = 1000
"""Steps between two clock readings (and between two looks at the remaining fuel)."""

WATCH: Final = 1000
"""Core functions check (and charge) only values with more items than this; ``max-size`` may not be lower."""

_HOW = {
    "fuel": ("fuel", "steps (function calls, and items walked by core functions) on one chunk"),
    "time_ms": ("time-ms", "milliseconds of wall-clock time on one chunk"),
    "depth": ("depth", "nested function calls"),
    "max_size": ("max-size", "items (or characters) in one value built"),
    "max_state": ("max-state", "bytes of state (its values' memory, each shared one counted once)"),
}


class Limits(msgspec.Struct, frozen=True):
    """What one chunk may use, and how large a stream's state may grow (``max_state``, checked by the runtime on a
    budget: :mod:`streamrt.runtime.state_size`). Every field is a positive int; the defaults are generous on
    purpose."""

    fuel: int = 10_000_000
    time_ms: int = 2_000
    depth: int = 800
    max_size: int = 1_000_000
    max_state: int = 100_000_000

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            key = _HOW[name][0]
            if type(value) is not int or value < 1:
                raise UsageError(f"the {key} limit must be a positive integer, got {pr_str(value)}")
        if self.max_size < WATCH:
            raise UsageError(f"the max-size limit must be at least {WATCH}, got {self.max_size}")

    def merged(self, overrides: Mapping[Any, Any] | None) -> Limits:
        """These limits with the keys of a ``:limits`` map (``{:fuel N :time-ms N :depth N :max-size N}``) set."""
        if not overrides:
            return self
        if not isinstance(overrides, Mapping):
            raise UsageError(
                f":limits must be a map such as {{:fuel 1000000 :time-ms 500}}, got {pr_str(overrides)}"
            )
        known = {key: attr for attr, (key, _) in _HOW.items()}
        changes: dict[str, Any] = {}
        for k, v in overrides.items():
            name = k.qualified if isinstance(k, Keyword) else k
            attr = known.get(name) if isinstance(name, str) else None
            if attr is None:
                keys = " ".join(":" + key for key in known)
                raise UsageError(f":limits has an unknown key {pr_str(k)}; known: {keys}")
            changes[attr] = v
        return msgspec.structs.replace(self, **changes)

    def capped(self, overrides: Mapping[Any, Any] | None) -> Limits:
        """A stream's limits under these as ceilings: the keys of its ``:limits`` map set (as :meth:`merged`), each
        at most what these allow. A host's limits bound every script it runs; a stream may only lower them."""
        asked = self.merged(overrides)
        if asked is self:
            return self
        return msgspec.structs.replace(
            asked, **{name: min(getattr(asked, name), getattr(self, name)) for name in self.__struct_fields__}
        )

    def as_option(self) -> dict[Keyword, int]:
        """The ``:limits`` map that gives these limits."""
        return {Keyword(key): getattr(self, attr) for attr, (key, _) in _HOW.items()}


DEFAULT_LIMITS: Final = Limits()


def _exceeded(attr: str, value: int, detail: str = "") -> LimitExceededError:
    key, unit = _HOW[attr]
    flag = {"time_ms": "--time-ms"}.get(attr, "--" + key)
    return LimitExceededError(
        f"{key} limit exceeded: {detail or 'more than'} {value:,} {unit}; raise it with "
        f":limits {{:{key} N}} in the stream's options, up to the host's limit ({flag} N on the command line)",
        limit=key,
        value=value,
    )


# --- the compiled prologue ------------------------------------------------------------------------------------

_PROLOGUE = """
_m = _M
_d = _m.d
if _d:
    if _d >= _m.dm:
        _rt_depth()
    _f = _m.f - 1
    _m.f = _f
    if _f < 0:
        _rt_fuel()
    _m.d = _d + 1
else:
    _m.f = _m.k
    _m.c = None
    _m.d = 1
"""
"""The depth on entry stays in a local (``_d``) and is written back by the ``finally``: an attribute read fewer per
call, and a store instead of a read-modify-write on the way out."""


def _unlocated(source: str) -> list[ast.stmt]:
    """Statements parsed from a template, stripped of positions so the compiler gives them the script's."""
    stmts = ast.parse(source).body
    for stmt in stmts:
        for node in ast.walk(stmt):
            for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
                if hasattr(node, attr):
                    delattr(node, attr)
    return stmts


_LEAF_PROLOGUE = """
_m = _M
_d = _m.d
if _d:
    if _d >= _m.dm:
        _rt_depth()
    _f = _m.f - 1
    _m.f = _f
    if _f < 0:
        _rt_fuel()
else:
    _m.f = _m.k
    _m.c = None
"""
"""A leaf's prologue: the same checks and charge, the same start of a chunk when it is the outermost call, and
``_m.d`` left as it is (no function it could call reads it)."""

FIRST_ORDER: Final = frozenset(
    [
        "get",
        "get-in",
        "assoc",
        "assoc-in",
        "dissoc",
        "merge",
        "select-keys",
        "contains?",
        "keys",
        "vals",
        "count",
        "empty?",
        "first",
        "second",
        "last",
        "rest",
        "nth",
        "conj",
        "vec",
        "str",
        "keyword",
        "+",
        "-",
        "*",
        "/",
        "inc",
        "dec",
        "max",
        "min",
        "abs",
        "mod",
        "quot",
        "rem",
        "<",
        "<=",
        ">",
        ">=",
        "=",
        "not=",
        "not",
        "nil?",
        "some?",
        "zero?",
        "pos?",
        "neg?",
        "number?",
        "int?",
        "float?",
        "double?",
        "string?",
        "keyword?",
        "vector?",
        "list?",
        "map?",
    ]
)
"""Core functions that never call a function they are given, nor any other script code."""

_SAFE_CALLS: Final = frozenset(
    {"c_" + mangle(n) for n in FIRST_ORDER}
    | {"_type", "_lookup_target", "_d_nth", "_d_rest", "_d_get", "_key", "_case_fail", "_LSet", "_LList"}
)
"""What a leaf may call by name: those core functions and the support functions of :mod:`streamrt.lang.rt`."""

_SAFE_OBJECTS: Final = (len, type)
"""Objects a leaf may call as code constants (the metered ``assoc``'s size check)."""


def is_leaf(body: list[ast.stmt], object_of: Callable[[ast.expr], Any]) -> bool:
    """True when running ``body`` cannot run any other script function: it defines no function, has no loop, and calls
    only :data:`FIRST_ORDER` core functions, the runtime's support functions and ``.get`` (a keyword's lookup on a
    map). ``object_of`` says what a code-constant node stands for."""
    todo: list[ast.AST] = list(body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.Lambda | ast.While | ast.For | ast.comprehension):
            return False
        if isinstance(node, ast.Call):
            func = node.func
            safe = (
                (isinstance(func, ast.Name) and func.id in _SAFE_CALLS)
                or (isinstance(func, ast.Attribute) and func.attr == "get")
                or any(object_of(func) is obj for obj in _SAFE_OBJECTS)
            )
            if not safe:
                return False
        todo.extend(ast.iter_child_nodes(node))
    return True


def metered_body(guarded: ast.Try, *, leaf: bool = False) -> list[ast.stmt]:
    """The body of a metered function around its ``try``/``except`` (see the module docs)."""
    if leaf:
        return [*_unlocated(_LEAF_PROLOGUE), guarded]
    guarded.finalbody = _unlocated("_m.d = _d")
    return [*_unlocated(_PROLOGUE), guarded]


# --- the metered namespace ------------------------------------------------------------------------------------


class _Meter:
    """The counters of one metered namespace (``_M``) and their slow paths: a fuel refill with a clock check, and
    the depth error. Slots, because the prologue reads and writes them on every call."""

    __slots__ = ("budget", "c", "d", "dm", "f", "k", "limits", "time_s")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.f = 0  # fuel left in the current slice
        self.d = 0  # call depth; 0 between chunks
        self.c: list[float] | None = (
            None  # [fuel left beyond the slice, deadline], from the chunk's first refill
        )
        self.k = min(SLICE, limits.fuel)  # the first slice of a chunk
        self.dm = limits.depth
        self.time_s = limits.time_ms / 1000
        self.budget = limits.fuel - self.k

    def refill(self) -> None:
        now = time.perf_counter()
        if now > TURN.deadline:
            # the batch's turn is over (or processing halted) while this processor runs: see streamrt.lang.turn
            TURN.overrun()
        state = self.c
        if state is None:
            # the first refill of this chunk: the prologue handed out its first slice
            state = self.c = [self.budget, now + self.time_s]
        state[0] += self.f
        if state[0] < 0:
            self.f = 0
            raise _exceeded("fuel", self.limits.fuel)
        if now > state[1]:
            self.f = 0
            raise _exceeded("time_ms", self.limits.time_ms)
        piece = int(min(SLICE, state[0]))
        state[0] -= piece
        self.f = piece

    def depth(self) -> None:
        raise _exceeded("depth", self.limits.depth)


def _translator(
    locate: Callable[[BaseException], BaseException], limits: Limits
) -> Callable[[BaseException], BaseException]:
    """A metered namespace's ``_rt_error``: limit errors keep their class and get the script position from
    ``locate`` (the owner's own ``_rt_error``); Python's ``RecursionError`` is reported as the depth limit."""

    def translate(exc: BaseException) -> BaseException:
        if isinstance(exc, RecursionError):
            err = _exceeded("depth", limits.depth, "Python's own stack ran out before")
            err.__cause__ = exc
            exc = err
        if isinstance(exc, LimitExceededError):
            if exc.pos is None:
                located = locate(exc)
                if isinstance(located, ScriptError):
                    exc.pos, exc.source_line = located.pos, located.source_line
            return exc
        return locate(exc)

    return translate


def install_meter(
    ns: dict[str, Any], limits: Limits, locate: Callable[[BaseException], BaseException]
) -> None:
    """Make ``ns`` a namespace that code compiled with ``meter=True`` can run in under ``limits``: its meter
    (``_M``), the meter's slow paths, and an ``_rt_error`` that reports limits, locating errors with ``locate``.

    Every outermost call of a metered function starts a fresh budget (see the module docs), so a host that runs
    one expression at a time (``streamrt repl``) gives each the limits of one chunk.
    """
    meter = _Meter(limits)
    ns.update(_rt_error=_translator(locate, limits), _rt_fuel=meter.refill, _rt_depth=meter.depth, _M=meter)


# --- hooks for the core library -------------------------------------------------------------------------------


def _metered_globals() -> dict[str, Any] | None:
    """The namespace of the nearest script frame on the stack if it is a metered variant's, else None."""
    frame = sys._getframe(2)
    while frame is not None:
        g = frame.f_globals
        if "_rt_call" in g:
            return g if "_M" in g else None
        frame = frame.f_back  # type: ignore[assignment]
    return None


def built(n: int, what: str, unit: str = "items") -> None:
    """A core function is about to build a value of ``n`` items (``n`` > :data:`WATCH`): check it, charge it."""
    g = _metered_globals()
    if g is None:
        return
    meter: _Meter = g["_M"]
    cap = meter.limits.max_size
    if n > cap:
        raise _exceeded("max_size", cap, f"{what} would build {n:,} {unit}, more than")
    meter.f -= n
    if meter.f < 0:
        meter.refill()


def spend(n: int) -> None:
    """A core function walks ``n`` items (``n`` > :data:`WATCH`): charge them as fuel."""
    g = _metered_globals()
    if g is None:
        return
    meter: _Meter = g["_M"]
    meter.f -= n
    if meter.f < 0:
        meter.refill()
