"""Special forms, one function each, registered with their argument shape.

``def defn fn let if do and or quote call effects``. Destructuring (vector ``[a b & r :as v]`` and map
``{:keys [a b] :or {a 0} :as m}``, ``{x :x}``) is shared by ``let`` and function parameters.
"""

from __future__ import annotations

import ast
from typing import Any

import msgspec

from streamrt.lang.compiler import (
    Compiler,
    Result,
    Scope,
    const,
    is_simple,
    name,
    special,
    store,
)
from streamrt.lang.effects import declaration_labels
from streamrt.lang.forms import Form, Kw, ListF, Lit, MapF, Sym, VecF, form_str, kind_name
from streamrt.lang.literals import quote
from streamrt.lang.meter import is_leaf, metered_body
from streamrt.lang.positions import locate
from streamrt.lang.recur import mentions_recur, recur_as_loop
from streamrt.lang.shape import result_shape
from streamrt.values import Keyword

__all__ = ["bind", "compile_body", "compile_fn", "def_of", "function_def"]

_KEYS = Keyword("keys")
_STRS = Keyword("strs")
_OR = Keyword("or")
_AS = Keyword("as")


# --- helpers --------------------------------------------------------------------------------------------------


def compile_body(c: Compiler, body: list[Form], scope: Scope, pos: Any) -> Result:
    """Compile forms in order; the value is the last one's (nil when empty)."""
    if not body:
        return Result([], locate(const(None), pos))
    stmts: list[ast.stmt] = []
    for form in body[:-1]:
        r = c.compile(form, scope)
        stmts.extend(r.stmts)
        if not is_simple(r.expr):
            stmts.append(locate(ast.Expr(r.expr), form.pos))
    last = c.compile(body[-1], scope)
    return Result(stmts + last.stmts, last.expr, last.is_bool)


def _temp_for(c: Compiler, value: ast.expr, stmts: list[ast.stmt], pos: Any) -> ast.expr:
    if isinstance(value, ast.Name):
        return value
    tmp = c.fresh()
    stmts.append(locate(ast.Assign(targets=[store(tmp)], value=value), pos))
    return name(tmp)


def _map_get(target: ast.expr, key: ast.expr, default: ast.expr) -> ast.expr:
    fast = ast.Call(
        func=ast.Attribute(value=target, attr="get", ctx=ast.Load()), args=[key, default], keywords=[]
    )
    slow = ast.Call(func=name("_d_get"), args=[target, key, default], keywords=[])
    test = ast.Compare(
        left=ast.Call(func=name("_type"), args=[target], keywords=[]),
        ops=[ast.Is()],
        comparators=[name("_dict")],
    )
    return ast.IfExp(test=test, body=fast, orelse=slow)


def bind(c: Compiler, pattern: Form, value: ast.expr, scope: Scope, stmts: list[ast.stmt]) -> None:
    """Bind ``pattern`` to ``value``, appending assignments to ``stmts`` and names to ``scope``."""
    if isinstance(pattern, Sym):
        c.check_bindable(pattern)
        if pattern.name == "&":
            raise c.fail("'&' can only be used in a vector binding or parameter list", pattern.pos)
        pyname = c.local_name(pattern.name)
        stmts.append(locate(ast.Assign(targets=[store(pyname)], value=value), pattern.pos))
        scope.names[pattern.name] = pyname
    elif isinstance(pattern, VecF):
        _bind_vector(c, pattern, value, scope, stmts)
    elif isinstance(pattern, MapF):
        _bind_map(c, pattern, value, scope, stmts)
    else:
        raise c.fail(
            f"cannot bind to {form_str(pattern)[:40]}: expected a symbol, a vector or a map pattern, "
            f"got {kind_name(pattern)}",
            pattern.pos,
        )


