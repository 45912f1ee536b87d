"""Fast paths for the hottest core functions, inlined as type-guarded Python operators.

Theory of operation. ``(inc x)`` becomes ``c_inc(x) if (t := type(x)) is not int and t is not float else x + 1``:
arithmetic on numbers runs as one bytecode, and anything else (booleans, nil, strings) falls back to the core
function, which has the exact semantics and the error messages. Guards never change meaning, only speed; tests
compare inlined and called results. The same holds for ``+ - * < <= > >= max min`` on two numbers (exact ``int``
or ``float``: ``bool`` is not a number here), ``/`` on a float and a non-zero float or float-sized int (two ints
keep their exact quotient), and ``get`` / ``assoc`` on a plain ``dict`` with plain keys (``assoc`` as statements:
``_t = {**m}; _t[k] = v``).

The guard's shape is chosen by counting what the interpreter executes, since it runs on every call:

- the generic call sits in the *if* branch and the fast operation in the *else* branch, so the fast path falls
  through to the end of the expression with no extra jump;
- two unknown operands get two nested guards, the second operand repeated in the outer fallback where it has not
  been evaluated yet, rather than a chained ``is ... is`` (which costs stack shuffling on every call). The
  repetition is only for small operands (a name, a constant, a keyword lookup); a larger one keeps the chain so
  generated code stays linear in the size of the script;
- ints are tested before floats, so integer code pays nothing for the float fast path;
- the guards of ``/``, ``get`` and ``assoc`` first evaluate each operand that is not a name or constant, in order, with a
  test that always holds (``(t := x) is not _nothing``), then checks types: a failed check can then stop the test
  anywhere and the core call still gets every operand, each evaluated once.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable
from typing import Any

from streamrt.lang.compiler import Compiler, Result, const, inline, is_simple, name, store
from streamrt.lang.forms import ListF, Sym
from streamrt.lang.meter import WATCH
from streamrt.lang.positions import locate
from streamrt.lang.rt import NOTHING
from streamrt.values import Keyword, LList

__all__: list[str] = []

_BINOPS: dict[str, ast.operator] = {"+": ast.Add(), "-": ast.Sub(), "*": ast.Mult()}
_CMPOPS: dict[str, ast.cmpop] = {"<": ast.Lt(), "<=": ast.LtE(), ">": ast.Gt(), ">=": ast.GtE()}
_EXTREMES: dict[str, ast.cmpop] = {"max": ast.Gt(), "min": ast.Lt()}
"""``(max a b)`` is ``b if b > a else a``, as the core function's loop keeps the first of equal (or NaN) values."""


def _type_of(expr: ast.expr) -> ast.expr:
    return ast.Call(func=name("_type"), args=[expr], keywords=[])


def _num_guard(
    c: Compiler,
    bind: ast.expr,
    use: ast.expr,
    slow: ast.expr,
    fast: ast.expr,
    if_float: ast.expr | None = None,
) -> ast.expr:
    """``fast`` when the operand is an exact int or float (``if_float``, if given, for a float), else ``slow``
    (booleans are not numbers).

    ``slow if type(x) is not int else fast`` for ints, as before floats had a fast path; floats take one more test
    in the *if* branch, where ``fast`` is repeated. The operand is bound in the outer test, as deep in the tree as
    before, so a script's nesting limit still fits Python's compiler."""
    floats = ast.IfExp(test=_type_is_not(c, use, float), body=slow, orelse=if_float or copy.deepcopy(fast))
    return ast.IfExp(test=_type_is_not(c, bind, int), body=floats, orelse=fast)


def _type_is_not(c: Compiler, expr: ast.expr, kind: type) -> ast.expr:
    return ast.Compare(left=_type_of(expr), ops=[ast.IsNot()], comparators=[c.code_constant(kind)])


def _const_num(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Constant) and type(expr.value) in (int, float)


def _const_float(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Constant) and type(expr.value) is float


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


def _all(*tests: ast.expr) -> ast.expr:
    return tests[0] if len(tests) == 1 else ast.BoolOp(op=ast.And(), values=list(tests))


def _any(*tests: ast.expr) -> ast.expr:
    return ast.BoolOp(op=ast.Or(), values=list(tests))


