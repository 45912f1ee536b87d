"""What a ``defn`` always returns, proved from its forms: the compile-time "result shape" analysis.

Not :mod:`streamrt.lang.shapes`, which describes the *arguments* a special form or macro takes.

Theory of operation. The runtime checks every processor result against the result contract, at a cost per
chunk. Many processors return a map literal on every path, though, and when the literal's keys are constant
keywords the compiler can tell ahead of time which side of the contract every result falls on:

- ``"bare"``: a map with none of ``:state :action :output :outputs``, so the whole map is the new state;
- ``"state"``: ``{:state x}`` with no other key, so ``x`` is the new state.

The analysis follows the *tails* of the body (the forms whose value is the function's value): both branches
of ``if`` (a missing else is nil, so unknown), the body of ``let`` and ``do``, and macro uses (``when``,
``cond``, ...) once expanded. Anything else (a call, a symbol, ``and``/``or``, a quoted map) is unknown.
Special forms and macros cannot be rebound as locals, so a head named ``if`` always means ``if`` and the
answer never depends on scope. The answer is sound, not complete: None only means "check every result".

The mark is stored on :attr:`streamrt.lang.compiler.GlobalDef.result` and read by
:func:`streamrt.runtime.callables.result_shape`. It runs once per ``defn`` at compile time, never per chunk.
"""

from __future__ import annotations

from streamrt.lang import macros
from streamrt.lang.forms import Form, Kw, ListF, MapF, Sym
from streamrt.values import Keyword

__all__ = ["result_shape", "result_tails"]

_RESULT_KEYS = frozenset(Keyword(k) for k in ("state", "action", "output", "outputs", "timers"))
"""The result contract's keys, restated from ``streamrt.runtime.contract.RESULT_KEYS`` (the language does not
import the runtime; a test keeps the two equal)."""
_STATE = Keyword("state")


def result_shape(body: list[Form]) -> str | None:
    """``"bare"`` or ``"state"`` when every tail of ``body`` is a map literal of that kind (see ``GlobalDef.result``).

    Tails are followed through ``if`` (both branches; no else is nil), ``let``, ``do`` and macros (``when``,
    ``cond``, ...); anything else (a call, a symbol, ``and``/``or``) is unknown. Special forms and macros cannot be
    rebound, so their names always mean them.
    """
    if not body:
        return None
    form = body[-1]
    if isinstance(form, ListF) and macros.is_macro(form):
        form = macros.expand(form)
    if isinstance(form, MapF):
        keys = form.items[0::2]
        if not all(isinstance(k, Kw) for k in keys):
            return None
        names = {k.value for k in keys}  # type: ignore[union-attr]
        if names.isdisjoint(_RESULT_KEYS):
            return "bare"
        return "state" if names == {_STATE} else None
    if not (isinstance(form, ListF) and form.items and isinstance(form.items[0], Sym)):
        return None
    head, items = form.items[0].name, form.items
    if head == "if":
        if len(items) != 4:
            return None
        then = result_shape([items[2]])
        return then if then is not None and then == result_shape([items[3]]) else None
    if head == "let":
        return result_shape(items[2:])
    if head == "do":
        return result_shape(items[1:])
    return None


def result_tails(body: list[Form]) -> list[Form]:
    """The forms whose value a ``defn`` with this ``body`` returns: its tails, through ``if`` (both branches),
    ``let``, ``do`` and macros, as :func:`result_shape` follows them."""
    if not body:
        return []
    form = body[-1]
    if isinstance(form, ListF) and macros.is_macro(form):
        form = macros.expand(form)
    if isinstance(form, ListF) and form.items and isinstance(form.items[0], Sym):
        head, items = form.items[0].name, form.items
        if head == "if" and len(items) in (3, 4):
            return [*result_tails([items[2]]), *(result_tails([items[3]]) if len(items) == 4 else [])]
        if head == "let":
            return result_tails(items[2:])
        if head == "do":
            return result_tails(items[1:])
    return [form]
