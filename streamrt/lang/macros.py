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


# --- binding conditionals and threading -------------------------------------------------------------------------
#
# Expansions bind their own values to symbols with a '#' in the name, which the reader never produces, so they
# cannot capture or be captured by a script's names. A fixed name per macro is enough: every binding is a `let`,
# so a nested use of the same macro shadows it only inside its own scope.


def _one_binding(head: str, bindings: VecF) -> tuple[Form, Form]:
    if len(bindings.items) != 2:
        raise ScriptCompileError(
            f"{head}: expected one binding, [pattern test], got {len(bindings.items)} forms", bindings.pos
        )
    pattern, test = bindings.items
    return pattern, test


def _let(bindings: list[Form], body: list[Form], like: Form) -> ListF:
    return ListF([_sym("let", like), VecF(bindings, like.pos), *body], like.pos)


def _if(test: Form, then: Form, other: Form | None, like: Form) -> ListF:
    return ListF([_sym("if", like), test, then, *([other] if other is not None else [])], like.pos)


def _bind_if(form: ListF, a: dict[str, Any], head: str, some: bool) -> Form:
    """``(if-let [p t] then else)`` -> ``(let [v# t] (if v# (let [p v#] then) else))``; ``some`` tests nil only."""
    pattern, test = _one_binding(head, a["bindings"])
    value = Sym(f"{head}#", form.pos)
    cond: Form = ListF([_sym("some?", form), value], form.pos) if some else value
    then = _let([pattern, value], a["then"], form)
    return _let([value, test], [_if(cond, then, a.get("else"), form)], form)


@_macro("if-let", "bindings:vector then else?")
def _if_let(form: ListF, a: dict[str, Any]) -> Form:
    return _bind_if(form, {**a, "then": [a["then"]]}, "if-let", some=False)


@_macro("if-some", "bindings:vector then else?")
def _if_some(form: ListF, a: dict[str, Any]) -> Form:
    return _bind_if(form, {**a, "then": [a["then"]]}, "if-some", some=True)


@_macro("when-let", "bindings:vector body*")
def _when_let(form: ListF, a: dict[str, Any]) -> Form:
    return _bind_if(form, {"bindings": a["bindings"], "then": a["body"]}, "when-let", some=False)


@_macro("when-some", "bindings:vector body*")
def _when_some(form: ListF, a: dict[str, Any]) -> Form:
    return _bind_if(form, {"bindings": a["bindings"], "then": a["body"]}, "when-some", some=True)


@_macro("as->", "value name:symbol steps*")
def _as_thread(form: ListF, a: dict[str, Any]) -> Form:
    """``(as-> x v (f v) (g 1 v))`` -> ``(let [v x v (f v) v (g 1 v)] v)``."""
    name: Sym = a["name"]
    bindings: list[Form] = [name, a["value"]]
    for step in a["steps"]:
        bindings += [name, step]
    return _let(bindings, [name], form)


def _thread_step(acc: Form, step: Form, last: bool) -> Form:
    return _thread(ListF([], step.pos), {"value": acc, "steps": [step]}, last)


def _cond_thread(form: ListF, a: dict[str, Any], head: str, last: bool) -> Form:
    """``(cond-> x t1 s1 t2 s2)`` -> ``(let [v# x v# (if t1 (-> v# s1) v#) ...] v#)``: every true test applies."""
    clauses: list[Form] = a["clauses"]
    if len(clauses) % 2:
        raise ScriptCompileError(
            f"{head}: every test needs a form to thread into; this one has none", clauses[-1].pos
        )
    value = Sym(f"{head}#", form.pos)
    bindings: list[Form] = [value, a["value"]]
    for test, step in zip(clauses[0::2], clauses[1::2], strict=True):
        bindings += [value, _if(test, _thread_step(value, step, last), value, step)]
    return _let(bindings, [value], form)


@_macro("cond->", "value clauses*")
def _cond_thread_first(form: ListF, a: dict[str, Any]) -> Form:
    return _cond_thread(form, a, "cond->", last=False)


@_macro("cond->>", "value clauses*")
def _cond_thread_last(form: ListF, a: dict[str, Any]) -> Form:
    return _cond_thread(form, a, "cond->>", last=True)