def _bind_vector(c: Compiler, pattern: VecF, value: ast.expr, scope: Scope, stmts: list[ast.stmt]) -> None:
    target = _temp_for(c, value, stmts, pattern.pos)
    items = pattern.items
    i = index = 0
    while i < len(items):
        p = items[i]
        if isinstance(p, Sym) and p.name == "&":
            if i + 1 >= len(items):
                raise c.fail("'&' must be followed by a binding for the rest", p.pos)
            rest = ast.Call(func=name("_d_rest"), args=[target, const(index)], keywords=[])
            bind(c, items[i + 1], rest, scope, stmts)
            i += 2
            continue
        if isinstance(p, Kw) and p.value is _AS:
            if i + 1 >= len(items) or not isinstance(items[i + 1], Sym):
                raise c.fail(":as must be followed by a symbol", p.pos)
            bind(c, items[i + 1], target, scope, stmts)
            i += 2
            continue
        nth = ast.Call(func=name("_d_nth"), args=[target, const(index)], keywords=[])
        bind(c, p, nth, scope, stmts)
        index += 1
        i += 1


def _bind_map(c: Compiler, pattern: MapF, value: ast.expr, scope: Scope, stmts: list[ast.stmt]) -> None:
    target = _temp_for(c, value, stmts, pattern.pos)
    defaults: dict[str, Form] = {}
    for key, val in pattern.pairs():
        if isinstance(key, Kw) and key.value is _OR:
            if not isinstance(val, MapF):
                raise c.fail(f":or takes a map of defaults, got {kind_name(val)}", val.pos)
            for dk, dv in val.pairs():
                if not isinstance(dk, Sym):
                    raise c.fail(f":or keys must be symbols, got {kind_name(dk)}", dk.pos)
                defaults[dk.name] = dv

    def default_for(sym: Sym) -> ast.expr:
        form = defaults.get(sym.name)
        if form is None:
            return const(None)
        r = c.compile(form, scope)
        if r.stmts:
            raise c.fail(":or defaults must be simple expressions", form.pos)
        return r.expr

    for key, val in pattern.pairs():
        if isinstance(key, Kw) and key.value in (_KEYS, _STRS):
            if not isinstance(val, VecF):
                raise c.fail(f"{form_str(key)} takes a vector of symbols, got {kind_name(val)}", val.pos)
            for item in val.items:
                if isinstance(item, Kw):
                    item = Sym(item.value.name, item.pos)
                if not isinstance(item, Sym):
                    raise c.fail(f"{form_str(key)} takes symbols, got {kind_name(item)}", item.pos)
                lookup_key = c.keyword(Keyword(item.name)) if key.value is _KEYS else const(item.name)
                bind(c, item, _map_get(target, lookup_key, default_for(item)), scope, stmts)
        elif isinstance(key, Kw) and key.value is _AS:
            if not isinstance(val, Sym):
                raise c.fail(f":as must be followed by a symbol, got {kind_name(val)}", val.pos)
            bind(c, val, target, scope, stmts)
        elif isinstance(key, Kw) and key.value is _OR:
            continue
        elif isinstance(key, Sym | VecF | MapF):
            key_result = c.compile(val, scope)
            if key_result.stmts:
                raise c.fail("a map pattern key must be a simple expression", val.pos)
            default = default_for(key) if isinstance(key, Sym) else const(None)
            bind(c, key, _map_get(target, key_result.expr, default), scope, stmts)
        else:
            raise c.fail(
                f"unexpected {form_str(key)[:40]} in a map pattern (expected :keys, :strs, :or, :as or "
                "a binding form)",
                key.pos,
            )


class _Fn(msgspec.Struct):
    """A function's compiled parts: its arguments, destructuring statements and body."""

    args: ast.arguments
    pre: list[ast.stmt]
    body: Result


