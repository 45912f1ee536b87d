"""How the chunk loops are generated (streamrt/runtime/loops.py): from the whole of their template's text, and a
stream's hand-off loops only when one first runs.

The module cuts the template out of its file by the lines its code spans instead of ``inspect.getsource`` (which
tokenizes the file: milliseconds of every start); the first test checks the cut is exactly what ``getsource`` gives.
"""

from __future__ import annotations

import inspect
import textwrap

import pytest

from streamrt.runtime import loops
from streamrt.runtime.loops import LoopKey


def test_the_template_text_is_what_getsource_reads() -> None:
    expected = textwrap.dedent(inspect.getsource(loops._template))
    assert expected == loops._SOURCE


def test_the_hand_off_loop_is_generated_when_it_first_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loops, "_GENERATED", {})
    monkeypatch.setattr(loops, "_LOOPS", {})
    made = loops.loops_for(False, None, None)
    assert set(loops._GENERATED) == {LoopKey()}  # a stream fed by its source runs only the queued loop
    with pytest.raises(AttributeError):
        made.handoff(None, None, iter(()), {}, 0.0, 0)  # type: ignore[arg-type]  # no record: fails inside
    assert set(loops._GENERATED) == {LoopKey(), LoopKey(queued=False)}


def test_a_generated_loop_keeps_the_lines_of_its_template() -> None:
    """A traceback through a generated loop points at the template's own lines in loops.py."""
    template = loops._template.__code__
    generated = loops.chunk_loop(LoopKey(meta=True, fail=False)).__code__
    assert generated.co_filename == template.co_filename
    assert generated.co_firstlineno == template.co_firstlineno
    source = inspect.getsource(loops).splitlines()
    template_lines = {source[line - 1].strip() for _, _, line in template.co_lines() if line is not None}
    generated_lines = {source[line - 1].strip() for _, _, line in generated.co_lines() if line is not None}
    assert generated_lines <= template_lines
    assert len(generated_lines) > len(template_lines) // 2
