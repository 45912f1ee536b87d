"""The package as a shell user meets it: ``python -m streamrt``, completion scripts, the version, the license."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

import streamrt
from streamrt.cli import main

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.timeout(60)


def test_python_dash_m_streamrt_checks_a_script() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streamrt", "check", "processors/weather.rtfs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("processors/weather.rtfs: ok")


def test_one_version_source() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert metadata.version("streamrt") == streamrt.__version__


def test_version_flag_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"streamrt {streamrt.__version__}\n"


def test_the_license_file_matches_the_declared_license() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert project["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text("utf-8")
    assert text.startswith("MIT License\n") and "Permission is hereby granted, free of charge" in text


def test_hypothesis_is_a_dependency_and_the_extras_are_split_by_audience() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    names = {dep.split(">")[0].split("=")[0].split("[")[0] for dep in project["dependencies"]}
    assert "hypothesis" in names
    extras = project["optional-dependencies"]
    lint_tools = {"ruff", "mypy", "import-linter", "msgpack-types", "types-jsonschema"}
    assert not any(dep.startswith(tuple(lint_tools)) for dep in extras["test"]), extras["test"]
    assert {dep.split(">")[0] for dep in extras["lint"]} == lint_tools
    assert not any("hypothesis" in dep for deps in extras.values() for dep in deps)
    # nothing tells a user to install a development extra any more
    for path in (ROOT / "streamrt").rglob("*.py"):
        assert "streamrt[test]" not in path.read_text("utf-8"), path


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completion_completes_commands_and_script_files(tmp_path: Path) -> None:
    out = io.StringIO()
    assert main(["completion", "bash"], out=out) == 0
    script = tmp_path / "streamrt.bash"
    script.write_text(out.getvalue(), encoding="utf-8")
    (tmp_path / "weather.rtfs").write_text("", encoding="utf-8")

    def complete(line: str) -> list[str]:
        words = line.split(" ")
        probe = (
            f"source {script}; COMP_WORDS=({' '.join(words)}); COMP_CWORD={len(words) - 1}; "
            f'COMP_LINE="{line}"; COMP_POINT=${{#COMP_LINE}}; '
            '_shtab_streamrt streamrt "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"; printf "%s\\n" "${COMPREPLY[@]}"'
        )
        done = subprocess.run(
            ["bash", "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert {"run", "resume", "test", "completion"} <= set(complete("streamrt "))
    assert complete("streamrt run wea") == ["weather.rtfs"]
    assert "--store" in complete("streamrt run weather.rtfs --st")


def test_completion_for_an_unknown_shell_is_a_usage_error() -> None:
    err = io.StringIO()
    assert main(["completion", "fish-ish"], out=io.StringIO(), err=err) == 2
