"""``loop``/``recur`` and ``case``: the special forms that decide where control goes next.

Theory of operation. ``recur`` compiles to a value, ``_Recur((a, b))`` (a tuple subclass only the runtime can make),
and a loop is a Python ``while`` around its body that rebinds and goes round again while the body's value is one::

    l1_i = 0                                 (loop [i 0]
    while True:                                (if (< i 3)
        _t2 = _Recur((l1_i + 1,)) if ... else l1_i    (recur (inc i))
        if type(_t2) is not _Recur: break             i))
        (l1_i,) = _t2

So the stack never grows, and a ``recur`` is only legal where its value is the loop's value: the *tail*, checked
before the body is compiled (:func:`check_tails` follows ``if``, ``do``, ``let``, ``and``/``or``, ``case`` and
macros), so ``(+ 1 (recur x))`` is a compile error rather than a sentinel leaking into arithmetic. Python closures
capture variables, not values, so a body that makes functions (a ``fn`` or ``#(...)``) runs as a nested function
called once per round instead, which gives each round fresh bindings as Clojure's do. A ``fn`` whose body
``recur``\\ s becomes ``(fn [x] (loop [x x] body))``: recur rebinds its parameters, a rest parameter as one value.

Fuel. Each round of a loop in a metered function charges one step, the price of a call, so ``(loop [] (recur))``
stops at the fuel (or time) limit like unbounded recursion stops at the depth limit.

``case`` compares its value with literal test constants (``(a b)`` lists alternatives) by ``=``, and without a
default a value that matches nothing is a runtime error, as in Clojure.
"""

from __future__ import annotations

import ast
import copy
from typing import Any

import msgspec

from streamrt.errors import Pos
from streamrt.lang import macros
from streamrt.lang.compiler import Compiler, Result, Scope, const, name, special, store
from streamrt.lang.forms import Form, Kw, ListF, Lit, MapF, SetF, Sym, VecF, form_str
from streamrt.lang.positions import locate
from streamrt.lang.recur import head_name, holds_form, mentions_recur
from streamrt.lang.specials import bind, compile_body, compile_fn, def_of

__all__ = ["RecurTarget", "check_tails", "compile_loop"]


class RecurTarget(msgspec.Struct, frozen=True):
    """What a ``recur`` inside goes back to: how many values it rebinds, and what to call it in messages."""

    count: int
    what: str
    pos: Pos


# --- finding and checking recur ---------------------------------------------------------------------------------


def check_tails(c: Compiler, body: list[Form]) -> None:
    """A compile error at the first ``recur`` in ``body`` that is not in tail position."""
    for form in body[:-1]:
        _check(c, form, tail=False)
    if body:
        _check(c, body[-1], tail=True)


def _check(c: Compiler, form: Form, tail: bool) -> None:
    if isinstance(form, VecF | MapF | SetF):
        for item in form.items:
            _check(c, item, False)
        return
    if not isinstance(form, ListF) or not form.items:
        return
    head, items = head_name(form), form.items
    if head == "recur":
        if not tail:
            raise c.fail(
                "recur: only allowed as the last thing a loop or fn does (in tail position), where its value "
                "would be the loop's",
                form.pos,
            )
        for item in items[1:]:
            _check(c, item, False)
        return
    if head in ("quote", "fn"):
        return
    if head == "loop":
        if len(items) > 1 and isinstance(items[1], VecF):
            for value in items[1].items[1::2]:
                _check(c, value, False)
        return
    if head == "if" and len(items) in (3, 4):
        _check(c, items[1], False)
        for branch in items[2:]:
            _check(c, branch, tail)
        return
    if head in ("do", "and", "or"):
        check = check_tails if tail else _all_non_tail
        check(c, items[1:])
        return
    if head == "let" and len(items) > 1 and isinstance(items[1], VecF):
        _all_non_tail(c, items[1].items)
        (check_tails if tail else _all_non_tail)(c, items[2:])
        return
    if head == "case" and len(items) > 1:
        _check(c, items[1], False)
        clauses = items[2:]
        for result in clauses[1::2]:
            _check(c, result, tail)
        if len(clauses) % 2:
            _check(c, clauses[-1], tail)
        return
    if head in macros.MACROS:
        _check(c, macros.expand(form), tail)
        return
    _all_non_tail(c, items)


