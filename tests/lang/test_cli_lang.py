"""``streamrt check`` and ``streamrt lower``; every example script checks; the wheel ships the grammar."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from streamrt.cli import main

ROOT = Path(__file__).resolve().parents[2]
PROCESSORS = sorted(p for p in (ROOT / "processors").glob("*.rtfs") if not p.name.endswith("_test.rtfs"))
CONSOLE_SCRIPT = Path(sys.executable).parent / "streamrt"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def bad_script(tmp_path: Path) -> Path:
    path = tmp_path / "bad.rtfs"
    path.write_text("(defn f [xs]\n  (map inc (cout xs)))\n", encoding="utf-8")
    return path


def test_examples_exist() -> None:
    assert len(PROCESSORS) >= 3


@pytest.mark.parametrize("script", PROCESSORS, ids=lambda p: p.name)
def test_every_example_script_checks(script: Path) -> None:
    code, out, err = cli("check", str(script))
    assert (code, err) == (0, "")
    assert out.startswith(f"{script}: ok (")


def test_check_bad_script(bad_script: Path) -> None:
    code, out, err = cli("check", str(bad_script))
    assert code == 2
    assert out == ""
    assert err == (
        f"{bad_script}:2:13: unknown symbol 'cout' (did you mean 'count'?)\n"
        "    (map inc (cout xs)))\n"
        "              ^\n"
    )


def test_check_reports_each_script_and_fails_if_any_fails(bad_script: Path) -> None:
    good = PROCESSORS[0]
    code, out, err = cli("check", str(good), str(bad_script))
    assert code == 2
    assert f"{good}: ok" in out
    assert err.startswith(f"{bad_script}:2:13:")


@pytest.mark.parametrize(
    ("text", "head"),
    [
        ("(defn f [x]\n  (inc x)", "1:1: '(' is never closed"),
        ('(def s "abc\\q")', "1:12: invalid escape"),
        ("(defn f [] (inc nil 1))", "1:13: wrong number of arguments to inc"),
        ('(mcp-stream "ep" nope)', "1:18: mcp-stream: no function named 'nope'"),
    ],
)
def test_check_errors_are_one_message_never_a_traceback(tmp_path: Path, text: str, head: str) -> None:
    path = tmp_path / "s.rtfs"
    path.write_text(text, encoding="utf-8")
    code, out, err = cli("check", str(path))
    assert out == ""
    assert code == 2
    first, source, caret = err.rstrip("\n").split("\n")
    assert first.startswith(f"{path}:{head}")
    assert source.strip() and caret.strip() == "^"
    assert "Traceback" not in err


def test_check_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = cli("check", str(tmp_path / "absent.rtfs"))
    assert code == 2
    assert err.startswith("streamrt: cannot read script")


def test_lower_prints_the_lowered_forms(tmp_path: Path) -> None:
    path = tmp_path / "s.rtfs"
    path.write_text(
        "; comment\n(defn p [s c] (when (:x c) (-> s (assoc :x 1))))\n(mcp-stream ep p)\n", encoding="utf-8"
    )
    code, out, err = cli("lower", str(path))
    assert (code, err) == (0, "")
    assert out == (
        "(defn p [s c] (if (:x c) (do (assoc s :x 1))))\n"
        '(call :mcp.stream.start {:endpoint "ep" :processor "p" :initial-state {}})\n'
    )


def test_lower_of_a_bad_script_exits_2(bad_script: Path) -> None:
    code, out, err = cli("lower", str(bad_script))
    assert (code, out) == (2, "")
    assert err.startswith(f"{bad_script}:2:13: unknown symbol 'cout'")


def run_console(*args: str, cwd: Path, exe: Path = CONSOLE_SCRIPT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_installed_console_script(tmp_path: Path, bad_script: Path) -> None:
    if not CONSOLE_SCRIPT.exists():
        pytest.skip(f"no console script at {CONSOLE_SCRIPT}")
    ok = run_console("check", str(ROOT / "processors" / "weather.rtfs"), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "weather.rtfs: ok (4 functions)" in ok.stdout
    bad = run_console("check", str(bad_script), cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.startswith(f"{bad_script}:2:13: unknown symbol 'cout'")
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
def test_wheel_in_a_fresh_virtualenv_ships_the_grammar(tmp_path: Path) -> None:
    """Build the wheel, install it alone in a new venv (dependencies borrowed by path), check from outside."""
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-w", str(dist), "-q"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("streamrt-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    vbin = venv / ("Scripts" if os.name == "nt" else "bin")
    vpython = vbin / "python"
    installed = subprocess.run(
        [str(vpython), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    # Dependencies (lark, ...) come from this project's environment: appended to sys.path, after the wheel, and
    # without running that environment's .pth files (so the editable install of the source tree stays out).
    site = subprocess.run(
        [str(vpython), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "borrowed_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")

    work = tmp_path / "elsewhere"
    shutil.copytree(ROOT / "processors", work / "processors")
    where = subprocess.run(
        [str(vpython), "-c", "import streamrt; print(streamrt.__file__)"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), where
    assert not (Path(where).parents[1] / "grammar").exists()

    result = run_console("check", "processors/weather.rtfs", cwd=work, exe=vbin / "streamrt")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "processors/weather.rtfs: ok (4 functions)"
    lowered = run_console("lower", "processors/count_chunks.rtfs", cwd=work, exe=vbin / "streamrt")
    assert lowered.returncode == 0, lowered.stderr
    assert '(call :mcp.stream.start {:endpoint "mock:weather?count=5"' in lowered.stdout
