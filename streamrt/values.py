"""The runtime value model shared by the language, the runtime and the stores.

Language values map onto plain Python objects so compiled code runs at Python speed:

| language | Python |
|---|---|
| nil, true, false | ``None``, ``True``, ``False`` |
| integers, floats, strings | ``int``, ``float``, ``str`` |
| keywords ``:a``, ``:ns/a`` | :class:`Keyword` (interned: one object per name, compared by identity) |
| vectors ``[1 2]`` | ``tuple`` (immutable) |
| lists ``'(1 2)`` | :class:`LList`, a ``tuple`` subclass, equal to a vector with the same items |
| maps ``{:a 1}`` | ``dict``; never mutated by the core library, so safe to share |
| sets ``#{1 2}`` | :class:`LSet`: immutable, hashable, kept in insertion order |
| quoted symbols | :class:`Symbol` |

Keywords keep the default identity ``__eq__``/``__hash__`` of ``object`` on purpose: they are interned, so identity
is equality, and dict lookups with keyword keys stay in C.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from typing import Any, ClassVar, Final

__all__ = [
    "Keyword",
    "LList",
    "LSet",
    "Symbol",
    "from_json",
    "from_json_text",
    "is_truthy",
    "keyword",
    "pr_str",
    "to_json",
    "to_json_text",
    "type_name",
]


class Keyword:
    """An interned keyword such as ``:count`` or ``:weather/city``; call it to look itself up in a map."""

    __slots__ = ("__weakref__", "name", "namespace", "qualified")

    _table: ClassVar[dict[str, Keyword]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    name: str
    namespace: str | None
    qualified: str

    def __new__(cls, qualified: str) -> Keyword:
        try:
            return cls._table[qualified]
        except KeyError:
            pass
        with cls._lock:
            existing = cls._table.get(qualified)
            if existing is not None:
                return existing
            self = object.__new__(cls)
            ns, sep, name = qualified.rpartition("/")
            if not sep or not ns or not name:
                ns, name = "", qualified
            object.__setattr__(self, "qualified", qualified)
            object.__setattr__(self, "namespace", ns or None)
            object.__setattr__(self, "name", name)
            cls._table[qualified] = self
            return self

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError("keywords are immutable")

    def __call__(self, m: Any, default: Any = None) -> Any:
        """Look this keyword up in ``m``: nil (and false or an empty value) gives ``default``.

        Any other value that is not a map is an error, the same rule compiled ``(:k m)`` follows.
        """
        if type(m) is dict:
            return m.get(self, default)
        if m is None or m is False or (not m and isinstance(m, Mapping | str | tuple)):
            return default
        if isinstance(m, Mapping | LSet):
            return m.get(self, default)
        from streamrt.errors import ScriptRuntimeError

        kind = type_name(m)
        article = "an" if kind[0] in "aeiou" else "a"
        raise ScriptRuntimeError(f"cannot look up a keyword in {article} {kind}: expected a map or nil")

    def __repr__(self) -> str:
        return ":" + self.qualified

    __str__ = __repr__

    def __lt__(self, other: object) -> bool:
        if isinstance(other, Keyword):
            return self.qualified < other.qualified
        return NotImplemented

    def __reduce__(self) -> tuple[Callable[[str], Keyword], tuple[str]]:
        return (Keyword, (self.qualified,))

    def __copy__(self) -> Keyword:
        return self

    def __deepcopy__(self, memo: object) -> Keyword:
        return self


def keyword(qualified: str) -> Keyword:
    """Return the interned keyword for ``qualified`` (without the leading colon)."""
    return Keyword(qualified)


class Symbol:
    """A quoted symbol, as a runtime value (``'foo``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Symbol) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("symbol", self.name))

    def __repr__(self) -> str:
        return self.name


class LList(tuple[Any, ...]):
    """A list value ``(1 2 3)``: a tuple that prints with parentheses."""

    __slots__ = ()

    def __repr__(self) -> str:
        return pr_str(self)


class LSet(AbstractSet[Any]):
    """A set value ``#{1 2}``: immutable and hashable, so it can be a map key or a member of another set.

    Members keep their insertion order (a ``dict`` underneath), so a set prints, encodes to JSON (an array) and
    iterates the same way in every run, where a ``frozenset``'s order would follow string hashing. Membership is
    Python's, as for map keys. Called as a function it tests membership, as in Clojure: ``(#{:a :b} x)`` is ``x``
    when present, else nil.
    """

    __slots__ = ("_hashed", "_items")

    def __init__(self, items: Iterable[Any] = ()) -> None:
        self._items: dict[Any, None] = dict.fromkeys(items)
        self._hashed: int | None = None

    @classmethod
    def _from_iterable(cls, items: Iterable[Any]) -> LSet:
        return cls(items)

    def __contains__(self, x: object) -> bool:
        try:
            return x in self._items
        except TypeError:  # unhashable: cannot be a member
            return False

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        if self._hashed is None:
            self._hashed = hash(frozenset(self._items))
        return self._hashed

    def get(self, x: Any, default: Any = None) -> Any:
        """``x`` when it is a member, else ``default`` (``(get s x)`` and ``(:k s)``)."""
        return x if x in self else default

    __call__ = get

    def __repr__(self) -> str:
        return pr_str(self)


def is_truthy(value: object) -> bool:
    """Language truthiness: only nil and false are false."""
    return value is not None and value is not False


# --- printing -------------------------------------------------------------------------------------------------

_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _pr_string(s: str) -> str:
    out = []
    for ch in s:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " " or ch == "\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _pr_float(f: float) -> str:
    if math.isnan(f):
        return "##NaN"
    if math.isinf(f):
        return "##Inf" if f > 0 else "##-Inf"
    return repr(f)


def pr_str(value: Any, readably: bool = True) -> str:
    """Print a value as language text; ``readably=False`` prints strings bare (as ``str`` does)."""
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    t = type(value)
    if t is str:
        return _pr_string(value) if readably else str(value)
    if t is int:
        return repr(value)
    if t is float:
        return _pr_float(value)
    if t is Keyword:
        return ":" + str(value.qualified)
    if t is dict:
        items = value.items()
        return "{" + ", ".join(pr_str(k, readably) + " " + pr_str(v, readably) for k, v in items) + "}"
    if t is LList:
        return "(" + " ".join(pr_str(v, readably) for v in value) + ")"
    if t is LSet:
        return "#{" + " ".join(pr_str(v, readably) for v in value) + "}"
    if isinstance(value, tuple):
        return "[" + " ".join(pr_str(v, readably) for v in value) + "]"
    if isinstance(value, Mapping):
        return (
            "{" + ", ".join(pr_str(k, readably) + " " + pr_str(v, readably) for k, v in value.items()) + "}"
        )
    if isinstance(value, list):
        return "[" + " ".join(pr_str(v, readably) for v in value) + "]"
    if isinstance(value, Symbol):
        return value.name
    if callable(value):
        name = getattr(value, "__streamrt_name__", None) or getattr(value, "__name__", "fn")
        return f"#<fn {name}>"
    return f"#<{type(value).__name__}>"


def type_name(value: object) -> str:
    """A short language-level name of a value's type, for error messages."""
    if value is None:
        return "nil"
    t = type(value)
    if t is bool:
        return "boolean"
    if t is int:
        return "integer"
    if t is float:
        return "float"
    if t is str:
        return "string"
    if t is Keyword:
        return "keyword"
    if t is LList:
        return "list"
    if t is LSet:
        return "set"
    if isinstance(value, tuple | list):
        return "vector"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, Symbol):
        return "symbol"
    if callable(value):
        return "function"
    return t.__name__