def compile_fn(
    c: Compiler,
    params: VecF,
    body: list[Form],
    scope: Scope,
    pos: Any,
    self_name: Sym | None = None,
    pyname: str | None = None,
    *,
    recur_target: Any = None,
) -> _Fn:
    """Bind the parameters (destructuring into ``pre``) and compile the body, once.

    A body that ``recur``\\ s becomes a loop over the parameters (:mod:`streamrt.lang.control`); ``recur_target`` is
    for a loop's own round function, whose ``recur`` goes back to that loop.
    """
    if recur_target is None and mentions_recur(body):
        params, loop = recur_as_loop(params, body, pos)
        body = [loop]
    fscope = scope.child(fn=True)
    if self_name is not None and pyname is not None:
        fscope.names[self_name.name] = pyname
    args: list[ast.arg] = []
    vararg: ast.arg | None = None
    pre: list[ast.stmt] = []
    items = params.items
    i = 0
    while i < len(items):
        p = items[i]
        if isinstance(p, Sym) and p.name == "&":
            if i != len(items) - 2:
                raise c.fail("'&' must be followed by exactly one parameter", p.pos)
            raw = c.fresh("_r")
            vararg = ast.arg(arg=raw)
            rest_value = ast.IfExp(test=name(raw), body=name(raw), orelse=const(None))
            bind(c, items[i + 1], rest_value, fscope, pre)
            break
        if isinstance(p, Sym):
            c.check_bindable(p)
            local = c.local_name(p.name)
            fscope.names[p.name] = local
            args.append(locate(ast.arg(arg=local), p.pos))
        else:
            tmp = c.fresh("_p")
            args.append(locate(ast.arg(arg=tmp), p.pos))
            bind(c, p, name(tmp), fscope, pre)
        i += 1
    arguments = ast.arguments(
        posonlyargs=[], args=args, vararg=vararg, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]
    )
    saved, c.recur = c.recur, recur_target
    try:
        return _Fn(arguments, pre, compile_body(c, body, fscope, pos))
    finally:
        c.recur = saved


def def_of(pyname: str, fn: _Fn, pos: Any, meter: Compiler | None = None) -> ast.FunctionDef:
    """A Python ``def`` for compiled parts; failures inside are located in the script. ``meter``: the compiler of a
    metered variant, whose functions get the meter's prologue (a leaf's when :func:`is_leaf`)."""
    inner: list[ast.stmt] = [*fn.pre, *fn.body.stmts, locate(ast.Return(value=fn.body.expr), pos)]
    handler = ast.ExceptHandler(
        type=name("_Exception"),
        name="_e",
        body=[ast.Raise(exc=ast.Call(func=name("_rt_error"), args=[name("_e")], keywords=[]), cause=None)],
    )
    guarded = ast.Try(body=inner, handlers=[handler], orelse=[], finalbody=[])
    body: list[ast.stmt] = [guarded]
    if meter is not None:
        body = metered_body(guarded, leaf=is_leaf(inner, meter.object_of))
    fdef = ast.FunctionDef(
        name=pyname, args=fn.args, body=body, decorator_list=[], returns=None, type_comment=None
    )
    return locate(fdef, pos)  # type: ignore[no-any-return]


def function_def(
    c: Compiler,
    pyname: str,
    params: VecF,
    body: list[Form],
    scope: Scope,
    pos: Any,
    self_name: Sym | None = None,
) -> ast.FunctionDef:
    """A Python ``def`` for a language function."""
    return def_of(
        pyname, compile_fn(c, params, body, scope, pos, self_name, pyname), pos, c if c.meter else None
    )


# --- special forms --------------------------------------------------------------------------------------------


@special("def", "name:symbol value")
def _def(c: Compiler, form: ListF, a: dict[str, Any], scope: Scope) -> Result:
    gdef = c.globals[a["name"].name]
    r = c.compile(a["value"], scope)
    assign = locate(ast.Assign(targets=[store(gdef.pyname)], value=r.expr), form.pos)
    return Result([*r.stmts, assign], const(None))


@special("defn", "name:symbol doc:string? params:vector body*")
def _defn(c: Compiler, form: ListF, a: dict[str, Any], scope: Scope) -> Result:
    gdef = c.globals[a["name"].name]
    fdef = function_def(c, gdef.pyname, a["params"], a["body"], scope, form.pos)
    gdef.result = result_shape(a["body"])
    return Result([fdef], const(None))