def _is(c: Compiler, expr: ast.expr, kind: type) -> ast.expr:
    """``type(expr) is kind``."""
    return ast.Compare(left=_type_of(expr), ops=[ast.Is()], comparators=[c.code_constant(kind)])


def _operands(c: Compiler, exprs: list[ast.expr]) -> tuple[list[ast.expr], list[ast.expr]]:
    """Tests that evaluate each operand once, in order, and always hold; then how the guard and body use them.

    A fast path's guard checks its operands' types one by one and may stop at the first that fails, so every
    operand with an effect is evaluated by these tests first, before any check; names and constants are read where
    they are used.
    """
    tests: list[ast.expr] = []
    uses: list[ast.expr] = []
    for expr in exprs:
        bind, use = c.bind_once(expr)
        if bind is not use:
            tests.append(ast.Compare(left=bind, ops=[ast.IsNot()], comparators=[c.code_constant(NOTHING)]))
        uses.append(use)
    return tests, uses


Fast = Callable[[ast.expr, ast.expr], ast.expr]
"""The fast operation on two operands known to be numbers (exact int or float)."""


def _operator(fast: ast.operator | ast.cmpop) -> Fast:
    if isinstance(fast, ast.cmpop):
        return lambda a, b: ast.Compare(left=a, ops=[fast], comparators=[b])
    return lambda a, b: ast.BinOp(left=a, op=fast, right=b)


_FLOAT_SIZED = 1e308
"""An int inside ``(-1e308, 1e308)`` converts to a float; beyond about 1.8e308 Python's ``int + float`` raises
``OverflowError``, which the core function reports (it is called for any int outside, so the bound need not be
exact). A float bound keeps ``streamrt compile --python`` readable; an int compares with it exactly."""


def _guarded(
    c: Compiler, lang_name: str, a: ast.expr, b: ast.expr, fast: Fast, converts: bool = False
) -> ast.expr:
    """``fast(a, b)`` when both are numbers, else the core function; each operand evaluated once, in order.

    ``converts``: an int meeting a float is converted to one (``+ - *``, not the exact comparisons), so there the
    int must be float-sized, or the core function reports it."""
    a_bind, a_use = c.bind_once(a)
    b_bind, b_use = c.bind_once(b)

    def slow(second: ast.expr) -> ast.expr:
        return ast.Call(func=c.core(lang_name), args=[a_use, second], keywords=[])

    body = fast(a_use, b_use)

    def mixed(int_operand: ast.expr) -> ast.expr:
        """The body for ``int_operand``, an int, and a float."""
        if not converts:
            return copy.deepcopy(body)
        if isinstance(int_operand, ast.Constant) and type(int_operand.value) is int:
            return copy.deepcopy(body) if abs(int_operand.value) < _FLOAT_SIZED else slow(b_use)
        sized = ast.Compare(
            left=const(-_FLOAT_SIZED),
            ops=[ast.Lt(), ast.Lt()],
            comparators=[int_operand, const(_FLOAT_SIZED)],
        )
        return ast.IfExp(
            test=ast.UnaryOp(op=ast.Not(), operand=sized), body=slow(b_use), orelse=copy.deepcopy(body)
        )

    if _const_num(a) and _const_num(b):
        if _const_float(a) is not _const_float(b):
            return mixed(b if _const_float(a) else a)
        return body
    if _const_num(b):
        if _const_float(b):
            return _num_guard(c, a_bind, a_use, slow(b_use), mixed(a_use), body)
        return _num_guard(c, a_bind, a_use, slow(b_use), body, mixed(b_use))
    if _const_num(a):
        if _const_float(a):
            return _num_guard(c, b_bind, b_use, slow(b_use), mixed(b_use), body)
        return _num_guard(c, b_bind, b_use, slow(b_use), body, mixed(a_use))
    if b_bind is b_use or _small(b):
        # a's int branch and float branch each test b: an int meets a float where the types differ
        ints = _num_guard(c, b_bind, b_use, slow(b_use), body, mixed(a_use))
        floats = _num_guard(c, copy.deepcopy(b_bind), b_use, slow(b_use), mixed(b_use), copy.deepcopy(body))
        return _num_guard(c, a_bind, a_use, slow(b), ints, floats)
    # both operands are evaluated before the first comparison can short-circuit; mixed int and float take the call
    ints = ast.Compare(
        left=_type_of(a_bind), ops=[ast.Is(), ast.Is()], comparators=[_type_of(b_bind), c.code_constant(int)]
    )
    floats = ast.Compare(
        left=_type_of(a_use), ops=[ast.Is(), ast.Is()], comparators=[_type_of(b_use), c.code_constant(float)]
    )
    return ast.IfExp(
        test=ints, body=body, orelse=ast.IfExp(test=floats, body=copy.deepcopy(body), orelse=slow(b_use))
    )


