"""A script's text is never taken for a path, and a test file's ``(use ...)`` reaches only scripts beside it.

``load_script`` and ``compile_script`` used to read short text with no ``(`` or newline as a file name, so a script
whose whole text was ``/etc/passwd`` printed that file's first line (even under ``--allow none``), and an empty
script said "Is a directory". ``(use "/etc/passwd")`` in a test file read any file the same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streamrt.errors import ScriptCompileError, ScriptSyntaxError, UsageError
from streamrt.lang.script import compile_script, load_script, lower_script, python_script
from streamrt.testing.scripts import load_test_file
from tests.hostile.children import run_streamrt

pytestmark = pytest.mark.timeout(120)

SECRET = "root-only-secret-line"


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    """A file outside any script's folder whose contents must never show up."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    path = elsewhere / "passwd"
    path.write_text(f"{SECRET}:x:0:0\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "command",
    [
        ["run", "x.rtfs", "--allow", "none", "--no-progress"],
        ["check", "x.rtfs"],
        ["lower", "x.rtfs"],
        ["compile", "--python", "x.rtfs"],
    ],
    ids=["run", "check", "lower", "compile"],
)
def test_a_script_whose_text_is_a_path_is_read_as_text(
    tmp_path: Path, secret_file: Path, command: list[str]
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "x.rtfs").write_text(str(secret_file), encoding="utf-8")
    child = run_streamrt(command, cwd=work)
    assert SECRET not in child.out + child.err
    assert child.code == 2
    assert f"x.rtfs:1:1: invalid symbol '{secret_file}'" in child.err


def test_an_empty_script_is_an_empty_script(tmp_path: Path) -> None:
    (tmp_path / "empty.rtfs").write_text("", encoding="utf-8")
    child = run_streamrt(["run", "empty.rtfs", "--no-progress"], cwd=tmp_path)
    assert "directory" not in child.err
    assert "empty.rtfs starts no streams" in child.err
    assert compile_script("").globals == {}


def test_text_and_paths_are_separate_arguments(tmp_path: Path, secret_file: Path) -> None:
    for fn in (compile_script, load_script, lower_script, python_script):
        with pytest.raises(ScriptSyntaxError, match="invalid symbol"):
            fn(str(secret_file))  # type: ignore[operator]
        with pytest.raises(UsageError, match="to read a file, pass path="):
            fn(secret_file)  # type: ignore[operator,arg-type]
        with pytest.raises(UsageError, match="not both"):
            fn("(def x 1)", path=secret_file)  # type: ignore[operator]
    script = tmp_path / "ok.rtfs"
    script.write_text("(def x 41)\n(defn f [] (inc x))\n", encoding="utf-8")
    assert load_script(path=script).processor("f")() == 42
    assert load_script(path=str(script)).filename == str(script)
    assert compile_script(path=script).globals.keys() == {"x", "f"}


def write_test(folder: Path, use: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "t_test.rtfs"
    path.write_text(
        f'(use "{use}")\n(deftest "ok" {{:chunks [] :expect {{:status :completed}}}})\n', encoding="utf-8"
    )
    return path


@pytest.mark.parametrize(
    ("use", "why"),
    [
        pytest.param("{secret}", "is not a script: name an .rtfs file", id="not-rtfs"),
        pytest.param("/etc/hosts.rtfs", "outside the test file's folder", id="absolute"),
        pytest.param("../up.rtfs", "outside the test file's folder", id="parent"),
        pytest.param("sub/../../up.rtfs", "outside the test file's folder", id="dotdot"),
        pytest.param("link.rtfs", "outside the test file's folder", id="symlink-out"),
    ],
)
def test_use_reaches_only_scripts_in_the_test_folder(
    tmp_path: Path, secret_file: Path, use: str, why: str
) -> None:
    (tmp_path / "up.rtfs").write_text(f"; {SECRET}\n(defn p [s c] s)\n", encoding="utf-8")
    folder = tmp_path / "tests"
    folder.mkdir()
    (folder / "link.rtfs").symlink_to(tmp_path / "up.rtfs")
    test_file = write_test(folder, use.format(secret=secret_file))
    with pytest.raises(ScriptCompileError) as info:
        load_test_file(test_file)
    assert "use: " in str(info.value) and why in str(info.value)
    assert SECRET not in info.value.format()
    assert info.value.line == 1 and info.value.column == 6


def test_use_of_a_script_in_the_folder_or_below_still_works(tmp_path: Path) -> None:
    folder = tmp_path / "tests"
    (folder / "lib").mkdir(parents=True)
    (folder / "lib" / "p.rtfs").write_text('(defn p [s c] s)\n(mcp-stream "mock:x" p {})\n', encoding="utf-8")
    loaded = load_test_file(write_test(folder, "lib/p.rtfs"))
    assert [t.name for t in loaded.tests] == ["ok"]
