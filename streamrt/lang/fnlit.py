"""Anonymous function literals: ``#(f % %2)`` read as ``(fn [%1 %2] (f %1 %2))``, as Clojure's reader does.

``%`` is ``%1``; ``%N`` is the Nth argument, and the function takes as many arguments as the highest ``N`` used;
``%&`` is the rest (a vector, or nil). The rewrite happens in the reader, so the compiler, ``streamrt lower`` and
every later stage see an ordinary ``fn``. Literals do not nest (which ``%`` would an inner one mean?), as in Clojure.
"""

from __future__ import annotations

import re
from typing import Final

from streamrt.errors import Pos, ScriptSyntaxError
from streamrt.lang.forms import Form, ListF, MapF, SetF, Sym, VecF

__all__ = ["fn_literal", "is_argument"]

_ARG: Final = re.compile(r"%([1-9][0-9]*)?\Z")
_MAX_ARGS: Final = 20


def is_argument(name: str) -> bool:
    """True for ``%``, ``%1`` ... and ``%&``: names that mean something only inside ``#(...)``."""
    return name == "%&" or _ARG.match(name) is not None


def _nested(form: ListF) -> bool:
    """True for the ``fn`` an inner ``#(...)`` became: its parameters are ``%`` names."""
    head = form.items[0] if form.items else None
    if not (isinstance(head, Sym) and head.name == "fn" and len(form.items) > 1):
        return False
    params = form.items[1]
    return isinstance(params, VecF) and any(isinstance(p, Sym) and is_argument(p.name) for p in params.items)


def fn_literal(items: list[Form], pos: Pos) -> ListF:
    """The ``fn`` form for ``#(items...)`` read at ``pos``."""
    highest = 0
    rest = False

    def walk(form: Form) -> Form:
        nonlocal highest, rest
        if isinstance(form, Sym):
            if form.name == "%&":
                rest = True
                return form
            m = _ARG.match(form.name)
            if m is None:
                return form
            n = int(m.group(1) or 1)
            if n > _MAX_ARGS:
                raise ScriptSyntaxError(f"#(...) takes at most %{_MAX_ARGS}, got {form.name}", form.pos)
            highest = max(highest, n)
            return Sym(f"%{n}", form.pos)
        if isinstance(form, ListF):
            if _nested(form):
                raise ScriptSyntaxError(
                    "#(...) literals cannot be nested; write the inner one as (fn [x] ...)", form.pos
                )
            return ListF([walk(f) for f in form.items], form.pos)
        if isinstance(form, VecF):
            return VecF([walk(f) for f in form.items], form.pos)
        if isinstance(form, MapF):
            return MapF([walk(f) for f in form.items], form.pos)
        if isinstance(form, SetF):
            return SetF([walk(f) for f in form.items], form.pos)
        return form

    body = ListF([walk(f) for f in items], pos)
    params: list[Form] = [Sym(f"%{i}", pos) for i in range(1, highest + 1)]
    if rest:
        params += [Sym("&", pos), Sym("%&", pos)]
    return ListF([Sym("fn", pos), VecF(params, pos), body], pos)
