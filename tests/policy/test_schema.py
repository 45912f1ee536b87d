"""Schemas as data: each form accepts and refuses values, with the exact path and wording of the complaint."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrt.errors import SchemaViolation, UsageError
from streamrt.jsoncodec import from_json_text
from streamrt.policy.schema import Schema, compile_schema, read_schema
from streamrt.policy.schematree import LEAF_TYPES, describe_found
from streamrt.printer import pr_str
from streamrt.values import Keyword, LList

K = Keyword


def schema(text: str) -> Schema:
    return compile_schema(text, ":input-schema")


def complaint(text: str, value_json: str) -> str:
    """The violation message for a value (given as JSON, or language text when it starts with ``#``)."""
    s = schema(text)
    value = read_schema(value_json[1:]) if value_json.startswith("#") else from_json_text(value_json)
    assert not s.check(value), f"{value_json} should not fit {text}"
    exc = s.violation(value, stream_id="s", subject="chunk 7", seq=7)
    assert isinstance(exc, SchemaViolation)
    return str(exc)


ACCEPT = [
    (":int", "3"),
    (":int", "-12"),
    (":float", "2.5"),
    (":number", "1"),
    (":number", "1.5"),
    (":string", '"hi"'),
    (":bool", "false"),
    (":nil", "null"),
    (":any", '{"x": [1, null]}'),
    (":map", '{"x": 1}'),
    (":vector", "[1, 2]"),
    (":keyword", "#:a/b"),
    ("[:vector :int]", "[]"),
    ("[:vector :int]", "[1, 2, 3]"),
    ("[:vector [:vector :string]]", '[["a"], [], ["b", "c"]]'),
    ("[:map [:value :int]]", '{"value": 1}'),
    ("[:map [:value :int]]", '{"value": 1, "extra": "open maps allow it"}'),
    ("[:map [:a :int] [:b {:optional true} :string]]", '{"a": 1}'),
    ("[:map [:a :int] [:b {:optional true} :string]]", '{"a": 1, "b": "x"}'),
    ("[:map {:closed true} [:a :int]]", '{"a": 1}'),
    ('[:map ["str-key" :int]]', '#{"str-key" 1}'),
    ("[:map [:a :any]]", '{"a": null}'),
    ("[:or :int :string]", '"x"'),
    ("[:or :int :string]", "4"),
    ("[:maybe :int]", "null"),
    ("[:maybe :int]", "5"),
    ("[:enum :red :green]", "#:green"),
    ('[:enum "a" 1 nil]', "null"),
    ('[:enum "a" 1 nil]', "1"),
    ("[:map [:readings [:vector [:map [:temp :number]]]]]", '{"readings": [{"temp": 1}, {"temp": 2.5}]}'),
]


@pytest.mark.parametrize(("text", "value"), ACCEPT, ids=[f"{t} {v}" for t, v in ACCEPT])
def test_accepts(text: str, value: str) -> None:
    s = schema(text)
    v = read_schema(value[1:]) if value.startswith("#") else from_json_text(value)
    assert s.check(v) is True
    assert s.explain(v) is None


def test_lists_are_vectors() -> None:
    s = schema("[:vector :int]")
    assert s.check(LList((1, 2)))
    assert s.check([1, 2])


PREFIX = "stream s: chunk 7 does not match :input-schema"

REFUSE = [
    (":int", "true", f"{PREFIX}: expected :int, found true (a boolean)"),
    (":int", "1.0", f"{PREFIX}: expected :int, found 1.0 (a float)"),
    (":float", "1", f"{PREFIX}: expected :float, found 1 (an integer)"),
    (":number", "false", f"{PREFIX}: expected :number, found false (a boolean)"),
    (":number", '"3"', f'{PREFIX}: expected :number, found "3" (a string)'),
    (":string", "#:a", f"{PREFIX}: expected :string, found :a (a keyword)"),
    (":bool", "0", f"{PREFIX}: expected :bool, found 0 (an integer)"),
    (":keyword", '"a"', f'{PREFIX}: expected :keyword, found "a" (a string)'),
    (":nil", "0", f"{PREFIX}: expected :nil, found 0 (an integer)"),
    (":map", "[1]", f"{PREFIX}: expected a map, found [1] (a vector)"),
    (":vector", '{"a": 1}', f"{PREFIX}: expected a vector, found {{:a 1}} (a map)"),
    ("[:vector :int]", "3", f"{PREFIX}: expected a vector, found 3 (an integer)"),
    ("[:vector :int]", '[1, 2, "x"]', f'{PREFIX} at [2]: expected :int, found "x" (a string)'),
    ("[:map [:value :int]]", "null", f"{PREFIX}: expected a map, found nil"),
    (
        "[:map [:value :int]]",
        '{"value": "hot"}',
        f'{PREFIX} at [:value]: expected :int, found "hot" (a string)',
    ),
    ("[:map [:value :int]]", "{}", f"{PREFIX} at [:value]: required key is missing (expected :int)"),
    ("[:map [:value :int]]", '{"value": null}', f"{PREFIX} at [:value]: expected :int, found nil"),
    (
        "[:map [:a :int] [:b {:optional true} :string]]",
        '{"a": 1, "b": 2}',
        f"{PREFIX} at [:b]: expected :string, found 2 (an integer)",
    ),
    (
        "[:map {:closed true} [:a :int]]",
        '{"a": 1, "z": 2}',
        f"{PREFIX} at [:z]: key not allowed: the map is closed (allowed keys: :a)",
    ),
    (
        "[:map [:readings [:vector [:map [:temp :number]]]]]",
        '{"readings": [{"temp": 1}, {"temp": 2}, {"temp": "hot"}]}',
        f'{PREFIX} at [:readings 2 :temp]: expected :number, found "hot" (a string)',
    ),
    ("[:or :int :string]", "1.5", f"{PREFIX}: expected :int or :string, found 1.5 (a float)"),
    (
        "[:or :int [:map [:a :int]]]",
        '{"a": "x"}',
        f'{PREFIX} at [:a]: expected :int, found "x" (a string)',
    ),
    ("[:maybe :int]", '"x"', f'{PREFIX}: expected nil or :int, found "x" (a string)'),
    (
        "[:maybe [:map [:a :int]]]",
        '{"a": false}',
        f"{PREFIX} at [:a]: expected :int, found false (a boolean)",
    ),
    ("[:enum :red :green]", "#:blue", f"{PREFIX}: expected one of :red :green, found :blue (a keyword)"),
    ("[:enum :red :green]", '"red"', f'{PREFIX}: expected one of :red :green, found "red" (a string)'),
    ("[:enum 1]", "true", f"{PREFIX}: expected one of 1, found true (a boolean)"),
    ("[:enum 1]", "1.0", f"{PREFIX}: expected one of 1, found 1.0 (a float)"),
    ("[:enum :a]", "{}", f"{PREFIX}: expected one of :a, found {{}} (a map)"),
]


@pytest.mark.parametrize(("text", "value", "message"), REFUSE, ids=[f"{t} {v}" for t, v, _ in REFUSE])
def test_refuses_with_path_and_expectation(text: str, value: str, message: str) -> None:
    assert complaint(text, value) == message


def test_violation_carries_its_parts() -> None:
    s = schema("[:map [:xs [:vector :int]]]")
    v = from_json_text('{"xs": [1, "two"]}')
    exc = s.violation(v, stream_id="sensors", subject="chunk 3", seq=3)
    assert (exc.stream_id, exc.seq, exc.option, exc.path) == ("sensors", 3, ":input-schema", (K("xs"), 1))
    assert exc.problem == 'expected :int, found "two" (a string)'


def test_long_values_are_cut_in_messages() -> None:
    text = describe_found("x" * 500)
    assert len(text) < 100
    assert text.endswith("(a string)")


MALFORMED = [
    (":integer", "unknown type :integer; known types: :int"),
    ("[:map [:value :integer]]", "unknown type :integer"),
    ("[:map [:value :integer]]", "in :integer"),
    ("3", "a schema is a type keyword such as :int or a vector such as [:vector :int], not 3 (an integer)"),
    ("[]", "not [] (a vector)"),
    ("[:list :int]", "a schema vector starts with one of [:vector ...] [:map ...]"),
    ("[:vector]", "[:vector T] takes exactly one schema, got 0"),
    ("[:vector :int :int]", "[:vector T] takes exactly one schema, got 2"),
    ("[:maybe]", "[:maybe T] takes exactly one schema, got 0"),
    ("[:or]", "[:or ...] needs at least one schema"),
    ("[:enum]", "[:enum ...] needs at least one member"),
    ("[:enum [1]]", "an enum member must be a scalar, not [1] (a vector)"),
    ("[:map :a]", "a map entry is [key schema] or [key {:optional true} schema], not :a"),
    ("[:map [:a]]", "a map entry is [key schema]"),
    ("[:map [:a :int :int]]", "a map entry is [key schema]"),
    ("[:map [[:a] :int]]", "a map key in a schema is a keyword, string or integer, not [:a]"),
    ("[:map [:a :int] [:a :string]]", "key :a appears twice"),
    ("[:map [:a {:optinal true} :int]]", "unknown property :optinal (allowed here: :optional)"),
    ("[:map {:closed 1} [:a :int]]", "property :closed must be true or false, not 1"),
    ("[:vector {:closed true} :int]", "unknown property :closed (allowed here: none)"),
    ("[:map [:a (inc 1)]]", "a schema is data: keywords, vectors, maps and literals only"),
    ("[:map", "cannot read it"),
    (":int :string", "expected one schema, found 2 forms"),
]


@pytest.mark.parametrize(("text", "fragment"), MALFORMED, ids=[t for t, _ in MALFORMED])
def test_malformed_schema_names_option_and_bad_part(text: str, fragment: str) -> None:
    with pytest.raises(UsageError) as info:
        compile_schema(text, ":output-schema")
    message = str(info.value)
    assert message.startswith(":output-schema: malformed schema ")
    assert fragment in message


def test_data_and_text_compile_the_same() -> None:
    data = (K("map"), (K("value"), K("int")))
    a, b = compile_schema(data, ":input-schema"), schema("[:map [:value :int]]")
    assert a.spec == b.spec == data
    assert a.check({K("value"): 1}) and b.check({K("value"): 1})
    assert compile_schema(a, ":input-schema") is a
    assert compile_schema(a, ":state-schema").option == ":state-schema"


def test_schema_text_never_becomes_code() -> None:
    evil = '") or True or ("'
    s = compile_schema((K("map"), (evil, K("int"))), ":input-schema")
    assert not s.check({})
    assert s.check({evil: 1})
    assert not s.check({evil: "1"})


# --- properties -------------------------------------------------------------------------------------------------

_LEAVES = [K(name) for name in LEAF_TYPES]
_KEYS = st.sampled_from([K("a"), K("b"), K("c"), K("ns/d"), "e", 5])
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=3),
    st.sampled_from([K("a"), K("b"), K("x/y")]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(_KEYS, inner, max_size=3),
    ),
    max_leaves=12,
)