def _some_thread(form: ListF, a: dict[str, Any], head: str, last: bool) -> Form:
    """``(some-> x s1 s2)`` -> ``(let [v# x v# (if (nil? v#) nil (-> v# s1)) ...] v#)``: stops at the first nil."""
    value = Sym(f"{head}#", form.pos)
    bindings: list[Form] = [value, a["value"]]
    for step in a["steps"]:
        is_nil = ListF([_sym("nil?", step), value], step.pos)
        bindings += [value, _if(is_nil, Lit(None, step.pos), _thread_step(value, step, last), step)]
    return _let(bindings, [value], form)


@_macro("some->", "value steps*")
def _some_thread_first(form: ListF, a: dict[str, Any]) -> Form:
    return _some_thread(form, a, "some->", last=False)


@_macro("some->>", "value steps*")
def _some_thread_last(form: ListF, a: dict[str, Any]) -> Form:
    return _some_thread(form, a, "some->>", last=True)


@_macro("comment", "forms*")
def _comment(form: ListF, a: dict[str, Any]) -> Form:
    """``(comment ...)`` is nil: the forms inside are not compiled."""
    return Lit(None, form.pos)


# --- for --------------------------------------------------------------------------------------------------------

_LET_KW = Keyword("let")
_WHEN_KW = Keyword("when")
_WHILE_KW = Keyword("while")


@_macro("for", "bindings:vector body")
def _for(form: ListF, a: dict[str, Any]) -> Form:
    """A list comprehension, eager: ``(for [x xs :when (odd? x) y ys] [x y])`` is a vector of every ``[x y]``.

    Each binding becomes ``(mapcat (fn [x] ...) coll)``, innermost ``[body]``; ``:let [...]`` binds, ``:when test``
    skips, and ``:while test`` stops that binding's items at the first for which the test fails.
    """
    items: list[Form] = a["bindings"].items
    levels: list[tuple[Form, Form, list[tuple[Kw, Form]]]] = []
    i = 0
    while i < len(items):
        head = items[i]
        if i + 1 >= len(items):
            raise ScriptCompileError(f"for: {form_str(head)} needs a value after it", head.pos)
        value = items[i + 1]
        if isinstance(head, Kw):
            if head.value not in (_LET_KW, _WHEN_KW, _WHILE_KW):
                raise ScriptCompileError(
                    f"for: unknown modifier {form_str(head)} (known: :let :when :while)", head.pos
                )
            if not levels:
                raise ScriptCompileError(f"for: {form_str(head)} must follow a binding", head.pos)
            if head.value is _LET_KW and not isinstance(value, VecF):
                raise ScriptCompileError("for: :let takes a vector of bindings", value.pos)
            levels[-1][2].append((head, value))
        else:
            levels.append((head, value, []))
        i += 2
    if not levels:
        raise ScriptCompileError("for: needs at least one binding, [x coll]", a["bindings"].pos)
    inner: Form = VecF([a["body"]], a["body"].pos)
    for pattern, coll, modifiers in reversed(levels):
        inner = _for_level(pattern, coll, modifiers, inner, form)
    return inner


def _guarded(modifiers: list[tuple[Kw, Form]], inner: Form, otherwise: Form) -> Form:
    """``inner`` under the :let bindings and :when tests of ``modifiers``, in order; ``otherwise`` where a test fails."""
    body = inner
    for kw, value in reversed(modifiers):
        if kw.value is _LET_KW:
            assert isinstance(value, VecF)
            body = _let(value.items, [body], kw)
        elif kw.value is _WHEN_KW:
            body = _if(value, body, otherwise, kw)
    return body


def _for_level(pattern: Form, coll: Form, modifiers: list[tuple[Kw, Form]], inner: Form, like: Form) -> Form:
    whiles = [i for i, (kw, _) in enumerate(modifiers) if kw.value is _WHILE_KW]
    if len(whiles) > 1:
        raise ScriptCompileError("for: one :while per binding", modifiers[whiles[1]][0].pos)
    if whiles:
        at = whiles[0]
        # the :while test sees the :let bindings before it; an item an earlier :when skips cannot stop the loop
        keep = _guarded(modifiers[:at], modifiers[at][1], Lit(True, like.pos))
        keep_fn = ListF([_sym("fn", like), VecF([pattern], like.pos), keep], like.pos)
        coll = ListF([_sym("take-while", like), keep_fn, coll], like.pos)
    body = _guarded([m for m in modifiers if m[0].value is not _WHILE_KW], inner, VecF([], like.pos))
    fn = ListF([_sym("fn", like), VecF([pattern], like.pos), body], like.pos)
    return ListF([_sym("mapcat", like), fn, coll], like.pos)