def _all_non_tail(c: Compiler, forms: list[Form]) -> None:
    for form in forms:
        _check(c, form, False)


# --- loop -------------------------------------------------------------------------------------------------------

_FUEL = """
_m.f -= 1
if _m.f < 0:
    _rt_fuel()
"""


def _charge_one_step() -> list[ast.stmt]:
    """One step of fuel, charged on the metered function's meter (``_m``, set by its prologue)."""
    return ast.parse(_FUEL).body  # positions are overwritten by the script's when the tree is finished


def _strip(stmts: list[ast.stmt]) -> list[ast.stmt]:
    for stmt in stmts:
        for node in ast.walk(stmt):
            for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
                node.__dict__.pop(attr, None)
    return stmts


def compile_loop(
    c: Compiler, pairs: list[tuple[Form, Form]], body: list[Form], scope: Scope, pos: Pos, what: str
) -> Result:
    """The loop binding each pattern to its initial value, in order, around ``body``; see the module docs."""
    lscope = scope.child()
    stmts: list[ast.stmt] = []
    holders: list[str] = []  # the Python names holding each binding's value, which recur sets
    rebind: list[ast.stmt] = []  # destructuring to redo after a recur
    for pattern, init in pairs:
        if isinstance(pattern, Sym) and pattern.name == "&":
            raise c.fail(f"{what}: '&' cannot be bound here", pattern.pos)
        r = c.compile(init, lscope)
        stmts.extend(r.stmts)
        if isinstance(pattern, Sym):
            c.check_bindable(pattern)
            holder = c.local_name(pattern.name)
            stmts.append(locate(ast.Assign(targets=[store(holder)], value=r.expr), pattern.pos))
            lscope.names[pattern.name] = holder
        else:
            holder = c.fresh("_lv")
            stmts.append(locate(ast.Assign(targets=[store(holder)], value=r.expr), pattern.pos))
            destructure: list[ast.stmt] = []
            bind(c, pattern, name(holder), lscope, destructure)
            stmts.extend(destructure)
            rebind.extend(destructure)
        holders.append(holder)
    if not mentions_recur(body):
        result = compile_body(c, body, lscope, pos)
        return Result(stmts + result.stmts, result.expr, result.is_bool)
    check_tails(c, body)
    target = RecurTarget(len(pairs), what, pos)
    value = c.fresh()
    if holds_form(body, "fn"):  # a fn (``#(...)`` is one by now) could capture the loop's bindings
        # each round a call, so closures made in it keep that round's bindings
        fn_name = c.fresh("_loop")
        patterns = VecF([p for p, _ in pairs], pos)
        fn = compile_fn(c, patterns, body, scope, pos, recur_target=target)
        stmts.append(def_of(fn_name, fn, pos, c if c.meter else None))
        round_stmts: list[ast.stmt] = []
        round_value: ast.expr = ast.Call(func=name(fn_name), args=[name(h) for h in holders], keywords=[])
        redo: list[ast.stmt] = []
    else:
        saved, c.recur = c.recur, target
        try:
            result = compile_body(c, body, lscope, pos)
        finally:
            c.recur = saved
        round_stmts = _charge_one_step() if c.meter and scope.in_fn else []
        round_stmts = _strip(round_stmts) + result.stmts
        round_value = result.expr
        redo = copy.deepcopy(rebind)
    done = ast.Compare(
        left=ast.Call(func=name("_type"), args=[name(value)], keywords=[]),
        ops=[ast.IsNot()],
        comparators=[name("_Recur")],
    )
    again = ast.Assign(
        targets=[ast.Tuple(elts=[store(h) for h in holders], ctx=ast.Store())], value=name(value)
    )
    loop_body = [
        *round_stmts,
        ast.Assign(targets=[store(value)], value=round_value),
        ast.If(test=done, body=[ast.Break()], orelse=[]),
        again,
        *redo,
    ]
    stmts.append(locate(ast.While(test=const(True), body=loop_body, orelse=[]), pos))
    return Result(stmts, name(value))


