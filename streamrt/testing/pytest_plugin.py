"""The pytest plugin: ``*_test.rtfs`` files are test files, and each ``deftest`` / ``defproperty`` is one test item.

Installed with streamrt (the ``pytest11`` entry point ``streamrt``), so ``pytest processors/`` runs the same tests as
``streamrt test processors/``, with everything pytest brings: ``-k`` on test names, ``-x``, ``--junitxml``, IDE test
explorers, plugins. Each item runs through the same runner as ``streamrt test`` (:mod:`streamrt.testing.runner`); a
failure shows the runner's reason and details, a file that does not load shows ``file:line:col: message`` with the
line and a caret, never a traceback into streamrt. ``--rtfs-runs`` and ``--rtfs-seed`` are ``streamrt test``'s
``--runs`` and ``--seed``. ``-p no:streamrt`` turns the plugin off.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from streamrt.errors import ScriptError, StreamrtError

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr

    from streamrt.testing.runner import TestResult
    from streamrt.testing.specs import ExampleTest, PropertyTest

__all__ = ["RtfsFile", "RtfsItem", "pytest_addoption", "pytest_collect_file"]

_SUFFIX = "_test.rtfs"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("streamrt", "streamrt tests (*_test.rtfs)")
    group.addoption(
        "--rtfs-runs", type=int, metavar="N", default=None, help="runs per defproperty (overrides :runs)"
    )
    group.addoption(
        "--rtfs-seed", type=int, metavar="N", default=None, help="the random seed of every property"
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> RtfsFile | None:
    if file_path.name.endswith(_SUFFIX):
        file: RtfsFile = RtfsFile.from_parent(parent, path=file_path)
        return file
    return None


class _Failed(Exception):
    """A test of the file failed: the runner's verdict."""

    def __init__(self, result: TestResult) -> None:
        super().__init__(result.reason)
        self.result = result


class RtfsFile(pytest.File):
    """One ``*_test.rtfs`` file; loading it compiles the test file and the script it tests."""

    def collect(self) -> Iterator[RtfsItem]:
        from streamrt.testing.scripts import load_test_file

        test_file = load_test_file(str(self.path))
        for test in test_file.tests:
            yield RtfsItem.from_parent(self, name=test.name, test=test)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, ScriptError):
            return excinfo.value.format()
        if isinstance(excinfo.value, StreamrtError):
            return f"{self.path}: {excinfo.value}"
        return super().repr_failure(excinfo)


class RtfsItem(pytest.Item):
    """One ``deftest`` (an example) or ``defproperty`` (a property, shrunk on failure)."""

    def __init__(self, *, test: ExampleTest | PropertyTest, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.test = test

    def runtest(self) -> None:
        from streamrt.testing.runner import run_example, run_property
        from streamrt.testing.specs import ExampleTest

        config = self.config
        if isinstance(self.test, ExampleTest):
            result = run_example(self.test)
        else:
            runs = config.getoption("rtfs_runs", None)
            seed = config.getoption("rtfs_seed", None)
            result = run_property(self.test, runs=runs, seed=seed)
        if not result.ok:
            raise _Failed(result)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | TerminalRepr:
        failure = excinfo.value
        if isinstance(failure, _Failed):
            result = failure.result
            pos = result.pos
            runs = f" ({result.runs} runs)" if result.kind == "property" else ""
            lines = [f"{pos.filename}:{pos.line}:{pos.column}: {result.name}{runs}: {result.reason}"]
            lines += [f"    {line}" for line in result.details]
            return "\n".join(lines)
        if isinstance(failure, ScriptError):
            return failure.format()
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        kind = "deftest" if type(self.test).__name__ == "ExampleTest" else "defproperty"
        return self.path, self.test.pos.line - 1, f"{kind} {self.name}"
