"""Finding ``recur`` in forms, and the rewriting of a function body that ``recur``\\ s into a loop.

Pure functions of forms, below both the special forms that compile functions (:mod:`streamrt.lang.specials`) and
``loop``/``recur`` themselves (:mod:`streamrt.lang.control`), so that a ``fn`` whose body recurs can be turned into
``(fn [x] (loop [x x] body))`` without the two importing each other.
"""

from __future__ import annotations

from streamrt.errors import Pos
from streamrt.lang.forms import Form, ListF, MapF, SetF, Sym, VecF

__all__ = ["head_name", "holds_form", "mentions_recur", "recur_as_loop"]


def head_name(form: Form) -> str | None:
    """The symbol a list form starts with (``"fn"`` for ``(fn ...)``), or None."""
    if isinstance(form, ListF) and form.items and isinstance(form.items[0], Sym):
        return form.items[0].name
    return None


def holds_form(
    forms: list[Form], head: str, *, opaque: tuple[str, ...] = ("quote",), scopes: tuple[str, ...] = ()
) -> bool:
    """True when ``forms`` hold a list form headed ``head``. Forms headed by one of ``opaque`` are not looked into;
    of a form headed by one of ``scopes`` (``loop``), only the init forms of its binding vector are."""
    todo = list(forms)
    while todo:
        form = todo.pop()
        if isinstance(form, ListF):
            name = head_name(form)
            if name == head:
                return True
            if name in opaque:
                continue
            if name in scopes:
                if len(form.items) > 1 and isinstance(form.items[1], VecF):
                    todo.extend(form.items[1].items[1::2])
                continue
            todo.extend(form.items)
        elif isinstance(form, VecF | MapF | SetF):
            todo.extend(form.items)
    return False


def mentions_recur(forms: list[Form]) -> bool:
    """True when a ``recur`` inside ``forms`` belongs to them (not to a nested ``fn`` or ``loop`` body)."""
    return holds_form(forms, "recur", opaque=("quote", "fn"), scopes=("loop",))


def recur_as_loop(params: VecF, body: list[Form], pos: Pos) -> tuple[VecF, ListF]:
    """A function body that ``recur``\\ s as a loop over its parameters: ``[x [a b]] body`` ->
    ``[x arg#2] (loop [x x [a b] arg#2] body)``. Plain symbol parameters keep their names (so arity messages
    show them); destructured ones get a name of their own."""
    new_params: list[Form] = []
    bindings: list[Form] = []
    for i, p in enumerate(params.items):
        if isinstance(p, Sym) and p.name == "&":
            new_params.append(p)
            continue
        fresh = p if isinstance(p, Sym) else Sym(f"arg#{i}", p.pos)
        new_params.append(fresh)
        bindings += [p, fresh]
    loop = ListF([Sym("loop", pos), VecF(bindings, pos), *body], pos)
    return VecF(new_params, params.pos), loop
