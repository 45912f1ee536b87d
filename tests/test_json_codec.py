"""The fast JSON codec (msgspec) reads and writes exactly what the standard library's did (issue #17).

The oracle is the old codec, written out here: Python's ``json`` with the object-pairs hook that made keyword keys,
lists turned into tuples, lone surrogates refused; and ``json.dumps(to_json(v))`` for writing. On random JSON (nested,
unicode, escapes, integers past 64 bits, floats of every size) the values must be the same objects of the same types
in the same order, and on broken text the same error, type and message.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from streamrt.errors import ValueLimitError
from streamrt.jsoncodec import (
    LoneSurrogateError,
    dumps_json,
    from_json_text,
    from_json_texts,
    to_json,
    to_json_bytes,
    to_json_text,
)
from streamrt.values import Keyword, LList, LSet, Symbol

# --- the oracle: the codec before msgspec ------------------------------------------------------------------------


def _old_hook(pairs: list[tuple[str, Any]]) -> dict[Any, Any]:
    return {Keyword(k): v for k, v in pairs}


_OLD_DECODER = json.JSONDecoder(object_pairs_hook=_old_hook)


def _tuples(value: Any) -> Any:
    if type(value) is list:
        return tuple(_tuples(v) for v in value)
    if type(value) is dict:
        return {k: _tuples(v) for k, v in value.items()}
    return value


def _lone(value: Any) -> int | None:
    if type(value) is str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return ord(value[exc.start])
        return None
    if type(value) is Keyword:
        return _lone(value.qualified)
    items = (
        value.items() if type(value) is dict else ((v, None) for v in value) if type(value) is list else ()
    )
    for k, v in items:
        found = _lone(k) if k is not None else None
        found = found if found is not None else _lone(v)
        if found is not None:
            return found
    return None


def old_from_json_text(text: str | bytes) -> Any:
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    try:
        value = _OLD_DECODER.decode(text)
        if re.search(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}", text):
            code = _lone(value)
            if code is not None:
                raise LoneSurrogateError(
                    f"lone surrogate \\u{code:04x} (half of a UTF-16 pair, not a character)"
                )
        return _tuples(value)
    except RecursionError:
        raise ValueLimitError(
            "JSON nested too deeply to read (Python's JSON reader stops near 1,000 levels)"
        ) from None


def old_to_json_text(value: Any) -> str:
    return dumps_json(to_json(value), ensure_ascii=False, separators=(",", ":"))


# --- comparing ----------------------------------------------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (1 is not 1.0 nor True), maps in the same order."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if type(a) is dict:
        return (
            list(a) == list(b)
            and all(x is y for x, y in zip(a, b, strict=True))
            and all(same(a[k], b[k]) for k in a)
        )
    if type(a) is tuple:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def outcome(decode: Any, text: str | bytes) -> tuple[str, Any]:
    try:
        return "value", decode(text)
    except Exception as exc:  # the error itself is what is compared
        return type(exc).__name__, str(exc)


def assert_reads_alike(text: str | bytes) -> None:
    new, old = outcome(from_json_text, text), outcome(old_from_json_text, text)
    if new[0] == "value" and old[0] == "value":
        assert same(new[1], old[1]), (text, new[1], old[1])
    else:
        assert new == old, text


# --- reading ------------------------------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.sampled_from(['\n\t"\\/', "\u2028\u0000\x7f", "é日本\U0001f600", "\ud83d\ude00"])
)
json_data = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None)
@given(json_data, st.booleans(), st.sampled_from([None, 0, 2]), st.booleans())
def test_random_json_reads_as_before(data: Any, ascii_only: bool, indent: int | None, as_bytes: bool) -> None:
    text = json.dumps(data, ensure_ascii=ascii_only, indent=indent)
    assert_reads_alike(text.encode("utf-8", "surrogatepass") if as_bytes and ascii_only else text)


@settings(max_examples=200, deadline=None)
@given(json_data, st.data())
def test_broken_json_fails_as_before(data: Any, draw: st.DataObject) -> None:
    text = json.dumps(data)
    at = draw.draw(st.integers(min_value=0, max_value=len(text)))
    cut = draw.draw(st.integers(min_value=0, max_value=3))
    extra = draw.draw(
        st.sampled_from(["", ",", "]", "}", '"', "\\", "x", "\t", "\ud800", "1e999", "NaN", "{"])
    )
    assert_reads_alike(text[:at] + extra + text[at + cut :])


EDGE_CASES = [
    "123456789012345678901234567890",
    "-9223372036854775809",
    "18446744073709551616",
    "1" * 4301,
    "0.1000000000000000055511151231257827",
    "1e400",
    "-1e400",
    "1e-400",
    "NaN",
    "Infinity",
    "-Infinity",
    '{"a": 1, "b": 2, "a": 3}',
    '{"smile": "\\ud83d\\ude00"}',
    '"\\ud800"',
    '{"a": ["x", "\\udc00"]}',
    '{"\\udbff": 1}',
    '"\\ud800\\u0041"',
    '"a\tb"',
    "[1,2",
    "{not json",
    "",
    "   ",
    '{"a": 1} x',
    "\ufeff{}",
    "[1, 2.5e-3, -0, -0.0, 1E2, true, false, null]\r\n",
    "[" * 5000 + "]" * 5000,
    # around the depths msgspec reads into language values itself (jsoncodec.SHALLOW_DEPTH = 4, then TYPED_DEPTH
    # = 8), then the walk
    "[" * 4 + "1" + "]" * 4,
    "[" * 5 + "1" + "]" * 5,
    '{"a":' * 4 + "{}" + "}" * 4,
    '{"a":' * 5 + "[]" + "}" * 5,
    "[" * 8 + "1" + "]" * 8,
    "[" * 9 + "1" + "]" * 9,
    '{"a":' * 8 + "[]" + "}" * 8,
    '{"a":' * 8 + "{}" + "}" * 8,
    '[{"a": [{"b": [{"c": [{"d": [1, {"e": 2}]}]}]}]}, [1e400, -0.0, "x"]]',
    '{"a":' * 3000 + "1" + "}" * 3000,
]


@pytest.mark.parametrize("text", EDGE_CASES)
def test_edge_cases_read_as_before(text: str) -> None:
    assert_reads_alike(text)
    assert_reads_alike(text.encode("utf-8", "surrogatepass"))


def one_by_one(texts: list[Any]) -> list[Any]:
    return [from_json_text(text) for text in texts]


def assert_batch_reads_alike(texts: list[Any]) -> None:
    new, old = outcome(from_json_texts, texts), outcome(one_by_one, texts)
    if new[0] == "value" and old[0] == "value":
        assert len(new[1]) == len(old[1]) and all(map(same, new[1], old[1])), texts
    else:
        assert new == old, texts


@settings(max_examples=100, deadline=None)
@given(st.lists(json_data.map(json.dumps) | st.sampled_from(EDGE_CASES), max_size=8), st.booleans())
def test_a_batch_reads_as_each_text_alone(texts: list[str], as_bytes: bool) -> None:
    """A batch of lines (a JSON Lines block's) gives each line's value, or the first bad line's error."""
    assert_batch_reads_alike([t.encode("utf-8", "surrogatepass") for t in texts] if as_bytes else texts)


@pytest.mark.parametrize("raw", [b'{"a": "\xff"}', b"\xc3", b'"\xed\xa0\x80"'], ids=["ff", "cut", "cesu"])
def test_bytes_that_are_not_utf8_fail_as_before(raw: bytes) -> None:
    assert_reads_alike(raw)


_DEEPENING = """
import json, sys
from streamrt import jsoncodec
from streamrt.values import Keyword
shallow = [json.dumps({"city": "Oslo", "temp": 1.5, "tags": [{"a": [1]}]})] * 3
values = jsoncodec.from_json_texts(shallow)
print(jsoncodec._typed_decode is jsoncodec._SHALLOW_DECODE)
deep = '{"a": [{"b": [{"c": 1}]}]}'
values += jsoncodec.from_json_texts([shallow[0], deep, shallow[0]])
print(jsoncodec._typed_decode is jsoncodec._SHALLOW_DECODE)
print(values[-2] == {Keyword("a"): ({Keyword("b"): ({Keyword("c"): 1},)},)})
"""


def test_shallow_lines_build_no_deep_decoder_and_the_first_deeper_line_does() -> None:
    """The 8-level typed decoder costs 27 M instructions to build: built when a line needs it, not at import."""
    done = subprocess.run([sys.executable, "-c", _DEEPENING], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "True"]


def test_keys_are_interned_keywords() -> None:
    first = from_json_text(b'{"codec/city": "Oslo", "nested": [{"codec/city": "Lima"}]}')
    key = next(iter(first))
    assert key is Keyword("codec/city") and (key.namespace, key.name) == ("codec", "city")
    assert next(iter(first[Keyword("nested")][0])) is key
    assert next(iter(from_json_text('{"codec/city": 1}'))) is key


# --- writing ------------------------------------------------------------------------------------------------------

keys = st.sampled_from([Keyword("a"), Keyword("ns/b"), Keyword("c")]) | st.text(max_size=6).map(Keyword)
floats = st.floats() | st.sampled_from([1e16, 9999999999999998.0, 1e-4, 9.999999999999999e-05, 5e-324, -0.0])
atoms = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | floats
    | st.text()
    | keys
    | st.builds(Symbol, st.sampled_from(["x", "foo"]))
)
values = st.recursive(
    atoms,
    lambda inner: (
        st.lists(inner, max_size=4).map(tuple)
        | st.lists(inner, max_size=4).map(LList)
        | st.lists(inner, max_size=4)
        | st.lists(st.integers(max_value=5) | keys, max_size=3).map(LSet)
        | st.dictionaries(keys, inner, max_size=4)
        | st.dictionaries(st.text(max_size=4), inner, max_size=4)
        | st.dictionaries(
            keys | st.text(max_size=2) | st.integers(max_value=3) | st.none(), inner, max_size=4
        )
    ),
    max_leaves=20,
)


