"""Macros: forms rewritten into other forms before compiling.

Each macro is one function registered with its argument shape. ``mcp-stream`` lowers to the capability call that
starts a stream, as docs/language.md shows ("Starting streams")::

    (mcp-stream "weather.monitor.v1" count-chunks {:count 0} {:stream-id "w1"})
    => (call :mcp.stream.start {:endpoint "weather.monitor.v1" :processor "count-chunks"
                                :initial-state {:count 0} :stream-id "w1"})

Macro names cannot be rebound as locals (the compiler refuses), so expansion never depends on scope and
``streamrt lower`` can print exactly what the compiler compiles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamrt.errors import ScriptCompileError
from streamrt.lang.forms import Form, Kw, ListF, Lit, MapF, SetF, Sym, VecF, form_str
from streamrt.lang.shapes import Shape
from streamrt.values import Keyword

__all__ = ["MACROS", "expand", "expand_all", "is_macro"]

MacroFn = Callable[[ListF, dict[str, Any]], Form]
MACROS: dict[str, tuple[Shape, MacroFn]] = {}


def _macro(name: str, spec: str) -> Callable[[MacroFn], MacroFn]:
    def register(fn: MacroFn) -> MacroFn:
        MACROS[name] = (Shape(name, spec), fn)
        return fn

    return register


def is_macro(form: Form) -> bool:
    """True when ``form`` is a use of a macro."""
    return (
        isinstance(form, ListF)
        and bool(form.items)
        and isinstance(form.items[0], Sym)
        and (form.items[0].name in MACROS)
    )


def expand(form: ListF) -> Form:
    """Expand one macro use (repeatedly, until the head is no longer a macro)."""
    current: Form = form
    while isinstance(current, ListF) and is_macro(current):
        head = current.items[0]
        assert isinstance(head, Sym)
        shape, fn = MACROS[head.name]
        current = fn(current, shape.match(current))
    return current


def expand_all(form: Form) -> Form:
    """Expand every macro use inside ``form`` (quoted forms are left alone)."""
    if isinstance(form, ListF):
        if form.items and isinstance(form.items[0], Sym) and form.items[0].name == "quote":
            return form
        if is_macro(form):
            return expand_all(expand(form))
        return ListF([expand_all(f) for f in form.items], form.pos)
    if isinstance(form, VecF):
        return VecF([expand_all(f) for f in form.items], form.pos)
    if isinstance(form, MapF):
        return MapF([expand_all(f) for f in form.items], form.pos)
    if isinstance(form, SetF):
        return SetF([expand_all(f) for f in form.items], form.pos)
    return form


def _sym(name: str, like: Form) -> Sym:
    return Sym(name, like.pos)


@_macro("when", "test body*")
def _when(form: ListF, a: dict[str, Any]) -> Form:
    return ListF([_sym("if", form), a["test"], ListF([_sym("do", form), *a["body"]], form.pos)], form.pos)


@_macro("when-not", "test body*")
def _when_not(form: ListF, a: dict[str, Any]) -> Form:
    return ListF(
        [_sym("if", form), a["test"], Lit(None, form.pos), ListF([_sym("do", form), *a["body"]], form.pos)],
        form.pos,
    )


@_macro("if-not", "test then else?")
def _if_not(form: ListF, a: dict[str, Any]) -> Form:
    other = a["else"] if a["else"] is not None else Lit(None, form.pos)
    return ListF([_sym("if", form), a["test"], other, a["then"]], form.pos)


@_macro("cond", "clauses*")
def _cond(form: ListF, a: dict[str, Any]) -> Form:
    clauses: list[Form] = a["clauses"]
    if len(clauses) % 2:
        raise ScriptCompileError(
            "cond: every test needs a result form; this test has none; usage: (cond test result ... :else result)",
            clauses[-1].pos,
        )
    result: Form = Lit(None, form.pos)
    for test, then in reversed(list(zip(clauses[0::2], clauses[1::2], strict=True))):
        if isinstance(test, Kw) and test.value.qualified == "else":
            result = then
        else:
            result = ListF([_sym("if", test), test, then, result], test.pos)
    return result


def _thread(form: ListF, a: dict[str, Any], last: bool) -> Form:
    acc: Form = a["value"]
    for step in a["steps"]:
        if isinstance(step, ListF) and step.items:
            items = [*step.items, acc] if last else [step.items[0], acc, *step.items[1:]]
            acc = ListF(items, step.pos)
        else:
            acc = ListF([step, acc], step.pos)
    return acc


@_macro("->", "value steps*")
def _thread_first(form: ListF, a: dict[str, Any]) -> Form:
    return _thread(form, a, last=False)


@_macro("->>", "value steps*")
def _thread_last(form: ListF, a: dict[str, Any]) -> Form:
    return _thread(form, a, last=True)


def _name_of(form: Form, what: str, head: str) -> Lit:
    if isinstance(form, Sym):
        return Lit(form.name, form.pos)
    if isinstance(form, Lit) and isinstance(form.value, str):
        return form
    raise ScriptCompileError(
        f"{head}: the {what} must be a symbol or a string, got {form_str(form)}; "
        "usage: (mcp-stream endpoint processor initial-state? options?)",
        form.pos,
    )


@_macro("mcp-stream", "endpoint processor initial-state? options?")
def _mcp_stream(form: ListF, a: dict[str, Any]) -> Form:
    pos = form.pos
    entries: list[Form] = [
        Kw(Keyword("endpoint"), pos),
        _name_of(a["endpoint"], "endpoint", "mcp-stream"),
        Kw(Keyword("processor"), pos),
        _name_of(a["processor"], "processor", "mcp-stream"),
        Kw(Keyword("initial-state"), pos),
        a["initial-state"] if a["initial-state"] is not None else MapF([], pos),
    ]
    options = a["options"]
    args: Form
    if options is None:
        args = MapF(entries, pos)
    elif isinstance(options, MapF):
        merged: dict[Keyword | None, int] = {}
        for i in range(0, len(entries), 2):
            key = entries[i]
            assert isinstance(key, Kw)
            merged[key.value] = i
        for key, value in options.pairs():
            if isinstance(key, Kw) and key.value in merged:
                entries[merged[key.value] + 1] = value
            else:
                entries += [key, value]
        args = MapF(entries, pos)
    else:
        args = ListF([_sym("merge", form), MapF(entries, pos), options], pos)
    return ListF([_sym("call", form), Kw(Keyword("mcp.stream.start"), pos), args], pos)