@special("fn", "name:symbol? params:vector body*")
def _fn(c: Compiler, form: ListF, a: dict[str, Any], scope: Scope) -> Result:
    params: VecF = a["params"]
    c.params_arity(params)
    self_name: Sym | None = a["name"]
    if self_name is not None:
        c.check_bindable(self_name)
    pyname = c.local_name(self_name.name if self_name else "fn")
    fn = compile_fn(c, params, a["body"], scope, form.pos, self_name, pyname)
    if self_name is None and fn.args.vararg is None and not fn.pre and not fn.body.stmts and not c.meter:
        # a plain expression body needs no statements: a lambda, cheaper to create than a def
        return Result([], locate(ast.Lambda(args=fn.args, body=fn.body.expr), form.pos))
    return Result([def_of(pyname, fn, form.pos, c if c.meter else None)], locate(name(pyname), form.pos))


@special("let", "bindings:vector body*")
def _let(c: Compiler, form: ListF, a: dict[str, Any], scope: Scope) -> Result:
    bindings: VecF = a["bindings"]
    if len(bindings.items) % 2:
        raise c.fail("let: every binding needs a value; this one has none", bindings.items[-1].pos)
    lscope = scope.child()
    stmts: list[ast.stmt] = []
    for pattern, value_form in zip(bindings.items[0::2], bindings.items[1::2], strict=True):
        r = c.compile(value_form, lscope)
        stmts.extend(r.stmts)
        bind(c, pattern, r.expr, lscope, stmts)
    body = compile_body(c, a["body"], lscope, form.pos)
    return Result(stmts + body.stmts, body.expr, body.is_bool)


@special("if", "test then else?")
def _if(c: Compiler, form: ListF, a: dict[str, Any], scope: Scope) -> Result:
    test = c.compile(a["test"], scope)
    cond = c.truthy(test)
    then = c.compile(a["then"], scope)
    other = c.compile(a["else"], scope) if a["else"] is not None else Result([], const(None))
    if isinstance(cond, ast.Constant):
        chosen = then if cond.value else other
        return Result(test.stmts + chosen.stmts, chosen.expr, chosen.is_bool)
    is_bool = then.is_bool and other.is_bool
    if not then.stmts and not other.stmts:
        return Result(
            test.stmts, locate(ast.IfExp(test=cond, body=then.expr, orelse=other.expr), form.pos), is_bool
        )
    tmp = c.fresh()
    node = ast.If(
        test=cond,
        body=[*then.stmts, ast.Assign(targets=[store(tmp)], value=then.expr)],
        orelse=[*other.stmts, ast.Assign(targets=[store(tmp)], value=other.expr)],
    )
    return Result([*test.stmts, locate(node, form.pos)], name(tmp), is_bool)


@special("do", "body*")
def _do(c: Compiler, form: ListF, a: dict[str, Any], scope: Scope) -> Result:
    return compile_body(c, a["body"], scope, form.pos)


def _test_and_value(c: Compiler, r: Result) -> tuple[ast.expr, ast.expr]:
    if isinstance(r.expr, ast.Constant):
        return const(r.expr.value is not None and r.expr.value is not False), r.expr
    bind_expr, use = c.bind_once(r.expr)
    if r.is_bool:
        return bind_expr, use
    test = ast.BoolOp(
        op=ast.And(),
        values=[
            ast.Compare(left=bind_expr, ops=[ast.IsNot()], comparators=[const(None)]),
            ast.Compare(left=use, ops=[ast.IsNot()], comparators=[const(False)]),
        ],
    )
    return test, use


