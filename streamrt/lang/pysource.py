"""The Python a script compiles to, as text (``streamrt compile --python``, as ``hy2py`` does for hy).

The text is ``ast.unparse`` of the module the compiler builds, so it is exactly what runs, with two readability
changes that do not alter meaning: objects the code holds as constants (keywords, type objects for guards) are
shown as the expression that makes them (``_Keyword('count')``, ``_int``), and a comment block first lists the
other names the code refers to: core functions (``c_...``) and quoted constants (``_q...``). Every other name is
a runtime support name (:func:`streamrt.lang.rt.support_names`) or, in the metered variant, the meter's.
"""

from __future__ import annotations

import ast
from typing import Any

from streamrt.lang.compiler import Compiler
from streamrt.lang.compiling import python_module
from streamrt.lang.forms import Form
from streamrt.lang.rt import demangle, support_names
from streamrt.printer import pr_str
from streamrt.values import Keyword, LSet

__all__ = ["python_text"]


class _ShowConstants(ast.NodeTransformer):
    """Replace code-constant placeholders with an expression that names the object."""

    def __init__(self, compiler: Compiler) -> None:
        self.compiler = compiler
        self.support = {id(v): k for k, v in support_names().items()}

    def visit_Constant(self, node: ast.Constant) -> ast.expr:
        return ast.copy_location(self._constant(node.value), node)

    def _constant(self, value: Any) -> ast.expr:
        """A constant's value, with placeholders in it (a keyword inside a constant vector, say) shown."""
        obj = self.compiler.object_of(ast.Constant(value))
        if obj is not None:
            return self._shown(obj)
        if type(value) is tuple:
            return ast.Tuple(elts=[self._constant(v) for v in value], ctx=ast.Load())
        return ast.Constant(value)

    def _shown(self, obj: Any) -> ast.expr:
        if type(obj) is Keyword:
            return ast.Call(
                func=ast.Name(id="_Keyword", ctx=ast.Load()), args=[ast.Constant(obj.qualified)], keywords=[]
            )
        if type(obj) is LSet:
            items = ast.Tuple(elts=[self._shown(x) for x in obj], ctx=ast.Load())
            return ast.Call(func=ast.Name(id="_LSet", ctx=ast.Load()), args=[items], keywords=[])
        if type(obj) is tuple:
            return ast.Tuple(elts=[self._shown(x) for x in obj], ctx=ast.Load())
        known = self.support.get(id(obj))
        if known is not None:
            return ast.Name(id=known, ctx=ast.Load())
        return ast.Constant(obj)


def _header(filename: str, compiler: Compiler, meter: bool) -> list[str]:
    lines = [f"# Python compiled from {filename} by streamrt{' (metered variant)' if meter else ''}."]
    for pyname, value in sorted(compiler.constants.items()):
        if pyname.startswith("c_"):
            core = getattr(value, "__streamrt_name__", demangle(pyname))
            lines.append(f"# {pyname} = the core function {core}")
        else:
            lines.append(f"# {pyname} = {pr_str(value)[:100]}")
    return lines


def python_text(forms: list[Form], filename: str, *, meter: bool = False) -> str:
    """The Python source ``forms`` compile to, preceded by a comment naming the constants it refers to."""
    compiler, module = python_module(forms, filename, meter=meter)
    shown = _ShowConstants(compiler).visit(module)
    return "\n".join([*_header(filename, compiler, meter), "", ast.unparse(shown)]) + "\n"