def _head(form: ListF) -> str:
    head = form.items[0]
    assert isinstance(head, Sym)
    return head.name


@inline("+", "-", "*")
def _arith(c: Compiler, args: list[Result], form: ListF) -> Result | None:
    if len(args) != 2 or any(r.stmts for r in args):
        return None
    head = _head(form)
    if c.meter and head == "*":
        return None  # the metered variant multiplies through core ``*``, which bounds the integers it builds
    return Result([], _guarded(c, head, args[0].expr, args[1].expr, _operator(_BINOPS[head]), converts=True))


@inline("<", "<=", ">", ">=")
def _compare(c: Compiler, args: list[Result], form: ListF) -> Result | None:
    if len(args) != 2 or any(r.stmts for r in args):
        return None
    head = _head(form)
    return Result([], _guarded(c, head, args[0].expr, args[1].expr, _operator(_CMPOPS[head])), True)


@inline("max", "min")
def _extreme(c: Compiler, args: list[Result], form: ListF) -> Result | None:
    if len(args) != 2 or any(r.stmts for r in args):
        return None
    head = _head(form)
    op = _EXTREMES[head]

    def pick(a: ast.expr, b: ast.expr) -> ast.expr:
        return ast.IfExp(test=ast.Compare(left=b, ops=[op], comparators=[a]), body=b, orelse=a)

    return Result([], _guarded(c, head, args[0].expr, args[1].expr, pick))


_FLOAT_LIMIT = 2**53
"""An int divisor below this in size converts to a float exactly (a huge one raises ``OverflowError``, which core
``/`` reports)."""


@inline("/")
def _divide(c: Compiler, args: list[Result], form: ListF) -> Result | None:
    """A float divided by a non-zero float or a float-sized int; anything else (two ints: exact results) calls ``/``."""
    if len(args) != 2 or any(r.stmts for r in args):
        return None
    evaluate, (a, b) = _operands(c, [r.expr for r in args])
    checks = [_is(c, a, float)]
    divisor: Any = b.value if isinstance(b, ast.Constant) else None
    if not (type(divisor) in (int, float) and divisor and abs(divisor) < _FLOAT_LIMIT):
        tmp = c.fresh()
        float_sized = ast.Compare(
            left=const(-_FLOAT_LIMIT), ops=[ast.Lt(), ast.Lt()], comparators=[b, const(_FLOAT_LIMIT)]
        )
        is_int = ast.Compare(left=name(tmp), ops=[ast.Is()], comparators=[c.code_constant(int)])
        kind = ast.NamedExpr(target=store(tmp), value=_type_of(b))
        is_float = ast.Compare(left=kind, ops=[ast.Is()], comparators=[c.code_constant(float)])
        checks += [_any(is_float, _all(is_int, float_sized)), b]
    body = ast.BinOp(left=a, op=ast.Div(), right=b)
    slow = ast.Call(func=c.core("/"), args=[a, b], keywords=[])
    return Result([], ast.IfExp(test=_all(*evaluate, *checks), body=body, orelse=slow))


@inline("inc", "dec")
def _step(c: Compiler, args: list[Result], form: ListF) -> Result | None:
    (arg,) = args
    if arg.stmts:
        return None
    head = _head(form)
    op = ast.Add() if head == "inc" else ast.Sub()
    bind, use = c.bind_once(arg.expr)
    slow = ast.Call(func=c.core(head), args=[use], keywords=[])
    return Result([], _num_guard(c, bind, use, slow, ast.BinOp(left=use, op=op, right=const(1))))


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


_TYPE_TESTS: dict[str, tuple[type, ...]] = {
    "number?": (int, float),
    "int?": (int,),
    "float?": (float,),
    "double?": (float,),
    "string?": (str,),
    "keyword?": (Keyword,),
    "vector?": (tuple,),
    "list?": (LList,),
}
"""Predicates that are an exact type test (``bool`` is not an ``int`` to them), inlined as ``type(x) is T``."""


