"""streamrt.testing: the strategies and the provider state machine, run against a few processors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrt.jsoncodec import to_json
from streamrt.lang.script import load_script
from streamrt.runtime.contract import result
from streamrt.runtime.machine import KNOWN_ACTIONS
from streamrt.testing import chunks, directive_sequences, directives, provider_machine
from streamrt.values import Keyword

from .helpers import collect, counter

COUNT_CHUNKS = """
(defn count-chunks [state chunk meta]
  (let [n (inc (:count state 0))]
    (if (= n 3)
      {:state {:count n} :action :complete :output {:final-count n}}
      {:state {:count n}})))
"""

FICKLE = """
(defn fickle [state chunk]
  (cond
    (= chunk 1) {:state (assoc state :last chunk) :action :pause}
    (= chunk 2) 42
    (= chunk 3) {:action :checkpoint :output chunk}
    :else (assoc state :last chunk)))
"""


def scripted(text: str, name: str) -> Any:
    return load_script(text, filename=f"{name}.rtfs").processor(name)


def python_directive_processor(state: Any, chunk: Any) -> Any:
    """Obeys directives carried in the data, so the machine explores processor-side directives too."""
    if isinstance(chunk, Keyword) and chunk in KNOWN_ACTIONS:
        return result(counter(state, chunk), action=chunk)
    return counter(state, chunk)


small_chunks = st.one_of(st.integers(0, 4), st.sampled_from(KNOWN_ACTIONS), chunks(max_leaves=3))

TestCollect = provider_machine(collect, queue_capacity=3).TestCase
TestDirectives = provider_machine(python_directive_processor, chunk_values=small_chunks).TestCase
TestCountChunks = provider_machine(scripted(COUNT_CHUNKS, "count-chunks"), chunk_values=small_chunks).TestCase
TestFickle = provider_machine(
    scripted(FICKLE, "fickle"), initial_state={}, chunk_values=small_chunks
).TestCase

for _case in (TestCollect, TestDirectives, TestCountChunks, TestFickle):
    _case.settings = settings(max_examples=40, stateful_step_count=20, deadline=None)
del _case


def test_machine_catches_a_runtime_that_reorders(monkeypatch: pytest.MonkeyPatch) -> None:
    """The invariants can fail: a provider that processes the newest chunk first is caught."""
    from streamrt.runtime import stream

    class Lifo(stream.ChunkQueue):
        def popleft(self) -> Any:
            return self.pop()

    original = stream.StreamRecord.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.queue = Lifo(self.queue.capacity)

    monkeypatch.setattr(stream.StreamRecord, "__init__", init)
    machine: Any = provider_machine(collect, queue_capacity=4)()
    try:
        machine.start()
        machine.pause()
        machine.push_several([1, 2])
        machine.resume()
        with pytest.raises(AssertionError, match="out of order"):
            machine.arrival_order_kept()
    finally:
        machine.teardown()


def test_machine_catches_a_runtime_that_loses_drops(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamrt.runtime import stream

    monkeypatch.setattr(stream.StreamRecord, "dropped", property(lambda self: 0, lambda self, v: None))
    machine: Any = provider_machine(counter, queue_capacity=4)()
    try:
        machine.start()
        machine.pause()
        machine.push_several([1, 2])
        machine.finish("cancel")
        with pytest.raises(AssertionError):
            machine.every_chunk_accounted_for()
    finally:
        machine.teardown()


@given(chunks())
def test_chunks_are_json_convertible_language_values(chunk: Any) -> None:
    assert to_json(chunk) is not None or chunk is None


@given(directives(include_continue=False))
def test_directives_strategy(d: Keyword) -> None:
    assert d in KNOWN_ACTIONS and d.name != "continue"


@given(directive_sequences(min_size=2, max_size=5))
def test_directive_sequences(seq: list[Keyword]) -> None:
    assert 2 <= len(seq) <= 5
    assert all(d in KNOWN_ACTIONS for d in seq)
