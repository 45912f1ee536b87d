"""Warnings ``streamrt check`` gives about a script that compiles: places where it works today and may go wrong
with some input, which no error can catch.

One so far: a processor that returns a map built at run time (``(merge state chunk)``, ``(assoc state k v)`` with
a key that is not a literal, the chunk itself). The result contract takes a map with none of ``:state :action
:output :outputs`` as the new state, so such a processor works until a chunk carries one of those keys: ``(merge
state chunk)`` on ``{"state": "CA"}`` sets the state to ``"CA"``. The fix is to say which it is, ``{:state ...}``,
or to give the stream ``:result :strict``, which refuses bare maps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import msgspec

from streamrt.lang.effects import _calls, _literal_args
from streamrt.lang.forms import Form, Kw, ListF, Sym, VecF
from streamrt.lang.shape import result_tails
from streamrt.values import Keyword

if TYPE_CHECKING:
    from streamrt.errors import Pos
    from streamrt.lang.compiler import CompiledScript

__all__ = ["LintWarning", "result_warnings"]

_RESULT_KEYS: Final = frozenset(Keyword(k) for k in ("state", "action", "output", "outputs", "timers"))
_BUILDERS: Final = frozenset(
    {"merge", "merge-with", "into", "zipmap", "hash-map", "select-keys", "conj", "assoc", "assoc-in", "update",
     "update-in", "group-by", "frequencies", "reduce", "reduce-kv"}
)  # fmt: skip
"""Calls that return a map whose keys come from data (for assoc and update: unless every key is a literal)."""
_KEYED: Final = {"assoc": 2, "update": 2, "assoc-in": 2, "update-in": 2}
"""Where the key is, for the calls whose key can be a literal."""
_START: Final = "mcp.stream.start"
_PROCESSOR: Final = Keyword("processor")


class LintWarning(msgspec.Struct, frozen=True):
    pos: Pos
    message: str


def result_warnings(compiled: CompiledScript) -> list[LintWarning]:
    """Where a processor the script starts a stream with returns a map built at run time."""
    processors = {
        str(getattr(name, "qualified", name))
        for form in compiled.forms
        for call, _ in _calls(form)
        if isinstance(call.items[1], Kw) and call.items[1].value.qualified == _START
        for name in [(_literal_args(call.items[2] if len(call.items) > 2 else None) or {}).get(_PROCESSOR)]
        if name is not None
    }
    found = []
    for form in compiled.forms:
        defn = _defn(form)
        if defn is None or defn[0] not in processors:
            continue
        name, params, body = defn
        chunk = params.items[1].name if len(params.items) > 1 and isinstance(params.items[1], Sym) else None
        for tail in result_tails(body):
            what = _computed(tail, chunk)
            if what is not None:
                found.append(
                    LintWarning(
                        tail.pos,
                        f"processor {name} returns {what}, a map built at run time: should it ever hold :state, "
                        ":action, :output, :outputs or :timers it is read as a result, not as the new state; return "
                        "{:state ...}, or give the stream :result :strict to refuse bare maps",
                    )
                )
    return found


def _defn(form: Form) -> tuple[str, VecF, list[Form]] | None:
    if not (isinstance(form, ListF) and len(form.items) >= 3 and isinstance(form.items[0], Sym)):
        return None
    if form.items[0].name != "defn" or not isinstance(form.items[1], Sym):
        return None
    rest = form.items[2:]
    if rest and not isinstance(rest[0], VecF):
        rest = rest[1:]  # the docstring
    if not rest or not isinstance(rest[0], VecF):
        return None
    return form.items[1].name, rest[0], rest[1:]


def _computed(tail: Form, chunk: str | None) -> str | None:
    """How the tail builds a map at run time (for the message), or None when its keys are known or it is no map."""
    if isinstance(tail, Sym) and chunk is not None and tail.name == chunk:
        return f"the chunk ({chunk})"
    if not (isinstance(tail, ListF) and tail.items and isinstance(tail.items[0], Sym)):
        return None
    head = tail.items[0].name
    if head not in _BUILDERS:
        return None
    at = _KEYED.get(head)
    if at is not None:
        keys = tail.items[at::2] if head in ("assoc",) else tail.items[at : at + 1]
        if all(_plain_key(k) for k in keys):
            return None
    return f"({head} ...)"


def _plain_key(form: Form) -> bool:
    """A literal keyword that is not a result key (or a vector of them, for assoc-in / update-in)."""
    if isinstance(form, Kw):
        return form.value not in _RESULT_KEYS
    if isinstance(form, VecF):
        return bool(form.items) and isinstance(form.items[0], Kw) and form.items[0].value not in _RESULT_KEYS
    return False
