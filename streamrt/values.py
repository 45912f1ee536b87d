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
(``[acc acc]``: 60 tuples, but 2**60 items to print, hash or encode). So every walk here is iterative and counts what
it visits, shared parts each time they appear: a value nested deeper than :data:`MAX_DEPTH` or walking past its
``limit`` (default :data:`WALK_LIMIT`) raises :class:`~streamrt.errors.ValueLimitError`. :func:`measure` is that
walk on its own, for code that hands a value to C (a snapshot's msgpack packer); :func:`checked_key` runs it on a
vector about to be hashed as a map key or set member.
"""

from __future__ import annotations

import json
import math
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from typing import Any, Final
from weakref import KeyedRef

import msgspec

from streamrt.errors import ValueLimitError

__all__ = [
    "MAX_DEPTH",
    "WALK_LIMIT",
    "LoneSurrogateError",
    "Keyword",
    "LList",
    "LSet",
    "Symbol",
    "checked_key",
    "dumps_json",
    "from_json",
    "from_json_text",
    "is_truthy",
    "keyword",
    "measure",
    "pr_short",
    "pr_str",
    "to_json",
    "to_json_bytes",
    "to_json_text",
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
        return pr_str(self)


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


def _too_deep() -> ValueLimitError:
    return ValueLimitError(
        f"a value nested deeper than {MAX_DEPTH} levels cannot be printed, hashed or stored"
    )


def _too_large(limit: int) -> ValueLimitError:
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
            raise _too_deep()
        level += 1
        walked += len(x)
        if walked > limit:
            raise _too_large(limit)
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


# --- printing -------------------------------------------------------------------------------------------------

_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


_PLAIN: Final = re.compile(r'[^"\\\x00-\x1f\x7f]*').fullmatch
"""Text with nothing to escape (most strings): printed between quotes as it is, without a loop per character."""


def _pr_string(s: str) -> str:
    if _PLAIN(s) is not None:
        return '"' + s + '"'
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


def _long_int() -> ValueLimitError:
    return ValueLimitError(
        f"an integer of more than {sys.get_int_max_str_digits():,} digits cannot be written as text or JSON "
        "(Python's limit: turning digits into text takes quadratic time)"
    )


def _pr_int(i: int) -> str:
    try:
        return repr(i)
    except ValueError:
        raise _long_int() from None


def dumps_json(data: Any, **options: Any) -> str:
    """``json.dumps(data, **options)`` of JSON-ready data; an integer too long to write as digits raises
    :class:`~streamrt.errors.ValueLimitError` instead of Python's ``ValueError``."""
    try:
        return json.dumps(data, **options)
    except ValueError as e:
        if "integer string conversion" in str(e):
            raise _long_int() from None
        raise


def _pr_float(f: float) -> str:
    if math.isnan(f):
        return "##NaN"
    if math.isinf(f):
        return "##Inf" if f > 0 else "##-Inf"
    return repr(f)


def _pr_atom(value: Any, t: type, readably: bool) -> str:
    """A value that holds no other value, printed."""
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if t is str:
        return _pr_string(value) if readably else str(value)
    if t is int:
        return _pr_int(value)
    if t is float:
        return _pr_float(value)
    if t is Keyword:
        return ":" + str(value.qualified)
    if isinstance(value, Symbol):
        return value.name
    printer = getattr(t, "__streamrt_pr__", None)  # a value type of the language's own above this module
    if printer is not None:
        return printer(value)  # type: ignore[no-any-return]
    if callable(value):
        name = getattr(value, "__streamrt_name__", None) or getattr(value, "__name__", "fn")
        return f"#<fn {name}>"
    return f"#<{type(value).__name__}>"


class _Text(str):
    """A piece of punctuation on the printer's stack (a plain ``str`` there is a value still to print)."""

    __slots__ = ()


class _Close(_Text):
    """The closing bracket of a collection: printing it leaves one level."""

    __slots__ = ()


_SP: Final = _Text(" ")
_COMMA: Final = _Text(", ")
_BRACKETS: Final = {
    "vector": (_Text("["), _Close("]")),
    "list": (_Text("("), _Close(")")),
    "set": (_Text("#{"), _Close("}")),
    "map": (_Text("{"), _Close("}")),
}


def _kind(value: Any, t: type) -> str | None:
    if t is dict:
        return "map"
    if t is LList:
        return "list"
    if t is LSet:
        return "set"
    if t is tuple or isinstance(value, tuple | list):
        return "vector"
    if isinstance(value, Mapping):
        return "map"
    return None


def _print(value: Any, readably: bool, limit: int, width: int) -> str:
    """Print a collection without recursion, counting the items walked; stop once ``width`` characters are out."""
    out: list[str] = []
    emit = out.append
    written = 0
    walked = 0
    level = 0
    stack: list[Any] = [value]
    pop = stack.pop
    push = stack.append
    extend = stack.extend
    while stack:
        x = pop()
        t = type(x)
        if t is _Text:
            piece: str = x
        elif t is _Close:
            level -= 1
            piece = x
        elif t is str:
            piece = _pr_string(x) if readably else x
        elif t is int:
            piece = _pr_int(x)
        elif t is Keyword:
            piece = ":" + x.qualified
        else:
            kind = _kind(x, t)
            if kind is None:
                piece = _pr_atom(x, t, readably)
            else:
                if level >= MAX_DEPTH:
                    raise _too_deep()
                level += 1
                n = len(x)
                walked += n
                if walked > limit:
                    raise _too_large(limit)
                opening, closing = _BRACKETS[kind]
                push(closing)
                if n:
                    if kind == "map":
                        # pushed in reverse: value, " ", key, ", ", value, " ", key, ...
                        parts: list[Any] = [_COMMA] * (4 * n - 1)
                        entries = list(x.items())[::-1]
                        parts[0::4] = [v for _, v in entries]
                        parts[1::4] = [_SP] * n
                        parts[2::4] = [k for k, _ in entries]
                    else:
                        parts = [_SP] * (2 * n - 1)
                        parts[0::2] = list(x)[::-1]
                    extend(parts)
                piece = opening
        emit(piece)
        if width:
            written += len(piece)
            if written > width:
                return "".join(out)
    return "".join(out)


FAST_DEPTH: Final = 32
"""How deep the printers' recursive fast path goes. Most values are small and shallow, and for them a recursive
printer is about twice as fast as the iterative walk; at this depth (far from Python's stack limit) or past the
walk's item limit the fast path gives up and the iterative walk prints the value from the start, with its checks."""


class _GiveUp(Exception):
    """A fast path met a value it leaves to the iterative walk: deeper than :data:`FAST_DEPTH`, or too large."""


def _pr_fast(x: Any, kind: str, readably: bool, level: int, budget: list[int]) -> str:
    """Print a collection by recursion, at most :data:`FAST_DEPTH` deep and ``budget[0]`` items walked."""
    if level >= FAST_DEPTH:
        raise _GiveUp
    budget[0] -= len(x)
    if budget[0] < 0:
        raise _GiveUp
    level += 1
    parts: list[str] = []
    emit = parts.append
    for item in x.items() if kind == "map" else x:
        for v in item if kind == "map" else (item,):
            t = type(v)
            if t is str:
                emit(_pr_string(v) if readably else v)
            elif t is int:
                emit(_pr_int(v))
            elif t is Keyword:
                emit(":" + v.qualified)
            elif t is float:
                emit(_pr_float(v))
            else:
                inner = _kind(v, t)
                emit(
                    _pr_atom(v, t, readably) if inner is None else _pr_fast(v, inner, readably, level, budget)
                )
    opening, closing = _BRACKETS[kind]
    if kind == "map":
        return opening + ", ".join([f"{parts[i]} {parts[i + 1]}" for i in range(0, len(parts), 2)]) + closing
    return opening + " ".join(parts) + closing


def pr_str(value: Any, readably: bool = True, *, limit: int = WALK_LIMIT) -> str:
    """Print a value as language text; ``readably=False`` prints strings bare (as ``str`` does).

    A collection nested deeper than :data:`MAX_DEPTH` or past ``limit`` items raises
    :class:`~streamrt.errors.ValueLimitError`. Small values print by recursion (:data:`FAST_DEPTH`), others by a
    walk without recursion.
    """
    t = type(value)
    if t is str:
        return _pr_string(value) if readably else value
    kind = _kind(value, t)
    if kind is None:
        return _pr_atom(value, t, readably)
    try:
        return _pr_fast(value, kind, readably, 0, [limit])
    except _GiveUp:
        return _print(value, readably, limit, 0)


def pr_short(value: Any, width: int = 60) -> str:
    """At most ``width`` characters of ``pr_str(value)`` (ending in ``...`` when cut), for messages: printing stops
    there, so a huge or self-sharing value costs no more than its first ``width`` characters."""
    t = type(value)
    try:
        if _kind(value, t) is None:
            text = _pr_string(value) if t is str else _pr_atom(value, t, True)
        else:
            text = _print(value, True, WALK_LIMIT, width)
    except ValueLimitError:
        return "#<value too large to print>"
    return text if len(text) <= width else text[: max(width - 3, 0)] + "..."


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


# Theory of operation: JSON is read by msgspec (a C decoder: about a tenth of the stdlib's time on a chunk's line)
# into dicts with string keys and lists, then :func:`_dict_values` turns each dict's keys into keywords (one C
# dict lookup each, in :data:`_RECENT`) and each list into a tuple on the same walk. msgspec refuses what it cannot
# read exactly as Python's json reads it (NaN, 1e400, lone surrogate escapes, nesting past the recursion limit),
# and anything it refuses is read again by the standard library's decoder with the old object hook (the general
# path), which gives the same values and the same errors as before. Writing is the mirror: :func:`_plain` looks
# whether msgspec writes a value byte for byte as ``json.dumps(to_json(value))`` does (keyword or string keys,
# floats Python prints without an exponent, depth and size within bounds) and the rest takes the general path.


def _object_hook(pairs: list[tuple[str, Any]]) -> dict[Any, Any]:
    out = {}
    recent = _RECENT.get
    for k, v in pairs:
        out[recent(k) or Keyword(k)] = v
    return out


def from_json(value: Any) -> Any:
    """Convert decoded JSON (dicts with str keys, lists) to language values (keyword keys, tuples)."""
    try:
        return _from_json(value)
    except RecursionError:
        raise _too_deep_json() from None


def _from_json(value: Any) -> Any:
    t = type(value)
    if t is dict:
        return {Keyword(k) if type(k) is str else k: _from_json(v) for k, v in value.items()}
    if t is list:
        return tuple(_from_json(v) for v in value)
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


class LoneSurrogateError(ValueError):
    """JSON whose string escapes half of a UTF-16 pair (``"\\ud800"``): not a character, so it cannot be written
    out as UTF-8 (a sink, a store, a terminal would fail on it later). The rule: refused where JSON is decoded,
    so a source makes it a chunk fault that the stream's ``:on-error`` decides about."""


# \uD800-\uDFFF escapes: only JSON text holding one can decode to a string with a surrogate in it
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _lone_surrogate(value: Any) -> int | None:
    """The code of the first lone surrogate in a decoded value's strings (keys too), or None."""
    t = type(value)
    if t is str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return ord(value[exc.start])
        return None
    if t is Keyword:
        return _lone_surrogate(value.qualified)
    if t is dict:
        for k, v in value.items():
            found = _lone_surrogate(k)
            if found is None:
                found = _lone_surrogate(v)
            if found is not None:
                return found
        return None
    if t is list or t is tuple:
        for v in value:
            found = _lone_surrogate(v)
            if found is not None:
                return found
    return None


_FAST_DECODE: Final = msgspec.json.Decoder().decode


def _dict_values(obj: dict[str, Any]) -> dict[Any, Any]:
    """A decoded JSON object as a map: keyword keys (interned), lists as tuples, nested ones too."""
    recent = _RECENT.get
    out: dict[Any, Any] = {}
    for k, v in obj.items():
        t = type(v)
        if t is dict:
            v = _dict_values(v)
        elif t is list:
            v = _list_values(v)
        out[recent(k) or Keyword(k)] = v
    return out


def _list_values(items: list[Any]) -> tuple[Any, ...]:
    for v in items:
        t = type(v)
        if t is dict or t is list:
            break
    else:
        return tuple(items)
    return tuple(
        [_dict_values(v) if type(v) is dict else _list_values(v) if type(v) is list else v for v in items]
    )


def from_json_text(text: str | bytes) -> Any:
    """Parse JSON text into language values; raises ``ValueError`` on bad JSON (:class:`LoneSurrogateError` for
    a string escaping half a UTF-16 pair)."""
    try:
        value = _FAST_DECODE(text)
        t = type(value)
        if t is dict:
            return _dict_values(value)
        if t is list:
            return _list_values(value)
        return value
    except Exception:  # refused (or nested past the recursion limit): the general path decides, as before
        return _from_json_text_general(text)


def _from_json_text_general(text: str | bytes) -> Any:
    """:func:`from_json_text` on Python's own JSON reader: whatever msgspec refuses comes here."""
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    try:
        value = _DECODER.decode(text)
        if "\\u" in text and _SURROGATE_ESCAPE.search(text) is not None:
            code = _lone_surrogate(value)
            if code is not None:
                raise LoneSurrogateError(
                    f"lone surrogate \\u{code:04x} (half of a UTF-16 pair, not a character)"
                )
        return _lists_to_tuples(value)
    except RecursionError:
        raise _too_deep_json() from None


def _too_deep_json() -> ValueLimitError:
    return ValueLimitError("JSON nested too deeply to read (Python's JSON reader stops near 1,000 levels)")


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


def to_json(value: Any, *, limit: int = WALK_LIMIT) -> Any:
    """Convert language values to JSON-ready Python data (keywords become their ``ns/name`` strings).

    A collection nested deeper than :data:`MAX_DEPTH` or past ``limit`` items (a shared part counted each time it
    appears) raises :class:`~streamrt.errors.ValueLimitError`. Small values of the usual types are converted by
    recursion (:data:`FAST_DEPTH`), others by a walk without recursion.
    """
    t = type(value)
    if value is None or t is bool or t is int or t is str:
        return value
    if t is float:
        return value if math.isfinite(value) else None
    if t is Keyword:
        return value.qualified
    if t is dict or t is tuple or t is list or t is LList or t is LSet:
        try:
            return _json_fast(value, 0, [limit])
        except _GiveUp:
            pass
    return _json_walk(value, limit)


def _json_fast(x: Any, level: int, budget: list[int]) -> Any:
    """:func:`to_json` of a dict, vector, list or set by recursion, at most :data:`FAST_DEPTH` deep and
    ``budget[0]`` items walked; any other collection type is left to the walk (which may iterate it only once)."""
    if level >= FAST_DEPTH:
        raise _GiveUp
    budget[0] -= len(x)
    if budget[0] < 0:
        raise _GiveUp
    level += 1
    if type(x) is dict:
        obj: dict[str, Any] = {}
        for k, v in x.items():
            tk = type(k)
            key = k.qualified if tk is Keyword else k if tk is str else _key_to_json(k)
            t = type(v)
            if v is None or t is str or t is int or t is bool:
                obj[key] = v
            elif t is Keyword:
                obj[key] = v.qualified
            elif t is float:
                obj[key] = v if math.isfinite(v) else None
            elif t is dict or t is tuple or t is list or t is LList or t is LSet:
                obj[key] = _json_fast(v, level, budget)
            else:
                raise _GiveUp
        return obj
    arr: list[Any] = []
    emit = arr.append
    for v in x:
        t = type(v)
        if v is None or t is str or t is int or t is bool:
            emit(v)
        elif t is Keyword:
            emit(v.qualified)
        elif t is float:
            emit(v if math.isfinite(v) else None)
        elif t is dict or t is tuple or t is list or t is LList or t is LSet:
            emit(_json_fast(v, level, budget))
        else:
            raise _GiveUp
    return arr


def _json_walk(value: Any, limit: int) -> Any:
    """:func:`to_json` of a collection without recursion."""
    root: list[Any] = [None]
    walked = 0
    stack: list[tuple[Any, Any, Any, int]] = [(root, 0, value, 0)]
    pop = stack.pop
    push = stack.append
    while stack:
        parent, slot, x, level = pop()
        t = type(x)
        if x is None or t is bool or t is int or t is str:
            parent[slot] = x
        elif t is float:
            parent[slot] = x if math.isfinite(x) else None
        elif t is Keyword:
            parent[slot] = x.qualified
        elif isinstance(x, Symbol):
            parent[slot] = x.name
        elif t is dict or isinstance(x, Mapping | Iterable):
            if level >= MAX_DEPTH:
                raise _too_deep()
            level += 1
            if t is dict or isinstance(x, Mapping):
                walked += len(x)
                if walked > limit:
                    raise _too_large(limit)
                obj: dict[str, Any] = {}
                entries = [(_key_to_json(k), v) for k, v in x.items()]
                for k, _ in entries:
                    obj[k] = None
                for k, v in reversed(
                    entries
                ):  # the last of two keys printing alike wins, as in a dict display
                    push((obj, k, v, level))
                parent[slot] = obj
            else:
                items = x if isinstance(x, tuple | list) else list(x)
                walked += len(items)
                if walked > limit:
                    raise _too_large(limit)
                arr: list[Any] = [None] * len(items)
                for i, v in enumerate(items):
                    push((arr, i, v, level))
                parent[slot] = arr
        else:
            parent[slot] = pr_str(x)
    return root[0]


def to_json_text(value: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON text for a language value."""
    if not sort_keys and _plain(value):
        try:
            return _FAST_ENCODE(value).decode("utf-8")
        except (
            Exception
        ):  # a lone surrogate, an integer too long for digits: the general path says so, as before
            pass
    return dumps_json(to_json(value), ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)


def to_json_bytes(value: Any) -> bytes:
    """``to_json_text(value)`` encoded as UTF-8, without the detour through ``str`` when msgspec writes it (what
    an output sink writes); a string that cannot be UTF-8 (a lone surrogate) raises ``UnicodeEncodeError``."""
    if _plain(value):
        try:
            return _FAST_ENCODE(value)
        except Exception:  # the general path gives the same text or the same error as before
            pass
    return to_json_text(value).encode("utf-8")


def _keyword_name(value: Any) -> str:
    """msgspec's hook for the one type it meets that it does not know (:func:`_plain` lets no other through)."""
    if type(value) is Keyword:
        return value.qualified
    raise TypeError(f"not written by the fast path: {type(value).__name__}")


_FAST_ENCODE: Final = msgspec.json.Encoder(enc_hook=_keyword_name).encode

_PLAIN_FLOAT_MIN: Final = 1e-4
_PLAIN_FLOAT_MAX: Final = 1e16
"""Python's ``repr`` of a float writes an exponent below 1e-4 and from 1e16 on, where msgspec writes ``0.00001``
and ``1e16``: floats in between are written alike (the same shortest digits), the others take the general path."""


def _plain(value: Any) -> bool:
    """Whether msgspec writes ``value`` exactly as ``json.dumps(to_json(value))`` does: made of maps whose keys are
    all keywords or all strings, vectors, lists, strings, integers, booleans, nil, keywords and floats written
    without an exponent; nested at most :data:`_PLAIN_DEPTH` deep, no more than :data:`WALK_LIMIT` items (a shared
    part counted each time it appears). Anything else is for the general path, whose errors are the ones to give."""
    t = type(value)
    if t is dict or t is tuple or t is LList or t is list:
        return _plain_items(value, 0, 0) >= 0
    if t is str or t is int or value is None or t is bool or t is Keyword:
        return True
    if t is float:
        a = abs(value)
        return not ((a < _PLAIN_FLOAT_MIN and a != 0.0) or _PLAIN_FLOAT_MAX <= a < math.inf)
    return False


_PLAIN_DEPTH: Final = 64
"""How deep :func:`_plain` looks (it recurses): a value nested deeper takes the general path, which walks any
depth without recursion and says where :data:`MAX_DEPTH` is passed."""


def _plain_items(x: Any, level: int, walked: int) -> int:
    """``walked`` plus the items of the collection ``x`` and of those in it, or -1 when ``x`` is not plain."""
    walked += len(x)
    if walked > WALK_LIMIT or level >= _PLAIN_DEPTH:
        return -1
    items: Iterable[Any] = x
    if type(x) is dict:
        keys: type | None = None
        for k in x:
            tk = type(k)
            if tk is not keys:
                if keys is not None or not (tk is Keyword or tk is str):
                    return -1  # mixed keys may print alike ({:a 1 "a" 2}): the general path keeps one
                keys = tk
        items = x.values()
    for v in items:
        t = type(v)
        if t is str or t is int or t is Keyword or v is None or t is bool:
            continue
        if t is float:
            a = abs(v)
            if (a < _PLAIN_FLOAT_MIN and a != 0.0) or _PLAIN_FLOAT_MAX <= a < math.inf:
                return -1
        elif t is dict or t is tuple or t is LList or t is list:
            walked = _plain_items(v, level + 1, walked)
            if walked < 0:
                return -1
        else:
            return -1
    return walked
