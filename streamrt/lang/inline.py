"""Fast paths for the hottest core functions, inlined as type-guarded Python operators.

Theory of operation. ``(inc x)`` becomes ``c_inc(x) if type(x) is not int else x + 1``: plain integer
arithmetic runs as one bytecode, and anything else (floats, booleans, nil, strings) falls back to the core
function, which has the exact semantics and the error messages. Guards never change meaning, only speed; tests
compare inlined and called results.

The guard's shape is chosen by counting what the interpreter executes, since it runs on every call:

- the generic call sits in the *if* branch and the fast operation in the *else* branch, so the fast path falls
  through to the end of the expression with no extra jump;
- two unknown operands get two nested guards, the second operand repeated in the outer fallback where it has not
  been evaluated yet, rather than a chained ``is ... is`` (which costs stack shuffling on every call). The
  repetition is only for small operands (a name, a constant, a keyword lookup); a larger one keeps the chain so
  generated code stays linear in the size of the script.
"""

from __future__ import annotations

import ast

from streamrt.lang.compiler import Compiler, Result, const, inline, name
from streamrt.lang.forms import ListF
from streamrt.values import Keyword

__all__: list[str] = []

_BINOPS: dict[str, ast.operator] = {"+": ast.Add(), "-": ast.Sub(), "*": ast.Mult()}
_CMPOPS: dict[str, ast.cmpop] = {"<": ast.Lt(), "<=": ast.LtE(), ">": ast.Gt(), ">=": ast.GtE()}


def _type_of(expr: ast.expr) -> ast.expr:
    return ast.Call(func=name("_type"), args=[expr], keywords=[])


def _not_int(c: Compiler, expr: ast.expr) -> ast.expr:
    """``type(expr) is not int``: exact ints only, so booleans take the generic path."""
    return ast.Compare(left=_type_of(expr), ops=[ast.IsNot()], comparators=[c.code_constant(int)])


def _const_int(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Constant) and type(expr.value) is int


_SMALL = 14
"""Largest operand (in AST nodes) that may be repeated in a fallback branch: a keyword lookup with a plain target
and default (``(m or _lookup_target(m)).get(k, d)``, 14 nodes with their contexts) still fits."""


def _small(expr: ast.expr) -> bool:
    """True when ``expr`` may be compiled twice: few nodes, and no binding or function inside."""
    todo: list[ast.AST] = [expr]
    seen = 0
    while todo:
        node = todo.pop()
        seen += 1
        if seen > _SMALL or isinstance(node, ast.NamedExpr | ast.Lambda):
            return False
        todo.extend(ast.iter_child_nodes(node))
    return True


def _guarded(
    c: Compiler, lang_name: str, a: ast.expr, b: ast.expr, fast: ast.operator | ast.cmpop
) -> ast.expr:
    """``fast(a, b)`` when both are ints, else the core function; each operand evaluated once, in order."""
    a_bind, a_use = c.bind_once(a)
    b_bind, b_use = c.bind_once(b)

    def slow(second: ast.expr) -> ast.expr:
        return ast.Call(func=c.core(lang_name), args=[a_use, second], keywords=[])

    if isinstance(fast, ast.cmpop):
        body: ast.expr = ast.Compare(left=a_use, ops=[fast], comparators=[b_use])
    else:
        body = ast.BinOp(left=a_use, op=fast, right=b_use)
    if _const_int(a) and _const_int(b):
        return body
    if _const_int(b):
        return ast.IfExp(test=_not_int(c, a_bind), body=slow(b_use), orelse=body)
    if _const_int(a):
        return ast.IfExp(test=_not_int(c, b_bind), body=slow(b_use), orelse=body)
    if b_bind is b_use or _small(b):
        inner = ast.IfExp(test=_not_int(c, b_bind), body=slow(b_use), orelse=body)
        return ast.IfExp(test=_not_int(c, a_bind), body=slow(b), orelse=inner)
    # both operands are evaluated before the chain's first comparison can short-circuit
    test = ast.Compare(
        left=_type_of(a_bind), ops=[ast.Is(), ast.Is()], comparators=[_type_of(b_bind), c.code_constant(int)]
    )
    return ast.IfExp(test=test, body=body, orelse=slow(b_use))


@inline("+", "-", "*")
def _arith(c: Compiler, args: list[Result], form: ListF) -> Result | None:
    if len(args) != 2 or any(r.stmts for r in args):
        return None
    head = form.items[0]
    if c.meter and head.name == "*":  # type: ignore[union-attr]
        return None  # the metered variant multiplies through core ``*``, which bounds the integers it builds
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
        [], ast.IfExp(test=_not_int(c, bind), body=slow, orelse=ast.BinOp(left=use, op=op, right=const(1)))
    )


def _eq_expr(c: Compiler, a: ast.expr, b: ast.expr) -> ast.expr:
    """Inline ``=`` against a constant; general equality goes to the core function."""
    if isinstance(a, ast.Constant) and isinstance(b, ast.Constant):
        return ast.Call(func=c.core("="), args=[a, b], keywords=[])
    if isinstance(a, ast.Constant):
        a, b = b, a
    if type(c.object_of(b)) is Keyword:
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
    if type(c.object_of(key)) is not Keyword:
        return None
    default = args[2].expr if len(args) == 3 else const(None)
    return Result([], c.lookup_expr(args[0].expr, key, default))
