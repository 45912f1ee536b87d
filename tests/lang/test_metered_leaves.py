"""Leaves in the metered variant: functions that can run no other script function skip the depth bookkeeping, and
count steps, check the depth and start a chunk exactly as every other metered function does."""

from __future__ import annotations

import pytest

from streamrt.errors import LimitExceededError
from streamrt.lang.meter import Limits
from streamrt.lang.metered import metered
from streamrt.lang.pysource import python_text
from streamrt.lang.reader import read
from streamrt.lang.script import load_script

LEAVES = """
(defn leaf [n] (inc n))
(defn leaf-tree [n] (if (= n 0) (leaf 0) (do (leaf-tree (dec n)) (leaf-tree (dec n)))))
(defn down-to-leaf [n] (if (= n 0) (leaf n) (down-to-leaf (dec n))))
(defn down [n] (if (= n 0) n (down (dec n))))
(defn leaves-by-map [n] (count (map leaf (range n))))
"""


def test_which_functions_are_leaves() -> None:
    """A leaf's prologue has no ``finally``; anything that may call a script function keeps it."""
    src = """
(defn reading [stats t] (if (nil? stats) {:n 1 :max t} (assoc stats :n (inc (:n stats)) :max (max (:max stats) t))))
(defn lookup [m [a b]] (get-in m [a b] (str a b)))
(defn by-map [xs] (map inc xs))
(defn by-arg [f x] (f x))
(defn by-name [x] (reading nil x))
(defn with-fn [x] (fn [] x))
(defn looping [n] (loop [i 0] (if (< i n) (recur (inc i)) i)))
(defn calling [x] (call :log {:message "x"}))
"""
    text = python_text(read(src, "t.rtfs"), "t.rtfs", meter=True)
    defs = text.split("\ndef ")[1:]
    has_finally = {d.split("(", 1)[0]: "finally:" in d for d in defs}
    assert has_finally == {
        "g_reading": False,
        "g_lookup": False,
        "g_by_2d_map": True,
        "g_by_2d_arg": True,
        "g_by_2d_name": True,
        "g_with_2d_fn": True,
        "g_looping": True,
        "g_calling": True,
    }


def test_leaves_count_every_call_as_a_step() -> None:
    script = load_script(LEAVES)
    steps = (
        2 ** (11 + 1) - 2 + 2**11
    )  # the nested calls of (leaf-tree 11), then a leaf call at each of its ends
    assert metered(script.processor("leaf-tree"), Limits(fuel=steps))(11) == 1
    with pytest.raises(LimitExceededError, match="fuel limit exceeded: more than 6,141 steps"):
        metered(script.processor("leaf-tree"), Limits(fuel=steps - 1))(11)


def test_a_leaf_called_by_a_core_function_is_still_charged() -> None:
    script = load_script(LEAVES)
    assert metered(script.processor("leaves-by-map"), Limits(fuel=1000))(1000) == 1000
    with pytest.raises(LimitExceededError, match="fuel limit exceeded"):
        metered(script.processor("leaves-by-map"), Limits(fuel=1000))(1001)


def test_a_leaf_checks_the_depth_at_the_same_nesting() -> None:
    script = load_script(LEAVES)
    limits = Limits(depth=10)
    assert metered(script.processor("down-to-leaf"), limits)(8) == 1
    assert metered(script.processor("down"), limits)(9) == 0
    with pytest.raises(LimitExceededError, match="more than 10 nested"):
        metered(script.processor("down-to-leaf"), limits)(9)
    with pytest.raises(LimitExceededError, match="more than 10 nested"):
        metered(script.processor("down"), limits)(10)


def test_a_leaf_as_the_outermost_call_starts_each_chunk_afresh() -> None:
    script = load_script(LEAVES)
    leaf = metered(script.processor("leaf"), Limits(fuel=1))
    assert [leaf(n) for n in range(5000)] == list(range(1, 5001))
    with pytest.raises(Exception, match="inc"):
        leaf(None)
    # the failed leaf left the depth at zero: the next outermost call is a new chunk with its whole budget
    assert metered(script.processor("down"), Limits(fuel=1, depth=10))(0) == 0
    tree = metered(script.processor("leaf-tree"), Limits(fuel=6142))
    assert leaf(1) == 2 and tree(11) == 1