def _logic(c: Compiler, form: ListF, forms: list[Form], scope: Scope, is_and: bool) -> Result:
    if not forms:
        return Result([], const(True if is_and else None), is_and)
    results = [c.compile(f, scope) for f in forms]
    is_bool = all(r.is_bool for r in results)
    if not any(r.stmts for r in results[1:]):
        acc = results[-1].expr
        for r in reversed(results[:-1]):
            test, use = _test_and_value(c, r)
            acc = (
                ast.IfExp(test=test, body=acc, orelse=use)
                if is_and
                else ast.IfExp(test=test, body=use, orelse=acc)
            )
        return Result(results[0].stmts, locate(acc, form.pos), is_bool)
    tmp = c.fresh()
    stmts: list[ast.stmt] = []
    block = stmts
    for i, r in enumerate(results):
        block.extend(r.stmts)
        block.append(ast.Assign(targets=[store(tmp)], value=r.expr))
        if i < len(results) - 1:
            test = c.truthy(Result([], name(tmp)))
            nxt: list[ast.stmt] = []
            if is_and:
                block.append(ast.If(test=test, body=nxt, orelse=[]))
            else:
                block.append(ast.If(test=ast.UnaryOp(op=ast.Not(), operand=test), body=nxt, orelse=[]))
            block = nxt
    return Result([locate(s, form.pos) for s in stmts], name(tmp), is_bool)


@special("and", "forms*")
def _and(c: Compiler, form: ListF, a: dict[str, Any], scope: Scope) -> Result:
    return _logic(c, form, a["forms"], scope, is_and=True)


@special("or", "forms*")
def _or(c: Compiler, form: ListF, a: dict[str, Any], scope: Scope) -> Result:
    return _logic(c, form, a["forms"], scope, is_and=False)


@special("quote", "form")
def _quote(c: Compiler, form: ListF, a: dict[str, Any], scope: Scope) -> Result:
    return Result([], locate(quote(c, a["form"]), form.pos))


_START = Keyword("mcp.stream.start")


def _check_stream_start(c: Compiler, args: MapF) -> None:
    """Catch a misspelled or mis-shaped processor before the script runs."""
    for key, value in args.pairs():
        if not isinstance(key, Kw) or key.value.qualified not in ("processor", "on-end"):
            continue
        if not (isinstance(value, Lit) and isinstance(value.value, str)):
            continue
        fname = value.value
        gdef = c.globals.get(fname)
        what = "processor" if key.value.qualified == "processor" else ":on-end function"
        if gdef is None:
            known = sorted(n for n, g in c.globals.items() if g.arity is not None)
            raise c.fail(
                f"mcp-stream: no function named '{fname}' for the {what} (defined functions: "
                f"{', '.join(known) or 'none'})",
                value.pos,
            )
        if gdef.arity is None:
            continue
        lo, hi = gdef.arity
        allowed = (2, 3) if what == "processor" else (1, 2)
        if not any(lo <= n and (hi is None or n <= hi) for n in allowed):
            shape = (
                "(state chunk) or (state chunk meta)" if what == "processor" else "(state) or (state meta)"
            )
            raise c.fail(
                f"mcp-stream: the {what} '{fname}' must take {shape}; it takes {lo} parameters", value.pos
            )


@special("effects", "labels*")
def _effects(c: Compiler, form: ListF, a: dict[str, Any], scope: Scope) -> Result:
    """``(effects :network :log)``: the effects the script needs; read by :mod:`streamrt.lang.effects`."""
    if scope.in_fn or scope.parent is not None:
        raise c.fail("effects is only allowed at the top level of a script", form.pos)
    declaration_labels(a["labels"])
    return Result([], const(None))


@special("call", "capability:keyword args?")
def _call(c: Compiler, form: ListF, a: dict[str, Any], scope: Scope) -> Result:
    cap: Kw = a["capability"]
    args_form: Form | None = a["args"]
    if cap.value is _START and isinstance(args_form, MapF):
        _check_stream_start(c, args_form)
    args = c.compile(args_form, scope) if args_form is not None else Result([], ast.Dict(keys=[], values=[]))
    call = ast.Call(
        func=name("_rt_call"),
        args=[c.keyword(cap.value), args.expr, const(form.pos.line), const(form.pos.column)],
        keywords=[],
    )
    return Result(args.stmts, locate(call, form.pos))
