"""``pytest`` runs ``*_test.rtfs`` files through the plugin streamrt installs (the ``pytest11`` entry point): one
item per ``deftest`` / ``defproperty``, with ``-k``, ``-x``, JUnit XML and readable failures. Real pytest runs in a
subprocess, in a folder of their own (no ini file of this project)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(300)

COUNTER = """(defn count-up [state chunk]
  (let [n (inc (:n state 0))]
    (if (= n 3) {:state {:n n} :action :complete :output n} {:state {:n n}})))

(mcp-stream "mock:c?count=5" count-up {})
"""

TESTS = """(use "counter.rtfs")

(deftest "counts to three and completes"
  {:chunks [1 2 3 4]
   :expect {:status :completed :state {:n 3} :outputs [3]}})

(deftest "a wrong expectation fails"
  {:chunks [1]
   :expect {:state {:n 7}}})

(deftest "counts one"
  {:chunks [1]
   :end-input false
   :expect {:status :active :state {:n 1}}})

(defproperty "never counts past three"
  {:chunk :int
   :runs 20
   :directives false
   :check (fn [r] (<= (:n (:state r) 0) 3))})
"""


def pytest_run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "counter.rtfs").write_text(COUNTER, encoding="utf-8")
    (tmp_path / "counter_test.rtfs").write_text(TESTS, encoding="utf-8")
    return tmp_path


def test_the_plugin_is_installed_under_pytest11() -> None:
    (entry,) = [e for e in metadata.entry_points(group="pytest11") if e.name == "streamrt"]
    assert entry.value == "streamrt.testing.pytest_plugin"


def test_each_deftest_and_defproperty_is_an_item(folder: Path) -> None:
    done = pytest_run(folder, "--collect-only")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line for line in done.stdout.splitlines() if "::" in line] == [
        "counter_test.rtfs::counts to three and completes",
        "counter_test.rtfs::a wrong expectation fails",
        "counter_test.rtfs::counts one",
        "counter_test.rtfs::never counts past three",
    ]


def test_a_failure_reads_like_streamrt_test_and_x_stops_there(folder: Path) -> None:
    done = pytest_run(folder, "-x")
    assert done.returncode == 1
    assert "1 failed, 1 passed" in done.stdout
    assert "counter_test.rtfs:7:1: a wrong expectation fails: " in done.stdout
    assert "Traceback" not in done.stdout and "streamrt/testing/" not in done.stdout


def test_k_selects_by_name_and_properties_run_with_the_given_runs(folder: Path) -> None:
    done = pytest_run(folder, "-k", "counts or never", "--rtfs-runs", "5", "-v")
    assert done.returncode == 0, done.stdout
    assert "3 passed, 1 deselected" in done.stdout


def test_junit_xml_names_each_test(folder: Path) -> None:
    report = folder / "report.xml"
    done = pytest_run(folder, f"--junitxml={report}")
    assert done.returncode == 1
    cases = {case.get("name"): case for case in ET.parse(report).getroot().iter("testcase")}
    assert set(cases) == {
        "counts to three and completes",
        "a wrong expectation fails",
        "counts one",
        "never counts past three",
    }
    failure = cases["a wrong expectation fails"].find("failure")
    assert failure is not None and "counter_test.rtfs:7:1" in (failure.text or failure.get("message", ""))
    assert cases["counts one"].find("failure") is None


def test_a_test_file_that_does_not_load_is_a_collection_error_with_its_place(folder: Path) -> None:
    (folder / "broken_test.rtfs").write_text(
        '(use "counter.rtfs")\n(deftest "x" {:chunks [1] :expect (cuont)})\n'
    )
    done = pytest_run(folder, "broken_test.rtfs")
    assert done.returncode == 2
    assert "broken_test.rtfs:2:" in done.stdout and "cuont" in done.stdout
    assert "Traceback" not in done.stdout


def test_the_bundled_examples_are_collected_and_run_under_pytest(tmp_path: Path) -> None:
    from streamrt.testing.cli import discover
    from streamrt.testing.scripts import load_test_file

    # a copy: pytest and hypothesis leave caches in the folder they run in
    examples = tmp_path / "processors"
    shutil.copytree(ROOT / "processors", examples)
    names = [test.name for path in discover([str(examples)]) for test in load_test_file(path).tests]
    collected = pytest_run(examples, "--collect-only")
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert f"{len(names)} tests collected" in collected.stdout
    chosen = [name for name in names if "seq" in name.lower() and "3" in name]
    assert chosen, "the examples have a test about seq 3"
    done = pytest_run(examples, "-k", "seq and 3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(chosen)} passed, {len(names) - len(chosen)} deselected" in done.stdout
