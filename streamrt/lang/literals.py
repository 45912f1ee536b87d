"""Collection literals and quoting: how ``[...]``, ``{...}``, ``#{...}`` and ``'form`` become Python.

A vector or set whose items are all constants is built once, as a constant of the code object; anything else is
built when it runs (a tuple display, a dict display, ``_LSet((...))``); a map key computed at run time goes through
``_key`` (:func:`~streamrt.values.checked_key`), since Python hashes a deep vector by recursing on the C stack. A literal key or member written twice is a
compile error, as in Clojure.
"""

from __future__ import annotations

import ast
from typing import Any

from streamrt.lang.compiler import LITERALS, Compiler, Result, Scope, const, name
from streamrt.lang.forms import Form, Kw, ListF, Lit, MapF, SetF, Sym, VecF, form_str
from streamrt.lang.positions import locate
from streamrt.values import LList, LSet, Symbol

__all__ = ["check_duplicates", "quote"]


def check_duplicates(c: Compiler, forms: list[Form], what: str) -> None:
    """A literal (keyword, number, string, nil, boolean) written twice among ``forms`` is a compile error;
    ``what`` is the message, with ``{}`` for the literal."""
    seen: set[tuple[type, Any]] = set()
    for key in forms:
        if isinstance(key, Kw | Lit):
            marker = (type(key.value), key.value)
            if marker in seen:
                raise c.fail(what.format(form_str(key)), key.pos)
            seen.add(marker)


def _vector(c: Compiler, form: VecF, scope: Scope) -> Result:
    results = [c.compile(f, scope) for f in form.items]
    if all(isinstance(r.expr, ast.Constant) for r in results):
        return Result([], locate(const(tuple(r.expr.value for r in results)), form.pos))  # type: ignore[attr-defined]
    stmts, exprs = c.sequence(results)
    return Result(stmts, locate(ast.Tuple(elts=exprs, ctx=ast.Load()), form.pos))


def _map(c: Compiler, form: MapF, scope: Scope) -> Result:
    check_duplicates(c, form.items[0::2], "duplicate key {} in map literal")
    results = [c.compile(f, scope) for f in form.items]
    stmts, exprs = c.sequence(results)
    # a key computed at run time may be a vector too deep (or too self-sharing) to hash: checked first
    keys: list[ast.expr | None] = [
        k if isinstance(f, Kw | Lit) else ast.Call(func=name("_key"), args=[k], keywords=[])
        for f, k in zip(form.items[0::2], exprs[0::2], strict=True)
    ]
    node = ast.Dict(keys=keys, values=exprs[1::2])
    return Result(stmts, locate(node, form.pos))


def _resolved(c: Compiler, value: Any) -> Any:
    """A constant node's value with every code-constant placeholder in it (a keyword, say) swapped for its object."""
    obj = c.object_of(ast.Constant(value=value))
    if obj is not None:
        return obj
    if type(value) is tuple:
        return tuple(_resolved(c, v) for v in value)
    return value


def _set(c: Compiler, form: SetF, scope: Scope) -> Result:
    check_duplicates(c, form.items, "duplicate item {} in set literal")
    results = [c.compile(f, scope) for f in form.items]
    if all(isinstance(r.expr, ast.Constant) for r in results):
        try:
            members = LSet(_resolved(c, r.expr.value) for r in results)  # type: ignore[attr-defined]
        except TypeError:  # an unhashable member: it fails when it runs, located like any runtime error
            pass
        else:
            return Result([], locate(c.code_constant(members), form.pos))
    stmts, exprs = c.sequence(results)
    call = ast.Call(func=name("_LSet"), args=[ast.Tuple(elts=exprs, ctx=ast.Load())], keywords=[])
    return Result(stmts, locate(call, form.pos))


LITERALS[VecF] = _vector
LITERALS[MapF] = _map
LITERALS[SetF] = _set


def quote(c: Compiler, form: Form) -> ast.expr:
    """The runtime value of a quoted form."""
    if isinstance(form, Lit):
        return const(form.value)
    if isinstance(form, Kw):
        return c.keyword(form.value)
    if isinstance(form, MapF):
        items = [quote(c, f) for f in form.items]
        return ast.Dict(keys=list(items[0::2]), values=items[1::2])
    try:
        return c.constant(_quoted(form))
    except TypeError:
        raise c.fail(
            f"cannot quote {form_str(form)[:40]}: a map cannot be a map key or a set member", form.pos
        ) from None


def _quoted(form: Form) -> Any:
    if isinstance(form, Lit | Kw):
        return form.value
    if isinstance(form, Sym):
        return Symbol(form.name)
    if isinstance(form, ListF):
        return LList(_quoted(f) for f in form.items)
    if isinstance(form, VecF):
        return tuple(_quoted(f) for f in form.items)
    if isinstance(form, SetF):
        return LSet(_quoted(f) for f in form.items)
    return {_quoted(k): _quoted(v) for k, v in form.pairs()}