def _map_schema(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    entry = st.tuples(_KEYS, st.booleans(), inner).map(
        lambda e: (e[0], {K("optional"): True}, e[2]) if e[1] else (e[0], e[2])
    )
    entries = st.lists(entry, max_size=3, unique_by=lambda e: e[0])
    return st.tuples(st.booleans(), entries).map(
        lambda p: (K("map"), {K("closed"): True}, *p[1]) if p[0] else (K("map"), *p[1])
    )


SCHEMAS = st.recursive(
    st.sampled_from(_LEAVES),
    lambda inner: st.one_of(
        inner.map(lambda t: (K("vector"), t)),
        inner.map(lambda t: (K("maybe"), t)),
        st.lists(inner, min_size=1, max_size=3).map(lambda ts: (K("or"), *ts)),
        st.lists(_SCALARS, min_size=1, max_size=3).map(lambda ms: (K("enum"), *ms)),
        _map_schema(inner),
    ),
    max_leaves=8,
)

_LEAF_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "int": st.integers(),
    "float": st.floats(allow_nan=False),
    "number": st.one_of(st.integers(), st.floats(allow_nan=False)),
    "string": st.text(max_size=5),
    "bool": st.booleans(),
    "keyword": st.sampled_from([K("a"), K("q/z")]),
    "nil": st.none(),
    "any": _VALUES,
    "map": st.dictionaries(_KEYS, _VALUES, max_size=2),
    "vector": st.lists(_VALUES, max_size=2).map(tuple),
}


