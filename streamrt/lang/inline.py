"""Fast paths for the hottest core functions, inlined as type-guarded Python operators.

``(inc x)`` becomes ``x + 1 if type(x) is int else c_inc(x)``: plain integer arithmetic runs as one bytecode, and
anything else (floats, nil, strings) falls back to the core function, which has the exact semantics and the error
messages. Guards never change meaning, only speed; tests compare inlined and called results.
"""

from __future__ import annotations

import ast

from streamrt.lang.compiler import Compiler, Result, const, inline, name
from streamrt.lang.forms import ListF
from streamrt.values import Keyword

__all__: list[str] = []

_BINOPS: dict[str, ast.operator] = {"+": ast.Add(), "-": ast.Sub(), "*": ast.Mult()}
_CMPOPS: dict[str, ast.cmpop] = {"<": ast.Lt(), "<=": ast.LtE(), ">": ast.Gt(), ">=": ast.GtE()}


def _is_int(expr: ast.expr) -> ast.expr:
    return ast.Compare(
        left=ast.Call(func=name("_type"), args=[expr], keywords=[]),
        ops=[ast.Is()],
        comparators=[name("_int")],
    )


def _const_int(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Constant) and type(expr.value) is int


def _guarded(
    c: Compiler, lang_name: str, a: ast.expr, b: ast.expr, fast: ast.operator | ast.cmpop
) -> ast.expr:
    """``fast(a, b)`` when both are ints, else the core function; each operand evaluated once, in order.

    Two unknown operands use a chained ``type(a) is type(b) is int``: both sides are evaluated before the first
    comparison can short-circuit, so the fallback always sees both values.
    """
    a_bind, a_use = c.bind_once(a)
    b_bind, b_use = c.bind_once(b)
    if _const_int(a) and _const_int(b):
        test: ast.expr = const(True)
    elif _const_int(b):
        test = _is_int(a_bind)
    elif _const_int(a):
        test = _is_int(b_bind)
    else:
        type_a = ast.Call(func=name("_type"), args=[a_bind], keywords=[])
        type_b = ast.Call(func=name("_type"), args=[b_bind], keywords=[])
        test = ast.Compare(left=type_a, ops=[ast.Is(), ast.Is()], comparators=[type_b, name("_int")])
    if isinstance(fast, ast.cmpop):
        body: ast.expr = ast.Compare(left=a_use, ops=[fast], comparators=[b_use])
    else:
        body = ast.BinOp(left=a_use, op=fast, right=b_use)
    slow = ast.Call(func=c.core(lang_name), args=[a_use, b_use], keywords=[])
    return ast.IfExp(test=test, body=body, orelse=slow)


@inline("+", "-", "*")
def _arith(c: Compiler, args: list[Result], form: ListF) -> Result | None:
    if len(args) != 2 or any(r.stmts for r in args):
        return None
    head = form.items[0]
    op = _BINOPS[head.name]  # type: ignore[union-attr]
    return Result([], _guarded(c, head.name, args[0].expr, args[1].expr, op))  # type: ignore[union-attr]


@inline("<", "<=", ">", ">=")
def _compare(c: Compiler, args: list[Result], form: ListF) -> Result | None:
    if len(args) != 2 or any(r.stmts for r in args):
        return None
    head = form.items[0]
    op = _CMPOPS[head.name]  # type: ignore[union-attr]
    return Result([], _guarded(c, head.name, args[0].expr, args[1].expr, op), True)  # type: ignore[union-attr]


@inline("inc", "dec")
def _step(c: Compiler, args: list[Result], form: ListF) -> Result | None:
    (arg,) = args
    if arg.stmts:
        return None
    head = form.items[0]
    op = ast.Add() if head.name == "inc" else ast.Sub()  # type: ignore[union-attr]
    bind, use = c.bind_once(arg.expr)
    slow = ast.Call(func=c.core(head.name), args=[use], keywords=[])  # type: ignore[union-attr]
    return Result(
        [], ast.IfExp(test=_is_int(bind), body=ast.BinOp(left=use, op=op, right=const(1)), orelse=slow)
    )


def _eq_expr(c: Compiler, a: ast.expr, b: ast.expr) -> ast.expr:
    """Inline ``=`` against a constant; general equality goes to the core function."""
    if isinstance(a, ast.Constant) and isinstance(b, ast.Constant):
        return ast.Call(func=c.core("="), args=[a, b], keywords=[])
    if isinstance(a, ast.Constant):
        a, b = b, a
    if isinstance(b, ast.Name) and b.id in c.constants and type(c.constants[b.id]) is Keyword:
        return ast.Compare(left=a, ops=[ast.Is()], comparators=[b])
    if isinstance(b, ast.Constant):
        v = b.value
        if v is None or v is True or v is False:
            return ast.Compare(left=a, ops=[ast.Is()], comparators=[b])
        if type(v) is str:
            return ast.Compare(left=a, ops=[ast.Eq()], comparators=[b])
        if type(v) in (int, float) and v not in (0, 1):
            return ast.Compare(left=a, ops=[ast.Eq()], comparators=[b])
    return ast.Call(func=c.core("="), args=[a, b], keywords=[])


@inline("=", "not=")
def _equal(c: Compiler, args: list[Result], form: ListF) -> Result | None:
    if len(args) != 2 or any(r.stmts for r in args):
        return None
    expr = _eq_expr(c, args[0].expr, args[1].expr)
    if form.items[0].name == "not=":  # type: ignore[union-attr]
        expr = ast.UnaryOp(op=ast.Not(), operand=expr)
    return Result([], expr, True)


@inline("not")
def _not(c: Compiler, args: list[Result], form: ListF) -> Result | None:
    (arg,) = args
    if arg.stmts:
        return None
    if arg.is_bool:
        return Result([], ast.UnaryOp(op=ast.Not(), operand=arg.expr), True)
    if isinstance(arg.expr, ast.Constant):
        return Result([], const(arg.expr.value is None or arg.expr.value is False), True)
    bind, use = c.bind_once(arg.expr)
    return Result(
        [],
        ast.BoolOp(
            op=ast.Or(),
            values=[
                ast.Compare(left=bind, ops=[ast.Is()], comparators=[const(None)]),
                ast.Compare(left=use, ops=[ast.Is()], comparators=[const(False)]),
            ],
        ),
        True,
    )


@inline("nil?", "some?")
def _nil(c: Compiler, args: list[Result], form: ListF) -> Result | None:
    (arg,) = args
    if arg.stmts:
        return None
    is_nil = form.items[0].name == "nil?"  # type: ignore[union-attr]
    if isinstance(arg.expr, ast.Constant):
        return Result([], const((arg.expr.value is None) is is_nil), True)
    op = ast.Is() if is_nil else ast.IsNot()
    return Result([], ast.Compare(left=arg.expr, ops=[op], comparators=[const(None)]), True)


@inline("get")
def _get(c: Compiler, args: list[Result], form: ListF) -> Result | None:
    if any(r.stmts for r in args):
        return None
    key = args[1].expr
    if not (isinstance(key, ast.Name) and type(c.constants.get(key.id)) is Keyword):
        return None
    default = args[2].expr if len(args) == 3 else const(None)
    return Result([], c.lookup_expr(args[0].expr, key, default))