# --- JSON ------------------------------------------------------------------------------------------------------


def _object_hook(pairs: list[tuple[str, Any]]) -> dict[Any, Any]:
    return {Keyword(k): v for k, v in pairs}


def from_json(value: Any) -> Any:
    """Convert decoded JSON (dicts with str keys, lists) to language values (keyword keys, tuples)."""
    t = type(value)
    if t is dict:
        return {Keyword(k) if type(k) is str else k: from_json(v) for k, v in value.items()}
    if t is list:
        return tuple(from_json(v) for v in value)
    return value


def _lists_to_tuples(value: Any) -> Any:
    t = type(value)
    if t is list:
        return tuple(_lists_to_tuples(v) for v in value)
    if t is dict:
        for k, v in value.items():
            tv = type(v)
            if tv is list or tv is dict:
                value[k] = _lists_to_tuples(v)
        return value
    return value


_DECODER = json.JSONDecoder(object_pairs_hook=_object_hook)


def from_json_text(text: str | bytes) -> Any:
    """Parse JSON text into language values; raises ``ValueError`` on bad JSON."""
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    return _lists_to_tuples(_DECODER.decode(text))


def _key_to_json(k: Any) -> str:
    if type(k) is Keyword:
        return str(k.qualified)
    if type(k) is str:
        return k
    if k is None:
        return "null"
    if k is True or k is False:
        return "true" if k else "false"
    if isinstance(k, int | float):
        return json.dumps(k)
    return pr_str(k)


def to_json(value: Any) -> Any:
    """Convert language values to JSON-ready Python data (keywords become their ``ns/name`` strings)."""
    t = type(value)
    if value is None or t is bool or t is int or t is str:
        return value
    if t is float:
        return value if math.isfinite(value) else None
    if t is Keyword:
        return value.qualified
    if t is dict or isinstance(value, Mapping):
        return {_key_to_json(k): to_json(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    if isinstance(value, Symbol):
        return value.name
    if isinstance(value, Iterable):
        return [to_json(v) for v in value]
    return pr_str(value)


def to_json_text(value: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON text for a language value."""
    return json.dumps(to_json(value), ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)
