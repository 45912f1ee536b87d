"""Property mode against a deliberately broken runtime, and the chunk generator specs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from streamrt.runtime import stream
from streamrt.testing import load_test_file
from streamrt.testing.generators import SpecError, strategy_for
from streamrt.testing.runner import run_property
from streamrt.testing.specs import PropertyTest
from streamrt.values import Keyword

K = Keyword

KEEP = (
    '(defproperty "keeps order" {:processor (fn [s c] {:state (conj s c)}) :initial-state [] :chunk :int})\n'
)


def only_property(tmp_path: Path, text: str) -> PropertyTest:
    path = tmp_path / "p_test.rtfs"
    path.write_text(text, encoding="utf-8")
    (test,) = load_test_file(path).tests
    assert isinstance(test, PropertyTest)
    return test


def test_a_runtime_that_reorders_is_caught_and_shrunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Lifo(stream.ChunkQueue):
        def popleft(self) -> Any:
            return self.pop()

    original = stream.StreamRecord.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.queue = Lifo(self.queue.capacity)

    test = only_property(tmp_path, KEEP)
    assert run_property(test, runs=50).ok
    monkeypatch.setattr(stream.StreamRecord, "__init__", init)
    result = run_property(test, runs=200)
    assert not result.ok
    assert "out of order" in result.reason or "is not the chunk pushed" in result.reason, result.reason
    # shrunk to the smallest case: two chunks queued together, so the LIFO queue hands them over backwards
    assert "shrunk to 1 step(s)" in result.details[-2]
    assert result.details[-1].strip() == "[{:chunks [0 0]}]"


def test_a_runtime_that_loses_drops_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    test = only_property(tmp_path, KEEP)
    monkeypatch.setattr(stream.StreamRecord, "dropped", property(lambda self: 0, lambda self, v: None))
    result = run_property(test, runs=200)
    assert not result.ok
    assert "unaccounted" in result.reason, result.reason


def test_the_seed_makes_runs_repeatable(tmp_path: Path) -> None:
    test = only_property(
        tmp_path,
        '(defproperty "small" {:processor (fn [s c] {:state (+ s c)}) :initial-state 0 :chunk [:int 0 50]\n'
        "  :check (fn [r] (< (:state r) 120))})\n",
    )
    first = run_property(test, runs=100, seed=7)
    again = run_property(test, runs=100, seed=7)
    assert not first.ok
    assert (first.reason, first.details) == (again.reason, again.details)


SPECS = [
    (K("int"), lambda v: type(v) is int),
    ((K("int"), 3, 5), lambda v: 3 <= v <= 5),
    ((K("float"), -1.5, 2), lambda v: isinstance(v, float) and -1.5 <= v <= 2),
    ((K("one-of"), "a", K("b")), lambda v: v in ("a", K("b"))),
    ((K("maybe"), K("bool")), lambda v: v in (None, True, False)),
    ((K("vector"), K("keyword"), 1, 3), lambda v: isinstance(v, tuple) and 1 <= len(v) <= 3),
    (
        {K("city"): "Oslo", K("t"): K("number")},
        lambda v: v[K("city")] == "Oslo" and set(v) == {K("city"), K("t")},
    ),
    (
        (K("map"), {K("a"): K("nil")}, {K("b"): K("string")}),
        lambda v: v[K("a")] is None and set(v) <= {K("a"), K("b")},
    ),
    ((K("or"), (K("const"), K("x")), K("nil")), lambda v: v in (K("x"), None)),
]


@pytest.mark.parametrize(("spec", "ok"), SPECS, ids=[str(i) for i in range(len(SPECS))])
def test_generator_specs(spec: Any, ok: Any) -> None:
    @settings(max_examples=30, deadline=None, database=None)
    @given(strategy_for(spec))
    def check(value: Any) -> None:
        assert ok(value), value

    check()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ((K("int"), 5, 1), ":int: the low bound 5 is above the high bound 1"),
        ((K("vector"),), ":vector takes 1 to 3 argument(s), got 0"),
        ({K("t"): (K("float"), "x", 1)}, 'the bounds of :float must be a number or nil, got "x" at [:t]'),
        (K("flt"), "unknown generator :flt; known: :any :int"),
    ],
)
def test_bad_generator_specs(spec: Any, message: str) -> None:
    with pytest.raises(SpecError) as info:
        strategy_for(spec)
    assert str(info.value).startswith(message)
