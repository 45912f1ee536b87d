"""How the chunk loops are generated (streamrt/runtime/loops.py): from the whole of their template's text, and a
stream's hand-off loops only when one first runs.

The module cuts the template out of its file by the lines its code spans instead of ``inspect.getsource`` (which
tokenizes the file: milliseconds of every start); the first test checks the cut is exactly what ``getsource`` gives.
"""

from __future__ import annotations

import inspect
import os
import textwrap
from pathlib import Path

import pytest

from streamrt.lang.cache import ScriptCache
from streamrt.runtime import loops
from streamrt.runtime.loops import LoopKey


def test_the_template_text_is_what_getsource_reads() -> None:
    expected = textwrap.dedent(inspect.getsource(loops._template))
    assert expected == loops._template_source()


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


def _no_generating(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(key: LoopKey) -> None:
        raise AssertionError("generated, not loaded from the cache")

    monkeypatch.setattr(loops, "_specialized", refuse)


def test_a_loop_from_the_cache_is_the_loop_generated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key = LoopKey(meta=True, shape="bare", fail=False)
    monkeypatch.setattr(loops, "_code_cache", None)
    generated = loops._generate(key).__code__
    loops.cache_loops(ScriptCache(tmp_path / "cache"))
    monkeypatch.setattr(loops, "_code_cache", loops._code_cache)  # undone after the test
    assert loops._generate(key).__code__ == generated  # generated, and written
    assert len(list((tmp_path / "cache").glob("*.rtc"))) == 1
    _no_generating(monkeypatch)
    loaded = loops._generate(key).__code__
    assert loaded == generated
    assert (loaded.co_filename, loaded.co_firstlineno) == (generated.co_filename, generated.co_firstlineno)


def test_a_loop_entry_follows_its_template_file(tmp_path: Path) -> None:
    """The entry's key has the template file's mtime and size: an edited loops.py makes its loops again."""
    template = tmp_path / "loops.py"
    template.write_text("x = 1\n")
    cache = ScriptCache(tmp_path / "cache")
    code = compile("y = 2", str(template), "exec")
    cache.store_code("loop", template, code)
    assert cache.load_code("loop", template) == code
    assert cache.load_code("another loop", template) is None
    os.utime(template, ns=(1, 1))
    assert cache.load_code("loop", template) is None
    [entry] = (tmp_path / "cache").glob("*.rtc")
    cache.store_code("loop", template, code)
    for damaged in (b"", entry.read_bytes()[:-5], b"streamrt code 1\n" + b"0" * 64 + b"junk"):
        for written in (tmp_path / "cache").glob("*.rtc"):
            written.write_bytes(damaged)
        assert cache.load_code("loop", template) is None
