"""Every ```python block of docs/embedding.md runs as written, so the embedding guide cannot rot.

Each block is a complete program (async ones end in ``asyncio.run(main())``) and runs in a fresh namespace, in a
worker thread so ``asyncio.run`` has no event loop already running around it.
"""

from __future__ import annotations

import linecache
import re
import threading
from pathlib import Path

import pytest

__all__: list[str] = []

DOC = Path(__file__).resolve().parent.parent / "docs" / "embedding.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def _blocks() -> list[tuple[int, str]]:
    text = DOC.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in _BLOCK.finditer(text)]


BLOCKS = _blocks()


def test_the_guide_has_examples_for_each_part() -> None:
    text = "\n".join(code for _, code in BLOCKS)
    assert len(BLOCKS) >= 7
    for name in (
        "load_script",
        "Provider",
        "push_many",
        "push_nowait",
        "open_source",
        "add_sink",
        "outputs(",
    ):
        assert name in text, f"no example uses {name}"


def _run(code: str, filename: str) -> None:
    failure: list[BaseException] = []
    lines = code.splitlines(keepends=True)
    linecache.cache[filename] = (len(code), None, lines, filename)  # so a failure shows the doc's line

    def target() -> None:
        try:
            exec(compile(code, filename, "exec"), {"__name__": "__docs__"})
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=target)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), f"{filename} did not finish in 30 s"
    if failure:
        raise failure[0]


@pytest.mark.parametrize(("line", "code"), BLOCKS, ids=[f"line{line}" for line, _ in BLOCKS])
def test_example_runs(line: int, code: str) -> None:
    _run(code, f"{DOC.name}:{line}")
