"""examples/plugin, built as a wheel and installed next to streamrt in a fresh virtualenv, runs through the CLI.

Both wheels are built without build isolation (hatchling comes from the test environment), so the test needs no
network; the virtualenv gets the two wheels and borrows their dependencies from this environment by path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import streamrt

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "examples" / "plugin"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def run(*argv: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def build_wheel(project: Path, dist: Path) -> Path:
    built = run(
        sys.executable, "-m", "pip", "wheel", project, "--no-deps", "--no-build-isolation", "--no-index",
        "-w", dist, "-q",
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    pytest.importorskip(
        "hatchling", reason="the wheels are built without isolation, with the test extra's hatchling"
    )
    tmp = tmp_path_factory.mktemp("plugin-wheel")
    core = build_wheel(ROOT, tmp / "dist-core")
    plugin = build_wheel(PLUGIN, tmp / "dist-plugin")
    assert core.name.startswith(f"streamrt-{streamrt.__version__}-"), core.name
    assert plugin.name.startswith("streamrt_example_plugin-0.1.0-"), plugin.name
    return core, plugin


@pytest.fixture(scope="module")
def venv(wheels: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    core, plugin = wheels
    tmp = tmp_path_factory.mktemp("plugin-venv")
    env = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, timeout=120)
    bin_dir = env / ("Scripts" if os.name == "nt" else "bin")
    installed = run(bin_dir / "python", "-m", "pip", "install", "--no-deps", "--no-index", "-q", core, plugin)
    assert installed.returncode == 0, installed.stderr
    site = run(
        bin_dir / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    ).stdout.strip()
    # Dependencies (lark, msgpack, ...) come from this environment: appended to sys.path after the wheels, without
    # running that environment's .pth files (so the editable install of this source tree stays out).
    Path(site, "borrowed_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return bin_dir


SCRIPT = """(defn watch [state chunk meta]
  (let [n (inc (:n state 0))]
    {:state {:n n}
     :output {:sensor (:sensor chunk) :temp (:temp chunk) :line (:line meta) :source (:source meta)}}))

(mcp-stream "csv:readings.csv" watch)
"""


def test_the_plugin_source_and_sink_run_through_streamrt_run(venv: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "readings.csv").write_text("sensor,temp\na,21.5\nb,19\n", encoding="utf-8")
    (work / "watch.rtfs").write_text(SCRIPT, encoding="utf-8")
    code = "import streamrt, streamrt_example_plugin; print(streamrt.__file__)"
    where = run(venv / "python", "-c", code, cwd=work)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv.parent), (
        "streamrt must come from the installed wheel"
    )

    result = run(venv / "streamrt", "run", "watch.rtfs", "--sink", "csv:out.csv", cwd=work)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert (work / "out.csv").read_text(encoding="utf-8").splitlines() == [
        "stream,seq,sensor,temp,line,source",
        "watch-1,1,a,21.5,2,csv",
        "watch-1,2,b,19,3,csv",
    ]
    assert "stream watch-1: completed; processed 2, outputs 2" in result.stderr


def test_the_plugin_source_declares_its_effect_and_the_security_context_holds(
    venv: Path, tmp_path: Path
) -> None:
    (tmp_path / "readings.csv").write_text("sensor,temp\na,1\n", encoding="utf-8")
    (tmp_path / "watch.rtfs").write_text(SCRIPT, encoding="utf-8")
    denied = run(venv / "streamrt", "run", "watch.rtfs", "--deny", "fs", cwd=tmp_path)
    assert denied.returncode == 2, denied.stderr
    assert 'for "csv:readings.csv" needs the :fs effect' in denied.stderr
    allowed = run(venv / "streamrt", "run", "watch.rtfs", "--deny", "network", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    assert '"output":{"sensor":"a","temp":1,"line":2,"source":"csv"}' in allowed.stdout


def test_an_unknown_scheme_names_the_installed_ones(venv: Path, tmp_path: Path) -> None:
    (tmp_path / "s.rtfs").write_text('(defn p [s c] s)\n(mcp-stream "parquet:x" p)\n', encoding="utf-8")
    result = run(venv / "streamrt", "run", "s.rtfs", "--sink", "tsv:-", cwd=tmp_path)
    assert result.returncode == 2
    assert (
        "unknown sink scheme 'tsv'; use - (standard output), jsonl:PATH, PATH.jsonl, csv:PATH, csv:-"
        in result.stderr
    )


def test_the_wheel_declares_what_a_user_needs(wheels: tuple[Path, Path]) -> None:
    """One version (streamrt/__init__.py), the MIT license with its file, and hypothesis without any extra."""
    core, _ = wheels
    with zipfile.ZipFile(core) as archive:
        names = archive.namelist()
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(metadata_name).decode("utf-8"))
        (license_name,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        license_text = archive.read(license_name).decode("utf-8")
    assert metadata["Version"] == streamrt.__version__
    assert metadata["License-Expression"] == "MIT"
    assert license_text.startswith("MIT License") and license_text == (ROOT / "LICENSE").read_text("utf-8")
    requires = metadata.get_all("Requires-Dist") or []
    plain = [r for r in requires if "extra ==" not in r]
    assert any(r.startswith("hypothesis") for r in plain), requires
    assert any(r.startswith("shtab") for r in plain), requires
    # the project's own tools are not in a user's install, nor in the test extra
    for tool in ("ruff", "mypy", "import-linter", "pytest"):
        assert not any(r.startswith(tool) for r in plain), (tool, requires)
    assert any(r.startswith("ruff") and "extra == 'lint'" in r for r in requires), requires
    assert not any(r.startswith("ruff") and "extra == 'test'" in r for r in requires), requires


def test_python_dash_m_streamrt_runs_the_command_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    result = run(venv / "python", "-m", "streamrt", "--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"streamrt {streamrt.__version__}"
