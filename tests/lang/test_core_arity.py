"""Every function added for the everyday clojure.core surface is registered with the arity the compiler checks:
too few or too many arguments is a compile error naming the function, before anything runs."""

from __future__ import annotations

import pytest

from streamrt.lang.core import CORE, core_name
from tests.lang.conftest import compile_error

ADDED_TEXT = """
peek pop subvec next ffirst nthrest nthnext butlast take-last drop-last not-empty mapv filterv map-indexed
keep-indexed repeat interleave interpose flatten reductions take-while drop-while split-at split-with take-nth
partition-all partition-by dedupe distinct? constantly complement fnil juxt some-fn every-pred not-any? not-every?
max-key min-key merge-with reduce-kv update-vals update-keys find key val rem int double float boolean true?
false? double? pos-int? neg-int? nat-int? sequential? any? set hash-set set? disj set/union set/intersection
set/difference set/subset? set/superset? set/select set/map-invert set/rename-keys str/blank? str/capitalize
str/triml str/trimr str/trim-newline str/replace str/replace-first str/index-of str/last-index-of
str/split-lines str/reverse str/escape namespace format
"""
ADDED = ADDED_TEXT.split()


@pytest.mark.parametrize("name", ADDED)
def test_arity_is_checked_when_compiling(name: str) -> None:
    registered = core_name(name)
    assert registered is not None, name
    entry = CORE[registered]
    if entry.min_args > 0:
        args = " ".join(["1"] * (entry.min_args - 1))
        err = compile_error(f"(defn f [] ({name} {args}))")
        assert err.message.startswith(f"wrong number of arguments to {name}: expected "), err.message
        assert (err.line, err.column) == (1, 13)
    if entry.max_args is not None:
        args = " ".join(["1"] * (entry.max_args + 1))
        err = compile_error(f"(defn f [] ({name} {args}))")
        assert err.message.startswith(f"wrong number of arguments to {name}: expected "), err.message


@pytest.mark.parametrize("name", ADDED)
def test_every_added_function_has_a_test_file_that_names_it(name: str) -> None:
    from pathlib import Path

    here = Path(__file__).parent
    text = "".join(
        p.read_text(encoding="utf-8") for p in here.glob("test_*.py") if p.name != Path(__file__).name
    )
    registered = core_name(name)
    assert f'"{name}"' in text or f"({name} " in text or f'"{registered}"' in text, name
