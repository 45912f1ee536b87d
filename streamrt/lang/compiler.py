"""The compiler: forms -> Python AST -> one code object per script.

Theory of operation. Each form compiles to a :class:`Result`: the statements that must run first and one final
expression (hy's design). Most forms need no statements, so most processors become a single Python expression
inside a ``def``, which CPython runs at full speed. Every AST node gets the script line and column of the form it
came from and the code object gets the script's filename, so a failure can be located from the traceback alone
(:func:`streamrt.lang.rt.runtime_error`).

Names. User symbols never appear in generated code as written: globals become ``g_<mangled>``, locals
``l<n>_<mangled>`` (a fresh name per binding, so shadowing and closures need no care), core functions
``c_<mangled>``; runtime support names start with ``_``. Mangling is injective and yields
``[A-Za-z0-9_]`` only, and the script runs with empty ``__builtins__``, so no symbol or string can reach the host.

Resolution order for a symbol: local binding, script global (``def``/``defn``), core function. Anything else is a
compile error with a suggestion. Arity of core functions and of ``defn`` functions is checked at compile time.

Positions and code constants. AST nodes are marked with :func:`~streamrt.lang.positions.locate` as they are
built and the rest filled in once at the end (:mod:`streamrt.lang.positions`). Keywords and a few runtime objects
are constants of the code object itself, carried through ``compile()`` as placeholders
(:mod:`streamrt.lang.codeconsts`).
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from streamrt.errors import Pos, ScriptCompileError
from streamrt.lang import macros
from streamrt.lang.codeconsts import CodeConstants
from streamrt.lang.compiled import CompiledScript, GlobalDef
from streamrt.lang.core import CORE, core_name, script_names
from streamrt.lang.forms import Form, Kw, ListF, Lit, MapF, Sym, VecF, form_str, kind_name
from streamrt.lang.hints import suggest
from streamrt.lang.positions import fill_positions, locate
from streamrt.lang.rt import mangle
from streamrt.lang.shapes import Shape
from streamrt.values import Keyword, LList

__all__ = ["CompiledScript", "Compiler", "GlobalDef", "Result"]


class Result(msgspec.Struct):
    """Statements to run first, then an expression; ``is_bool`` when the expression is always a Python bool."""

    stmts: list[ast.stmt]
    expr: ast.expr
    is_bool: bool = False


class Scope(msgspec.Struct):
    """Local bindings; ``in_fn`` is true inside any function body."""

    parent: Scope | None
    names: dict[str, str] = msgspec.field(default_factory=dict)
    in_fn: bool = False

    def lookup(self, name: str) -> str | None:
        scope: Scope | None = self
        while scope is not None:
            found = scope.names.get(name)
            if found is not None:
                return found
            scope = scope.parent
        return None

    def child(self, *, fn: bool = False) -> Scope:
        return Scope(self, {}, self.in_fn or fn)


SpecialFn = Callable[["Compiler", ListF, dict[str, Any], Scope], Result]
SPECIALS: dict[str, tuple[Shape, SpecialFn]] = {}
InlineFn = Callable[["Compiler", list[Result], ListF], Result | None]
INLINE: dict[str, InlineFn] = {}
LITERALS: dict[type, Callable[[Compiler, Any, Scope], Result]] = {}
"""How a vector, map or set literal compiles, by form type (:mod:`streamrt.lang.literals`)."""


def special(name: str, spec: str) -> Callable[[SpecialFn], SpecialFn]:
    """Register a special form with its argument shape."""

    def register(fn: SpecialFn) -> SpecialFn:
        SPECIALS[name] = (Shape(name, spec), fn)
        return fn

    return register


def inline(*names: str) -> Callable[[InlineFn], InlineFn]:
    """Register a fast path for core functions; it may return None to fall back to a plain call."""

    def register(fn: InlineFn) -> InlineFn:
        for name in names:
            INLINE[name] = fn
        return fn

    return register


def name(pyname: str) -> ast.Name:
    return ast.Name(id=pyname, ctx=ast.Load())


def store(pyname: str) -> ast.Name:
    return ast.Name(id=pyname, ctx=ast.Store())


def const(value: Any) -> ast.Constant:
    return ast.Constant(value=value)


def is_simple(expr: ast.expr) -> bool:
    """An expression safe to evaluate twice: a name or a constant."""
    return isinstance(expr, ast.Name | ast.Constant)


class Compiler:
    """Compiles the top-level forms of one script."""

    def __init__(
        self,
        filename: str,
        *,
        meter: bool = False,
        known: Mapping[str, GlobalDef] | None = None,
        counter: int = 0,
    ) -> None:
        self.filename = filename
        self.meter = meter
        """Compile the metered variant: every function charges fuel and counts depth (:mod:`streamrt.lang.meter`)."""
        self.counter = counter
        self.constants: dict[str, Any] = {}
        self.code_constants = CodeConstants()
        """Objects the code object holds as constants (see :meth:`code_constant`)."""
        self.globals: dict[str, GlobalDef] = {
            n: msgspec.structs.replace(g, index=-1) for n, g in (known or {}).items()
        }
        """Script-level names: those of earlier compiles into the same namespace (a REPL's), then this one's."""
        self.current_index = 0
        self.recur: Any = None
        """Where a ``recur`` being compiled goes back to (a :class:`streamrt.lang.control.RecurTarget`), or None."""

    # --- names --------------------------------------------------------------------------------------------------

    def fresh(self, prefix: str = "_t") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def local_name(self, sym: str) -> str:
        self.counter += 1
        return f"l{self.counter}_{mangle(sym)}"

    def keyword(self, kw: Keyword) -> ast.Constant:
        return self.code_constant(kw)

    def code_constant(self, value: Any) -> ast.Constant:
        """``value`` as a constant of the code object (``LOAD_CONST``): a fresh placeholder node for each use."""
        return self.code_constants.node(value)

    def object_of(self, expr: ast.expr) -> Any:
        """The object a :meth:`code_constant` node stands for, or ``None``."""
        return self.code_constants.object_of(expr)

    def constant(self, value: Any) -> ast.Name:
        pyname = self.fresh("_q")
        self.constants[pyname] = value
        return name(pyname)

    def core(self, lang_name: str) -> ast.Name:
        pyname = "c_" + mangle(lang_name)
        self.constants[pyname] = CORE[lang_name].fn
        return name(pyname)

    def fail(self, message: str, pos: Pos) -> ScriptCompileError:
        return ScriptCompileError(message, pos)

    # --- module -------------------------------------------------------------------------------------------------

    def compile_module(self, forms: list[Form]) -> CompiledScript:
        expanded, module = self.build_module(forms)
        with warnings.catch_warnings():
            # CPython lints generated code ("is" with a literal, calling a constant); under -W error that would
            # escape as a SyntaxError. The code's meaning is right either way, and a user cannot act on it.
            warnings.simplefilter("ignore", SyntaxWarning)
            code = compile(module, self.filename, "exec", dont_inherit=True, optimize=0)
        code = self.code_constants.install(code)
        return CompiledScript(code, self.filename, self.constants, self.globals, expanded, self.counter)

    def build_module(self, forms: list[Form]) -> tuple[list[Form], ast.Module]:
        """The top-level forms with their macros expanded, and the Python module they compile to."""
        expanded = [macros.expand(f) if isinstance(f, ListF) and macros.is_macro(f) else f for f in forms]
        self._declare_globals(expanded)
        body: list[ast.stmt] = []
        scope = Scope(None)
        for index, form in enumerate(expanded):
            self.current_index = index
            result = self.compile(form, scope, toplevel=True)
            body.extend(result.stmts)
            if not is_simple(result.expr):
                body.append(locate(ast.Expr(result.expr), form.pos))
        module = ast.Module(body=body, type_ignores=[])
        fill_positions(module)
        return expanded, module

    def _declare_globals(self, forms: list[Form]) -> None:
        """First pass: every top-level def/defn name, so functions may call each other in any order.

        A name known from an earlier compile into the same namespace may be defined again (a REPL redefines);
        twice in one compile is an error.
        """
        declared: set[str] = set()
        for index, form in enumerate(forms):
            if not (isinstance(form, ListF) and form.items and isinstance(form.items[0], Sym)):
                continue
            head = form.items[0].name
            if head not in ("def", "defn"):
                continue
            shape, _ = SPECIALS[head]
            bound = shape.match(form)
            sym: Sym = bound["name"]
            self.check_bindable(sym)
            if sym.name in declared:
                prev = self.globals[sym.name]
                raise self.fail(f"'{sym.name}' is already defined at line {prev.pos.line}", sym.pos)
            declared.add(sym.name)
            gdef = GlobalDef(sym.name, "g_" + mangle(sym.name), sym.pos, index)
            if head == "defn":
                gdef.arity = self.params_arity(bound["params"])
                doc = bound.get("doc")
                gdef.doc = doc.value if isinstance(doc, Lit) else None
            self.globals[sym.name] = gdef

    def check_bindable(self, sym: Sym) -> None:
        if sym.name in SPECIALS or sym.name in macros.MACROS:
            raise self.fail(f"cannot bind '{sym.name}': it is a special form or macro", sym.pos)
        if "/" in sym.name and sym.name != "/":
            raise self.fail(f"cannot bind a namespaced symbol '{sym.name}'", sym.pos)

    def params_arity(self, params: VecF) -> tuple[int, int | None]:
        items = params.items
        fixed = 0
        for i, p in enumerate(items):
            if isinstance(p, Sym) and p.name == "&":
                if i != len(items) - 2:
                    raise self.fail("'&' must be followed by exactly one parameter", p.pos)
                return fixed, None
            fixed += 1
        return fixed, fixed

    # --- forms --------------------------------------------------------------------------------------------------

    def compile(self, form: Form, scope: Scope, toplevel: bool = False) -> Result:
        if isinstance(form, Lit):
            return Result([], locate(const(form.value), form.pos), isinstance(form.value, bool))
        if isinstance(form, Kw):
            return Result([], locate(self.keyword(form.value), form.pos))
        if isinstance(form, Sym):
            return Result([], locate(self.resolve(form, scope), form.pos))
        if isinstance(form, ListF):
            return self.compile_list(form, scope, toplevel)
        return LITERALS[type(form)](self, form, scope)

    def compile_list(self, form: ListF, scope: Scope, toplevel: bool) -> Result:
        if not form.items:
            return Result([], locate(self.constant(LList()), form.pos))
        head = form.items[0]
        if isinstance(head, Sym):
            if head.name in SPECIALS and scope.lookup(head.name) is None:
                shape, fn = SPECIALS[head.name]
                if head.name in ("def", "defn") and not toplevel:
                    raise self.fail(f"{head.name} is only allowed at the top level of a script", head.pos)
                return fn(self, form, shape.match(form), scope)
            if head.name in macros.MACROS:
                return self.compile(macros.expand(form), scope, toplevel)
            return self.compile_call(head, form, scope)
        if isinstance(head, Kw):
            return self.compile_keyword_call(head, form, scope)
        if isinstance(head, Lit | VecF | MapF):
            raise self.fail(
                f"cannot call {form_str(head)[:40]}: {kind_name(head)} is not a function", head.pos
            )
        callee = self.compile(head, scope)
        args = [self.compile(f, scope) for f in form.items[1:]]
        stmts, exprs = self.sequence([callee, *args])
        return Result(stmts, locate(ast.Call(func=exprs[0], args=exprs[1:], keywords=[]), form.pos))

    def compile_keyword_call(self, head: Kw, form: ListF, scope: Scope) -> Result:
        nargs = len(form.items) - 1
        if nargs not in (1, 2):
            raise self.fail(
                f"a keyword called as a function takes 1 or 2 arguments (map, default), got {nargs}", head.pos
            )
        args = [self.compile(f, scope) for f in form.items[1:]]
        stmts, exprs = self.sequence(args)
        default = exprs[1] if nargs == 2 else const(None)
        return Result(stmts, locate(self.lookup_expr(exprs[0], self.keyword(head.value), default), form.pos))

    def lookup_expr(self, target: ast.expr, key: ast.expr, default: ast.expr) -> ast.expr:
        """``(target or _lookup_target(target)).get(key, default)``: the core ``get`` rule for a keyword key.

        A non-empty map (the hot case) costs one truth test and the ``dict.get`` call; measured with cachegrind,
        this is cheaper than a ``type(m) is dict`` guard and than a ``try``/``except AttributeError`` statement
        (which also forces the enclosing expression into statements). Python-falsy values go to
        :func:`streamrt.lang.rt.lookup_target`: nil, false and empty collections give the default, ``0`` and
        ``0.0`` fail. A truthy non-map has no ``get`` (no language value but a map has one); the AttributeError
        becomes "expected a map or nil" in :func:`streamrt.lang.rt.runtime_error`.
        """
        bind, use = self.bind_once(target)
        fallback = ast.Call(func=name("_lookup_target"), args=[use], keywords=[])
        either = ast.BoolOp(op=ast.Or(), values=[bind, fallback])
        method = ast.Attribute(value=either, attr="get", ctx=ast.Load())
        return ast.Call(func=method, args=[key, default], keywords=[])

    def bind_once(self, expr: ast.expr) -> tuple[ast.expr, ast.expr]:
        """(first use, later uses) of ``expr`` so it is evaluated once: a walrus temp unless it is simple."""
        if is_simple(expr):
            return expr, expr
        tmp = self.fresh()
        return ast.NamedExpr(target=store(tmp), value=expr), name(tmp)

    def compile_call(self, head: Sym, form: ListF, scope: Scope) -> Result:
        nargs = len(form.items) - 1
        local = scope.lookup(head.name)
        gdef = None if local is not None else self.globals.get(head.name)
        cname = core_name(head.name) if local is None and gdef is None else None
        if cname is not None:
            core = CORE[cname]
            self.check_arity(head.name, core.min_args, core.max_args, nargs, head.pos)
            args = [self.compile(f, scope) for f in form.items[1:]]
            fast = INLINE.get(head.name)  # qualified names (clojure.core/inc) take the plain call
            if fast is not None:
                result = fast(self, args, form)
                if result is not None:
                    locate(result.expr, form.pos)
                    return result
            stmts, exprs = self.sequence(args)
            call = ast.Call(func=self.core(cname), args=exprs, keywords=[])
            return Result(stmts, locate(call, form.pos), core.returns_bool)
        if gdef is not None and gdef.arity is not None:
            self.check_arity(head.name, gdef.arity[0], gdef.arity[1], nargs, head.pos)
        callee = self.resolve(head, scope)
        args = [self.compile(f, scope) for f in form.items[1:]]
        stmts, exprs = self.sequence(args)
        return Result(stmts, locate(ast.Call(func=callee, args=exprs, keywords=[]), form.pos))

    def check_arity(self, fname: str, lo: int, hi: int | None, n: int, pos: Pos) -> None:
        if n < lo or (hi is not None and n > hi):
            if hi == lo:
                want = f"{lo} argument{'s' if lo != 1 else ''}"
            elif hi is None:
                want = f"at least {lo} argument{'s' if lo != 1 else ''}"
            else:
                want = f"{lo} to {hi} arguments"
            raise self.fail(f"wrong number of arguments to {fname}: expected {want}, got {n}", pos)

    def resolve(self, sym: Sym, scope: Scope) -> ast.expr:
        local = scope.lookup(sym.name)
        if local is not None:
            return name(local)
        gdef = self.globals.get(sym.name)
        if gdef is not None:
            if not scope.in_fn and gdef.index > self.current_index:
                raise self.fail(
                    f"'{sym.name}' is used before its definition at line {gdef.pos.line}", sym.pos
                )
            return name(gdef.pyname)
        cname = core_name(sym.name)
        if cname is not None:
            return self.core(cname)
        if sym.name in SPECIALS or sym.name in macros.MACROS:
            raise self.fail(f"'{sym.name}' is a special form or macro, not a value", sym.pos)
        raise self.fail(self.unknown_message(sym.name, scope), sym.pos)

    def unknown_message(self, sym: str, scope: Scope) -> str:
        locals_: list[str] = []
        s: Scope | None = scope
        while s is not None:
            locals_.extend(s.names)
            s = s.parent
        core = [*script_names(), *SPECIALS, *macros.MACROS]
        qualified = [n for n in core if "/" in n and core_name(n.rpartition("/")[2]) is None]
        return f"unknown symbol '{sym}'" + suggest(sym, [locals_, list(self.globals), core], qualified)

    def sequence(self, results: list[Result]) -> tuple[list[ast.stmt], list[ast.expr]]:
        """Statements and expressions of several results, keeping left-to-right evaluation order."""
        last_with_stmts = max((i for i, r in enumerate(results) if r.stmts), default=-1)
        stmts: list[ast.stmt] = []
        exprs: list[ast.expr] = []
        for i, r in enumerate(results):
            stmts.extend(r.stmts)
            if i < last_with_stmts and not is_simple(r.expr):
                tmp = self.fresh()
                stmts.append(ast.Assign(targets=[store(tmp)], value=r.expr))
                exprs.append(name(tmp))
            else:
                exprs.append(r.expr)
        return stmts, exprs

    def truthy(self, result: Result) -> ast.expr:
        """A Python bool expression for the language's truthiness (only nil and false are false)."""
        if result.is_bool:
            return result.expr
        expr = result.expr
        if isinstance(expr, ast.Constant):
            return const(expr.value is not None and expr.value is not False)
        bind, use = self.bind_once(expr)
        return ast.BoolOp(
            op=ast.And(),
            values=[
                ast.Compare(left=bind, ops=[ast.IsNot()], comparators=[const(None)]),
                ast.Compare(left=use, ops=[ast.IsNot()], comparators=[const(False)]),
            ],
        )
