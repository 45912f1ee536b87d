"""Sets: the #{} literal, the value type (equality, hashing, printing, JSON, snapshots) and the set functions."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamrt.jsoncodec import to_json_text
from streamrt.lang.core import equals
from streamrt.printer import pr_str
from streamrt.store.codec import decode_value, encode_value
from streamrt.values import LSet, type_name
from tests.lang.conftest import compile_error, load, run, runtime_error, syntax_error
from tests.lang.core_support import K, call, expect_error

A, B, C = K("a"), K("b"), K("c")


def test_literal_reads_compiles_and_keeps_order() -> None:
    value = run("(defn f [] #{:b :a (inc 1)})")
    assert type(value) is LSet
    assert list(value) == [B, A, 2]
    assert pr_str(value) == "#{:b :a 2}"


def test_constant_literal_is_one_shared_constant() -> None:
    f = load("(defn f [] #{1 2 3})\n").processor("f")
    assert f() is f()


def test_value_semantics() -> None:
    assert LSet([1, 2]) == LSet([2, 1])
    assert hash(LSet([1, 2])) == hash(LSet([2, 1]))
    assert {LSet([A]): 1}[LSet([A])] == 1
    assert equals(LSet([1]), LSet([1.0]))
    assert not equals(LSet([1]), (1,))
    assert type_name(LSet()) == "set"
    assert to_json_text(LSet(["x", A, 1])) == '["x","a",1]'


@given(st.lists(st.one_of(st.integers(), st.text(max_size=3), st.sampled_from([A, B, None, True]))))
def test_snapshot_codec_round_trips_sets(xs: list[Any]) -> None:
    value = {A: LSet(xs), B: (LSet(xs[:2]),)}
    back = decode_value(encode_value(value, stream_id="s"), stream_id="s")
    assert back == value
    assert list(back[A]) == list(value[A])
    assert type(back[A]) is LSet


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        pytest.param("(conj #{1} 2 1)", "#{1 2}", id="conj"),
        pytest.param("(into #{} [3 1 3])", "#{3 1}", id="into"),
        pytest.param("(disj #{1 2 3} 2 9)", "#{1 3}", id="disj"),
        pytest.param("(disj nil 1)", "nil", id="disj-nil"),
        pytest.param("(contains? #{:a} :a)", "true", id="contains"),
        pytest.param("(contains? #{:a} [{:x 1}])", "false", id="contains-unhashable"),
        pytest.param("(get #{:a} :a)", ":a", id="get"),
        pytest.param("(get #{:a} :b :none)", ":none", id="get-default"),
        pytest.param("(:a #{:a})", ":a", id="keyword-lookup"),
        pytest.param("(:a #{})", "nil", id="keyword-lookup-empty"),
        pytest.param("(#{1 2} 2)", "2", id="called"),
        pytest.param("(#{1 2} 3)", "nil", id="called-missing"),
        pytest.param("(filter #{:a :c} [:a :b :c])", "[:a :c]", id="as-predicate"),
        pytest.param("(count #{1 2})", "2", id="count"),
        pytest.param("(empty? #{})", "true", id="empty"),
        pytest.param("(seq #{})", "nil", id="seq-empty"),
        pytest.param("(set [1 2 1])", "#{1 2}", id="set"),
        pytest.param("(set nil)", "#{}", id="set-nil"),
        pytest.param("(hash-set :a :a)", "#{:a}", id="hash-set"),
        pytest.param("(set? #{})", "true", id="set?"),
        pytest.param("(set? [])", "false", id="set?-vector"),
        pytest.param("(fn? #{})", "false", id="not-a-fn"),
        pytest.param("(coll? #{})", "true", id="coll?"),
        pytest.param("(= #{1 2} #{2 1})", "true", id="equal"),
        pytest.param("(set/union #{1 2} #{2 3} nil)", "#{1 2 3}", id="union"),
        pytest.param("(set/union)", "#{}", id="union-none"),
        pytest.param("(clojure.set/intersection #{1 2 3} #{2 3 4} #{3 2})", "#{2 3}", id="intersection"),
        pytest.param("(set/difference #{1 2 3} #{2} #{3})", "#{1}", id="difference"),
        pytest.param("(set/subset? #{1} #{1 2})", "true", id="subset"),
        pytest.param("(set/superset? #{1} #{1 2})", "false", id="superset"),
        pytest.param("(set/select odd? #{1 2 3})", "#{1 3}", id="select"),
        pytest.param("(set/map-invert {:a 1 :b 2})", "{1 :a, 2 :b}", id="map-invert"),
        pytest.param("(set/rename-keys {:a 1 :b 2} {:a :b})", "{:b 1}", id="rename-keys"),
        pytest.param("'#{a 1}", "#{a 1}", id="quoted"),
        pytest.param("{#{1} :x}", "{#{1} :x}", id="as-map-key"),
        pytest.param("#{#{1}}", "#{#{1}}", id="nested"),
        pytest.param("(contains? #{[:a 1] :b} [:a 1])", "true", id="constant-vector-member-with-keyword"),
    ],
)
def test_set_forms(src: str, expected: str) -> None:
    assert pr_str(run(f"(defn f [] {src})")) == expected


def test_duplicate_literal_member_is_a_compile_error() -> None:
    err = compile_error("(def s #{1 :a 1})")
    assert err.message == "duplicate item 1 in set literal"
    assert (err.line, err.column) == (1, 15)


def test_unclosed_set_points_at_its_opener() -> None:
    err = syntax_error("(def s #{1 2)")
    assert (err.line, err.column) == (1, 13)


def test_a_map_cannot_be_a_member() -> None:
    err = runtime_error("(defn f [m] #{m})\n(def x (f {:a 1}))\n")
    assert err.message == "a map cannot be used as a map key or set member"
    assert (err.line, err.column) == (1, 13)
    expect_error("set", (({A: 1},),), "cannot be a set member")
    err2 = compile_error("(def s '#{{:a 1}})")
    assert "a map cannot be a map key or a set member" in err2.message


@pytest.mark.parametrize(
    ("name", "args", "fragment"),
    [
        pytest.param("disj", ((1,), 1), "expected a set, got vector", id="disj"),
        pytest.param("clojure.set/union", (LSet([1]), (2,)), "expected a set, got vector", id="union"),
        pytest.param("clojure.set/intersection", ({A: 1},), "expected a set, got map", id="intersection"),
        pytest.param("clojure.set/difference", (5,), "expected a set, got integer", id="difference"),
        pytest.param("clojure.set/subset?", (LSet(), "x"), "expected a set", id="subset"),
        pytest.param("clojure.set/select", (1, LSet()), "expected a function", id="select"),
        pytest.param("clojure.set/map-invert", ((1,),), "expected a map, got vector", id="map-invert"),
        pytest.param("clojure.set/rename-keys", ({A: 1}, 3), "expected a map, got integer", id="rename-keys"),
        pytest.param("set", (5,), "expected a collection, got integer", id="set"),
    ],
)
def test_set_function_errors(name: str, args: tuple[Any, ...], fragment: str) -> None:
    expect_error(name, args, fragment)


def test_set_functions_never_change_their_arguments() -> None:
    s = LSet([1, 2])
    call("conj", s, 3)
    call("disj", s, 1)
    assert list(s) == [1, 2]
