"""What callers compile with: the compiler (:mod:`streamrt.lang.compiler`) with every form registered.

The compiler owns its tables (``SPECIALS``, ``INLINE``, ``LITERALS``) and knows none of the forms; the modules
that define forms import it and register theirs (``@special``, ``@inline``, ``LITERALS``). This module imports
them all, once, in one place, so that the compiler sits below the forms and nothing imports back up:

    compiling -> specials, control, literals, inline -> compiler
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

from streamrt.lang import control, inline, literals, specials
from streamrt.lang.compiler import SPECIALS, CompiledScript, Compiler, GlobalDef
from streamrt.lang.forms import Form

__all__ = ["SPECIALS", "compile_forms", "python_module"]

_FORMS = (control, inline, literals, specials)
"""The modules whose import registers the special forms (``loop recur case``; ``def fn let if ...``), the inline
fast paths of core functions, and the vector, map and set literals."""


def compile_forms(
    forms: list[Form],
    filename: str,
    *,
    meter: bool = False,
    known: Mapping[str, GlobalDef] | None = None,
    counter: int = 0,
) -> CompiledScript:
    """Compile read forms into a :class:`CompiledScript`; ``meter`` gives the variant that enforces limits.

    ``known`` and ``counter`` compile more forms into the namespace of an earlier compile (a REPL's): its
    script-level names, and its :attr:`CompiledScript.counter`, so generated names never collide.
    """
    return Compiler(filename, meter=meter, known=known, counter=counter).compile_module(forms)


def python_module(forms: list[Form], filename: str, *, meter: bool = False) -> tuple[Compiler, ast.Module]:
    """The Python module ``forms`` compile to, before ``compile()``, with the compiler that holds its constants."""
    compiler = Compiler(filename, meter=meter)
    _, module = compiler.build_module(forms)
    return compiler, module