@special("loop", "bindings:vector body*")
def _loop(c: Compiler, form: ListF, a: dict[str, Any], scope: Scope) -> Result:
    bindings: VecF = a["bindings"]
    if len(bindings.items) % 2:
        raise c.fail("loop: every binding needs a value; this one has none", bindings.items[-1].pos)
    pairs = list(zip(bindings.items[0::2], bindings.items[1::2], strict=True))
    return compile_loop(c, pairs, a["body"], scope, form.pos, f"loop at line {form.pos.line}")


@special("recur", "args*")
def _recur(c: Compiler, form: ListF, a: dict[str, Any], scope: Scope) -> Result:
    target: RecurTarget | None = c.recur
    if target is None:
        raise c.fail("recur: only allowed inside a loop or fn, as the last thing it does", form.pos)
    args: list[Form] = a["args"]
    if len(args) != target.count:
        plural = "s" if target.count != 1 else ""
        raise c.fail(
            f"recur: the {target.what} binds {target.count} value{plural}, so recur takes {target.count} "
            f"argument{plural}; got {len(args)}",
            form.pos,
        )
    stmts, exprs = c.sequence([c.compile(f, scope) for f in args])
    values = ast.Tuple(elts=exprs, ctx=ast.Load())
    return Result(stmts, locate(ast.Call(func=name("_Recur"), args=[values], keywords=[]), form.pos))


# --- case -------------------------------------------------------------------------------------------------------


def _constants(c: Compiler, test: Form) -> list[Form]:
    if isinstance(test, ListF):
        if not test.items:
            raise c.fail("case: an empty list of test constants matches nothing", test.pos)
        return test.items
    return [test]


def _check_constants(c: Compiler, tests: list[Form]) -> None:
    seen: set[tuple[type, Any]] = set()
    for test in tests:
        for constant in _constants(c, test):
            key = (
                (type(constant.value), constant.value)
                if isinstance(constant, Kw | Lit)
                else (str, form_str(constant))
            )
            if key in seen:
                raise c.fail(f"case: duplicate test constant {form_str(constant)}", constant.pos)
            seen.add(key)


@special("case", "value clauses*")
def _case(c: Compiler, form: ListF, a: dict[str, Any], scope: Scope) -> Result:
    clauses: list[Form] = a["clauses"]
    if not clauses:
        value = c.compile(a["value"], scope)
        fail = ast.Call(func=name("_case_fail"), args=[value.expr], keywords=[])
        return Result(value.stmts, locate(fail, form.pos))
    pos = form.pos
    subject = Sym("case#", pos)
    default: Form = clauses[-1] if len(clauses) % 2 else ListF([Sym("case", pos), subject], pos)
    pairs = list(zip(clauses[0::2], clauses[1::2], strict=False))
    _check_constants(c, [t for t, _ in pairs])
    chain = default
    for test, result in reversed(pairs):
        checks: list[Form] = [
            ListF([Sym("=", k.pos), subject, ListF([Sym("quote", k.pos), k], k.pos)], k.pos)
            for k in _constants(c, test)
        ]
        cond = checks[0] if len(checks) == 1 else ListF([Sym("or", test.pos), *checks], test.pos)
        chain = ListF([Sym("if", test.pos), cond, result, chain], test.pos)
    return c.compile(ListF([Sym("let", pos), VecF([subject, a["value"]], pos), chain], pos), scope)