def values_for(spec: Any) -> st.SearchStrategy[Any]:
    """Values that fit ``spec``: a test oracle written from the documented meaning, not from the compiler."""
    if isinstance(spec, Keyword):
        return _LEAF_VALUES[spec.name]
    head, *rest = spec
    if head is K("vector"):
        return st.lists(values_for(rest[0]), max_size=3).map(tuple)
    if head is K("maybe"):
        return st.one_of(st.none(), values_for(rest[0]))
    if head is K("or"):
        return st.one_of(*[values_for(r) for r in rest])
    if head is K("enum"):
        return st.sampled_from(rest)
    closed = bool(rest and isinstance(rest[0], dict) and rest[0].get(K("closed")))
    entries = [e for e in rest if isinstance(e, tuple)]
    declared = {e[0] for e in entries}
    parts = {e[0]: (len(e) == 3, values_for(e[-1])) for e in entries}

    @st.composite
    def build(draw: st.DrawFn) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        if not closed:
            extra = draw(st.dictionaries(_KEYS.filter(lambda k: k not in declared), _VALUES, max_size=2))
            out.update(extra)
        for key, (optional, values) in parts.items():
            if not optional or draw(st.booleans()):
                out[key] = draw(values)
        return out

    return build()


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_generated_values_fit_their_schema(data: st.DataObject) -> None:
    spec = data.draw(SCHEMAS, label="schema")
    s = compile_schema(spec, ":input-schema")
    value = data.draw(values_for(spec), label="value")
    assert s.check(value), f"{pr_str(value)} should fit {pr_str(spec)}"
    assert s.explain(value) is None


@settings(max_examples=300, deadline=None)
@given(SCHEMAS, _VALUES)
def test_fast_check_and_explanation_agree(spec: Any, value: Any) -> None:
    s = compile_schema(spec, ":input-schema")
    found = s.explain(value)
    assert s.check(value) is (found is None), f"{pr_str(spec)} on {pr_str(value)}: explain says {found}"
    assert s.check_queued([(1, 0, None, 0.0), (2, value, None, 0.0)]) is (s.check(0) and s.check(value))
    assert s.check_queued([(1, value, None, 0.0)]) is s.check(value)
    assert s.check_all([0, value]) is (s.check(0) and s.check(value))
    assert s.check_all([value]) is s.check(value)
    if found is not None:
        message = str(s.violation(value, stream_id="s", subject="chunk 1"))
        assert found[1] in message