@inline(*_TYPE_TESTS)
def _type_test(c: Compiler, args: list[Result], form: ListF) -> Result | None:
    (arg,) = args
    if arg.stmts:
        return None
    kinds = _TYPE_TESTS[_head(form)]
    if len(kinds) == 1:
        return Result([], _is(c, arg.expr, kinds[0]), True)
    bind, use = c.bind_once(arg.expr)
    return Result([], _any(_is(c, bind, kinds[0]), *(_is(c, use, kind) for kind in kinds[1:])), True)


_PLAIN_KEYS = (str, Keyword, int)
"""Key types a plain dict stores and finds as core ``get`` and ``assoc`` do: hashable, never nested, no check."""


def _plain_key(c: Compiler, key: ast.expr) -> list[ast.expr]:
    """The tests that ``key`` (a name or a constant) is of a plain key type: none for a keyword or string constant."""
    if type(c.object_of(key)) is Keyword or (isinstance(key, ast.Constant) and type(key.value) in (str, int)):
        return []
    return [_any(*(_is(c, key, kind) for kind in _PLAIN_KEYS))]


@inline("get")
def _get(c: Compiler, args: list[Result], form: ListF) -> Result | None:
    """A keyword key follows ``(:k m)``; any other key on a plain dict is ``dict.get`` when the key is plain."""
    if any(r.stmts for r in args):
        return None
    key = args[1].expr
    default = args[2].expr if len(args) == 3 else const(None)
    if type(c.object_of(key)) is Keyword:
        return Result([], c.lookup_expr(args[0].expr, key, default))
    evaluate, (m, key, default) = _operands(c, [args[0].expr, key, default])
    fast = ast.Call(func=ast.Attribute(value=m, attr="get", ctx=ast.Load()), args=[key, default], keywords=[])
    slow = ast.Call(func=c.core("get"), args=[m, key, default], keywords=[])
    test = _all(*evaluate, _is(c, m, dict), *_plain_key(c, key))
    return Result([], ast.IfExp(test=test, body=fast, orelse=slow))


_MAX_PAIRS = 4
"""Most key/value pairs an inlined ``assoc`` takes; a longer one calls the core function."""


@inline("assoc")
def _assoc(c: Compiler, args: list[Result], form: ListF) -> Result | None:
    """A copy of a plain dict with plain keys, set key by key; in the metered variant under ``WATCH`` keys (where core
    ``assoc`` checks a larger result against ``max-size``).

    Statements, not ``{**m, k: v}``: that expression builds a one-pair dict and merges it into the copy, where
    ``_t = {**m}; _t[k] = v`` stores straight into the copy (a 24-key map: about 2,300 -> 1,600 instructions). Each
    operand is evaluated once, in order, into a temporary unless it is a name or a constant."""
    if len(args) % 2 == 0 or len(args) > 1 + 2 * _MAX_PAIRS:
        return None
    stmts, exprs = c.sequence(args)
    operands: list[ast.expr] = []
    for expr in exprs:
        if not is_simple(expr):
            tmp = c.fresh()
            stmts.append(locate(ast.Assign(targets=[store(tmp)], value=expr), form.pos))
            expr = name(tmp)
        operands.append(expr)
    m, *kvs = operands
    checks = [_is(c, m, dict)]
    for key in kvs[0::2]:
        checks += _plain_key(c, key)
    if c.meter:
        size = ast.Call(func=c.code_constant(len), args=[m], keywords=[])
        checks.append(ast.Compare(left=size, ops=[ast.Lt()], comparators=[const(WATCH - len(kvs) // 2)]))
    out = c.fresh()
    fast: list[ast.stmt] = [ast.Assign(targets=[store(out)], value=ast.Dict(keys=[None], values=[m]))]
    for key, value in zip(kvs[0::2], kvs[1::2], strict=True):
        target = ast.Subscript(value=name(out), slice=key, ctx=ast.Store())
        fast.append(ast.Assign(targets=[target], value=value))
    slow = ast.Call(func=c.core("assoc"), args=[m, *kvs], keywords=[])
    node = ast.If(test=_all(*checks), body=fast, orelse=[ast.Assign(targets=[store(out)], value=slow)])
    stmts.append(locate(node, form.pos))
    return Result(stmts, name(out))
