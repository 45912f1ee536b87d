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

Walking values
--------------
A script can build, in a few steps, a value no walk survives: a vector nested 200,000 deep (Python hashes a tuple
by recursing on the C stack, with no bound: the process dies), or one that holds itself twice at each of 60 levels
(``[acc acc]``: 60 tuples, but 2**60 items to print, hash or encode). So every walk (here, in the printer
``streamrt/printer.py`` and in the JSON codec ``streamrt/jsoncodec.py``) is iterative and counts what it visits,
shared parts each time they appear: a value nested deeper than :data:`MAX_DEPTH` or walking past its ``limit``
(default :data:`WALK_LIMIT`) raises :class:`~streamrt.errors.ValueLimitError`. :func:`measure` is that walk on its
own, for code that hands a value to C (a snapshot's msgpack packer); :func:`checked_key` runs it on a
vector about to be hashed as a map key or set member.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from typing import Any, Final
from weakref import KeyedRef

from streamrt.errors import ValueLimitError

__all__ = [
    "MAX_DEPTH",
    "WALK_LIMIT",
    "Keyword",
    "LList",
    "LSet",
    "Symbol",
    "checked_key",
    "is_truthy",
    "keyword",
    "known_keyword",
    "measure",
    "print_collections_with",
    "too_deep_error",
    "too_large_error",
    "type_name",
]


def _forget(ref: KeyedRef[str, Keyword]) -> None:
    """A keyword nobody holds any more has died: drop its entry, unless a new keyword of that name took it."""
    with _INTERNING:
        if _INTERNED.get(ref.key) is ref:
            del _INTERNED[ref.key]


_INTERNING: Final = threading.RLock()
"""Held while a keyword is made and while a dead one's entry goes: reentrant, since a collection that runs while a
keyword is being made may free another one in the same thread."""


_INTERNED: Final[dict[str, KeyedRef[str, Keyword]]] = {}
"""Every live keyword by name, held *weakly*: a JSON object key seen once (or 400,000 distinct ones) is freed with
the last value that holds it, where a strong table kept each for ever. Identity is still equality: two live keywords
of one name are one object, and a keyword that is gone cannot be compared with anything."""


RECENT_KEYWORDS: Final = 4096
"""How many keywords made or looked up last are also held strongly (:data:`_RECENT`)."""

_RECENT: Final[dict[str, Keyword]] = {}
"""The keywords made or looked up last, held *strongly*, by name, up to :data:`RECENT_KEYWORDS` (then emptied and
filled again): the keys of a feed are looked up in one C dict lookup (the JSON decoder's, :meth:`Keyword.__new__`'s)
and not made again for every chunk once the last value holding them is gone. Bounded, so a feed of unique keys
keeps at most that many alive beyond what its values hold. Written under :data:`_INTERNING` only."""

known_keyword: Final = _RECENT.get
"""The keyword of a name made or looked up lately, or None: one C dict lookup, for the JSON decoder's hot path
(``known_keyword(k) or Keyword(k)``)."""


class Keyword:
    """An interned keyword such as ``:count`` or ``:weather/city``; call it to look itself up in a map."""

    __slots__ = ("__weakref__", "name", "namespace", "qualified")

    name: str
    namespace: str | None
    qualified: str

    def __new__(cls, qualified: str) -> Keyword:
        recent = _RECENT.get(qualified)
        if recent is not None:
            return recent
        with _INTERNING:
            ref = _INTERNED.get(qualified)
            self = ref() if ref is not None else None
            if self is None:
                self = object.__new__(cls)
                ns, sep, name = qualified.rpartition("/")
                if not sep or not ns or not name:
                    ns, name = "", qualified
                object.__setattr__(self, "qualified", qualified)
                object.__setattr__(self, "namespace", ns or None)
                object.__setattr__(self, "name", name)
                _INTERNED[qualified] = KeyedRef(self, _forget, qualified)
            if len(_RECENT) >= RECENT_KEYWORDS:
                _RECENT.clear()
            _RECENT[qualified] = self
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


def _python_repr(value: Any) -> str:
    """How a list or set shows before the printer is loaded: its Python shape."""
    return f"{type(value).__name__}({list(value)!r})"


_PRINTER: Final[list[Callable[[Any], str]]] = [_python_repr]
"""The printer ``repr`` of a list or set uses: :func:`streamrt.printer.pr_str` once that module is loaded."""


def print_collections_with(printer: Callable[[Any], str]) -> None:
    """Make ``repr`` of a list or set value print as language text with ``printer``.

    The printer (``streamrt/printer.py``) sits above this module and registers itself when loaded: the model cannot
    import the printer that imports it.
    """
    _PRINTER[0] = printer


class LList(tuple[Any, ...]):
    """A list value ``(1 2 3)``: a tuple that prints with parentheses."""

    __slots__ = ()

    def __repr__(self) -> str:
        return _PRINTER[0](self)


class LSet(AbstractSet[Any]):
    """A set value ``#{1 2}``: immutable and hashable, so it can be a map key or a member of another set.

    Members keep their insertion order (a ``dict`` underneath), so a set prints, encodes to JSON (an array) and
    iterates the same way in every run, where a ``frozenset``'s order would follow string hashing. Membership is
    Python's, as for map keys. Called as a function it tests membership, as in Clojure: ``(#{:a :b} x)`` is ``x``
    when present, else nil.
    """

    __slots__ = ("_hashed", "_items")

    def __init__(self, items: Iterable[Any] = ()) -> None:
        if type(items) is not tuple:
            items = tuple(items)
        for x in items:
            if type(x) is tuple or type(x) is LList:
                checked_key(x)
        self._items: dict[Any, None] = dict.fromkeys(items)
        self._hashed: int | None = None

    @classmethod
    def _from_iterable(cls, items: Iterable[Any]) -> LSet:
        return cls(items)

    def __contains__(self, x: object) -> bool:
        if type(x) is tuple or type(x) is LList:
            checked_key(x)
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
        return _PRINTER[0](self)


def is_truthy(value: object) -> bool:
    """Language truthiness: only nil and false are false."""
    return value is not None and value is not False


# --- walking --------------------------------------------------------------------------------------------------

MAX_DEPTH: Final = 500
"""How deeply a value may nest. Snapshots cannot hold more (msgpack's packer stops at 511 levels), nor can most
JSON readers; a value that deep is a runaway, and refusing it keeps every walk far from the stack's end."""

WALK_LIMIT: Final = 1_000_000
"""The items one walk (printing, JSON, ``=``) may visit by default, counting a shared part each time it appears:
the default ``:max-size`` of a value a chunk builds. A snapshot is measured against a larger bound of its own."""


def too_deep_error() -> ValueLimitError:
    return ValueLimitError(
        f"a value nested deeper than {MAX_DEPTH} levels cannot be printed, hashed or stored"
    )


def too_large_error(limit: int) -> ValueLimitError:
    return ValueLimitError(
        f"a value with more than {limit:,} items (counting shared parts each time they appear) "
        "cannot be printed, hashed or stored"
    )


def measure(value: Any, *, limit: int = WALK_LIMIT, depth: int = MAX_DEPTH) -> int:
    """The walked size of ``value`` (its items and map entries, a shared part each time it appears), without
    recursion; raises :class:`~streamrt.errors.ValueLimitError` past ``limit`` items or ``depth`` levels."""
    t = type(value)
    if not (t is dict or t is tuple or t is LList or t is LSet or t is list or isinstance(value, Mapping)):
        return 0
    walked = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    pop = stack.pop
    push = stack.append
    while stack:
        x, level = pop()
        if level >= depth:
            raise too_deep_error()
        level += 1
        walked += len(x)
        if walked > limit:
            raise too_large_error(limit)
        if type(x) is dict or isinstance(x, Mapping):
            for k, v in x.items():
                t = type(v)
                if t is dict or t is tuple or t is LList or t is LSet or t is list or isinstance(v, Mapping):
                    push((v, level))
                if type(k) is tuple or type(k) is LList:
                    push((k, level))
        else:
            for v in x:
                t = type(v)
                if t is dict or t is tuple or t is LList or t is LSet or t is list or isinstance(v, Mapping):
                    push((v, level))
    return walked


def checked_key(key: Any) -> Any:
    """``key``, after checking that a vector about to be hashed (a map key, a set member) is safe to hash.

    Python hashes a tuple by recursing in C with no bound, so a deep one crashes the process and a self-sharing one
    never ends; anything else is returned at the cost of one type test.
    """
    t = type(key)
    if t is tuple or t is LList:
        for x in key:  # a vector of scalars (the common key: [x y]) cannot nest; only others are measured
            tx = type(x)
            if tx is tuple or tx is LList or tx is dict or tx is LSet or tx is list or isinstance(x, Mapping):
                measure(key)
                break
    return key


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
