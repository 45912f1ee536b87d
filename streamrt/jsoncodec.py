"""JSON in and out of the value model: :func:`from_json_text` and :func:`from_json` read JSON into language values
(keyword keys, tuples), :func:`to_json`, :func:`to_json_text` and :func:`to_json_bytes` write them back, with the
walking bounds of :mod:`streamrt.values`; :class:`LoneSurrogateError` is what a string escaping half a UTF-16 pair
raises."""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

import msgspec

from streamrt.errors import ValueLimitError
from streamrt.printer import FAST_DEPTH, long_int_error, pr_str
from streamrt.values import (
    MAX_DEPTH,
    WALK_LIMIT,
    Keyword,
    LList,
    LSet,
    Symbol,
    known_keyword,
    too_deep_error,
    too_large_error,
)

__all__ = [
    "LoneSurrogateError",
    "dumps_json",
    "from_json",
    "from_json_text",
    "from_json_texts",
    "to_json",
    "to_json_bytes",
    "to_json_text",
]


class _GiveUp(Exception):
    """The fast path of :func:`to_json` met a value it leaves to the iterative walk: deeper than
    :data:`~streamrt.printer.FAST_DEPTH`, or too large."""


def dumps_json(data: Any, **options: Any) -> str:
    """``json.dumps(data, **options)`` of JSON-ready data; an integer too long to write as digits raises
    :class:`~streamrt.errors.ValueLimitError` instead of Python's ``ValueError``."""
    try:
        return json.dumps(data, **options)
    except ValueError as e:
        if "integer string conversion" in str(e):
            raise long_int_error() from None
        raise


# Theory of operation: JSON is read by msgspec (a C decoder: about a tenth of the stdlib's time on a chunk's line)
# straight into language values: it is given their type (:func:`_value_type`: maps with keyword keys, tuples,
# scalars, :data:`SHALLOW_DEPTH` levels deep, :data:`TYPED_DEPTH` once a deeper line came) and calls back only to
# make each key a keyword (one C dict lookup, :func:`~streamrt.values.known_keyword`), which took 0.71 us a weather
# line where decoding to dicts and lists and walking them took 0.96. JSON nested deeper is read into dicts with string keys and lists, then
# :func:`_dict_values` turns each dict's keys into keywords and each list into a tuple on the same walk. msgspec
# refuses what it cannot read exactly as Python's json reads it (NaN, 1e400, lone surrogate escapes, nesting past
# the recursion limit), and anything it refuses is read again by the standard library's decoder with the old
# object hook (the general path), which gives the same values and the same errors as before. Writing is the
# mirror: :func:`_plain` looks whether msgspec writes a value byte for byte as ``json.dumps(to_json(value))`` does
# (keyword or string keys, floats Python prints without an exponent, depth and size within bounds) and the rest
# takes the general path.


def _object_hook(pairs: list[tuple[str, Any]]) -> dict[Any, Any]:
    out = {}
    recent = known_keyword
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
    recent = known_keyword
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


def _keyword_key(_: type, name: str) -> Keyword:
    """msgspec's hook for an object's key (the one type it does not know in :data:`_VALUE`)."""
    return known_keyword(name) or Keyword(name)


TYPED_DEPTH: Final = 8
"""How deep msgspec reads JSON straight into language values, once a line nested past :data:`SHALLOW_DEPTH` came;
deeper JSON is read by the walk."""

SHALLOW_DEPTH: Final = 4
"""How deep the typed decoder a process starts with reads. msgspec's decoder for a type has a node per place in
it, and each level of :func:`_value_type` holds the one below twice (in the tuple and in the map): 8 levels cost
27 M instructions to build (3.4% of a whole 10-line ``streamrt run``), 4 levels 1 M. Most JSON lines are shallow;
the first deeper one builds the deep decoder, which reads every line after it (issue #17)."""


def _value_type(depth: int) -> Any:
    """A JSON value nested at most ``depth`` levels, as language values: objects as maps with keyword keys, arrays
    as tuples (at ``depth`` 0 only scalars, so msgspec refuses anything deeper)."""
    value: Any = None | bool | int | float | str
    for _ in range(depth):
        value = None | bool | int | float | str | tuple[value, ...] | dict[Keyword, value]
    return value


def _typed_decoder(depth: int) -> Callable[[str | bytes], Any]:
    """msgspec reading language values itself, ``depth`` levels deep, calling back only for each key: no walk."""
    return msgspec.json.Decoder(_value_type(depth), dec_hook=_keyword_key).decode


_SHALLOW_DECODE: Final = _typed_decoder(SHALLOW_DEPTH)
_typed_decode = _SHALLOW_DECODE
"""The typed decoder in use: :data:`SHALLOW_DEPTH` deep until a line nested deeper comes (:func:`_deepened`)."""


def _deepened(decode: Callable[[str | bytes], Any]) -> bool:
    """After ``decode`` refused a line as nested too deep: whether a deeper decoder now reads lines (then it is
    worth reading that line again)."""
    global _typed_decode
    if decode is not _SHALLOW_DECODE:
        return False
    if _typed_decode is _SHALLOW_DECODE:
        _typed_decode = _typed_decoder(TYPED_DEPTH)
    return True


def from_json_text(text: str | bytes) -> Any:
    """Parse JSON text into language values; raises ``ValueError`` on bad JSON (:class:`LoneSurrogateError` for
    a string escaping half a UTF-16 pair)."""
    decode = _typed_decode
    try:
        return decode(text)
    except msgspec.ValidationError:  # nested deeper than the decoder reads: a deeper one, or dicts and a walk
        if _deepened(decode):
            return from_json_text(text)
    except Exception:  # refused: the general path decides, as before
        return _from_json_text_general(text)
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


def from_json_texts(texts: Sequence[str | bytes]) -> list[Any]:
    """:func:`from_json_text` of each text (a batch of JSON lines): msgspec reads them in one C loop, without a
    Python call a text; when it refuses one, each is read again by :func:`from_json_text`, which decides (the first
    that is not JSON raises)."""
    try:
        return list(map(_typed_decode, texts))
    except Exception:
        return [from_json_text(text) for text in texts]


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
                raise too_deep_error()
            level += 1
            if t is dict or isinstance(x, Mapping):
                walked += len(x)
                if walked > limit:
                    raise too_large_error(limit)
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
                    raise too_large_error(limit)
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
    t = type(value)
    # an output's usual map or vector goes straight to the walk
    plain = _plain_items(value, 0, 0) >= 0 if t is dict or t is tuple else _plain(value)
    if plain:
        try:
            return _FAST_ENCODE(value)
        except Exception:  # the general path gives the same text or the same error as before
            pass
    return to_json_text(value).encode("utf-8")


_FAST_ENCODE: Final = msgspec.json.Encoder(enc_hook=operator.attrgetter("qualified")).encode
"""msgspec, with a keyword (the one type it meets that it does not know: :func:`_plain` lets no other through)
written as its qualified name; the hook is C code, not a Python function called for every keyword key."""

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