def write_outcome(encode: Any, value: Any) -> tuple[str, Any]:
    try:
        return "text", encode(value)
    except Exception as exc:  # the error itself is what is compared
        return type(exc).__name__, str(exc)


@settings(max_examples=300, deadline=None)
@given(values)
@example({Keyword("a"): 1, "a": 2})
@example({Keyword("x"): [1e16, 1e-05, float("nan"), float("inf"), 0.0001, 123.5]})
@example({None: 1, "null": 2})
@example("\ud800")
@example({Keyword("s"): "half \udc00"})
@example(10**5000)
def test_random_values_write_as_before(value: Any) -> None:
    old = write_outcome(old_to_json_text, value)
    assert write_outcome(to_json_text, value) == old
    old_bytes = write_outcome(lambda v: old_to_json_text(v).encode("utf-8"), value)
    assert write_outcome(to_json_bytes, value) == old_bytes


def test_deep_and_self_sharing_values_fail_as_before() -> None:
    deep: Any = ()
    for _ in range(600):
        deep = (deep,)
    shared: Any = ()
    for _ in range(60):
        shared = (shared, shared)
    for value in (deep, {Keyword("v"): deep}, shared):
        old = write_outcome(old_to_json_text, value)
        assert old[0] == "ValueLimitError"
        assert write_outcome(to_json_text, value) == old
        assert write_outcome(to_json_bytes, value) == old
