"""``streamrt test``: the examples' test files pass; broken processors and broken test files are caught and located."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from streamrt.cli import main
from streamrt.testing import load_test_file

ROOT = Path(__file__).resolve().parents[2]
PROCESSORS = ROOT / "processors"
STREAMRT = Path(sys.executable).with_name("streamrt")
EXAMPLES = sorted(p for p in PROCESSORS.glob("*.rtfs") if not p.name.endswith("_test.rtfs"))


def cli(*argv: str, cwd: Path | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    old = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        code = main(["test", *argv], out=out, err=err)
    finally:
        os.chdir(old)
    return code, out.getvalue(), err.getvalue()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


COUNTER = """
(defn counter [state chunk]
  (let [n (inc (:n state 0))]
    (if (= chunk :stop-here)
      {:state {:n n} :action :complete :output n}
      {:state {:n n}})))

(mcp-stream "mock:x?count=3" counter {:n 0} {:stream-id "c"})
"""


def test_every_example_has_a_test_file_with_examples_and_properties() -> None:
    assert EXAMPLES
    for script in EXAMPLES:
        test_path = script.with_name(script.stem + "_test.rtfs")
        assert test_path.is_file(), f"{script.name} has no {test_path.name}"
        kinds = {type(t).__name__ for t in load_test_file(test_path).tests}
        assert kinds == {"ExampleTest", "PropertyTest"}, (test_path.name, kinds)


def test_streamrt_test_processors_passes_and_lists_every_test() -> None:
    expected = []
    files = sorted(PROCESSORS.glob("*_test.rtfs"))
    for path in files:
        for t in load_test_file(path).tests:
            expected.append(f"processors/{path.name}:{t.pos.line}:{t.pos.column}  {t.name}")
    proc = subprocess.run(
        [str(STREAMRT), "test", "processors/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    listed = [re.sub(r" \(\d+ runs\)$", "", line.removeprefix("ok    ")) for line in lines[:-1]]
    assert listed == expected
    assert re.fullmatch(
        rf"{len(expected)} tests in {len(files)} files: {len(expected)} passed, 0 failed \(.*\)", lines[-1]
    )
    assert proc.stderr == ""


def test_wrong_expectation_fails_with_expected_actual_and_place(tmp_path: Path) -> None:
    write(tmp_path, "counter.rtfs", COUNTER)
    write(
        tmp_path,
        "counter_test.rtfs",
        '(use "counter.rtfs")\n\n'
        '(deftest "right" {:chunks [1 2 :stop-here] :expect {:state {:n 3} :outputs [3]}})\n'
        '(deftest "wrong"\n  {:chunks [1 2 :stop-here]\n   :expect {:status :completed :state {:n 4}}})\n',
    )
    code, out, err = cli(str(tmp_path))
    assert code == 1, out + err
    lines = out.splitlines()
    test_file = tmp_path / "counter_test.rtfs"
    assert lines[0].startswith(f"ok    {test_file}:3:1  right")
    assert lines[1] == f"FAIL  {test_file}:4:1  wrong: :state at [:n]: expected 4, got 3"
    assert lines[2].strip() == "expected :state: {:n 4}"
    assert lines[3].strip() == "actual :state:   {:n 3}"
    assert lines[-1].startswith("2 tests in 1 file: 1 passed, 1 failed")


def test_processor_that_throws_is_reported_at_its_script_line(tmp_path: Path) -> None:
    write(tmp_path, "div.rtfs", "(defn ratio [state chunk]\n  {:state (/ 100 chunk)})\n")
    write(
        tmp_path,
        "div_test.rtfs",
        '(deftest "divides" {:processor ratio :chunks [4 0] :expect {:state 25}})\n',
    )
    code, out, _ = cli(str(tmp_path / "div_test.rtfs"))
    assert code == 1
    head, source, caret = out.splitlines()[:3]
    script = tmp_path / "div.rtfs"
    assert head.startswith(f"FAIL  {tmp_path / 'div_test.rtfs'}:1:1  divides: the stream ended in :error: ")
    assert head.endswith(f"{script}:2:11: /: division by zero")
    assert source.strip() == "{:state (/ 100 chunk)})"
    assert caret.strip() == "^" and caret.index("^") - source.index("(/") == 0


def test_expected_error_passes(tmp_path: Path) -> None:
    write(tmp_path, "div.rtfs", "(defn ratio [state chunk]\n  {:state (/ 100 chunk)})\n")
    write(
        tmp_path,
        "div_test.rtfs",
        '(deftest "zero fails" {:processor ratio :chunks [4 0 5]\n'
        '  :expect {:status :error :error "division by zero" :stats {:processed 2 :dropped 1 :errors 1}}})\n',
    )
    code, out, _ = cli(str(tmp_path))
    assert code == 0, out


def test_failing_property_prints_a_shrunk_case(tmp_path: Path) -> None:
    write(tmp_path, "sum.rtfs", "(defn add [state chunk]\n  {:state (+ state chunk) :output state})\n")
    write(
        tmp_path,
        "sum_test.rtfs",
        '(defproperty "stays small" {:processor add :initial-state 0 :chunk [:int 0 1000]\n'
        "  :check (fn [r] (< (:state r) 100))})\n",
    )
    code, out, _ = cli(str(tmp_path))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(
        f"FAIL  {tmp_path / 'sum_test.rtfs'}:1:1  stays small (100 runs): the :check at "
    )
    assert "returned false" in lines[0]
    # shrunk: one chunk, the smallest value that breaks the check
    assert lines[-2].strip() == "[{:chunk 100}]"
    assert "shrunk to 1 step(s)" in lines[-3]


def test_property_reports_a_processor_error_unless_allowed(tmp_path: Path) -> None:
    write(tmp_path, "pick.rtfs", "(defn pick [state chunk]\n  {:state (:a chunk)})\n")
    test = '(defproperty "any chunk" {:processor pick :chunk [:or :int {:a :int}] ALLOW})\n'
    write(tmp_path, "pick_test.rtfs", test.replace("ALLOW", ""))
    code, out, _ = cli(str(tmp_path))
    assert code == 1
    assert "the processor raised at step 1: " in out
    assert f"{tmp_path / 'pick.rtfs'}:2:11: cannot look up a keyword in an integer" in out
    assert "[{:chunk 0}]" in out  # shrunk to the simplest integer
    write(tmp_path, "pick_test.rtfs", test.replace("ALLOW", ":allow-errors true"))
    code, out, _ = cli(str(tmp_path))
    assert code == 0, out


def test_syntax_error_in_a_test_file_is_located_without_traceback(tmp_path: Path) -> None:
    write(tmp_path, "ok_test.rtfs", '(deftest "fine" {:processor (fn [s c] s) :chunks [1]})\n')
    write(tmp_path, "bad_test.rtfs", '(deftest "broken"\n  {:processor (fn [s c] s) :chunks [1 2})\n')
    code, out, err = cli(str(tmp_path))
    assert code == 2
    assert err.startswith(f"{tmp_path / 'bad_test.rtfs'}:2:")
    assert "Traceback" not in err + out
    assert f"ok    {tmp_path / 'ok_test.rtfs'}:1:1  fine" in out  # the other file still ran
    assert out.splitlines()[-1].startswith("1 test in 2 files: 1 passed, 0 failed, 1 file did not load")


def test_misspelled_key_is_reported_at_the_key(tmp_path: Path) -> None:
    write(tmp_path, "k_test.rtfs", '(deftest "typo"\n  {:processor (fn [s c] s)\n   :expcet {:state 1}})\n')
    code, _, err = cli(str(tmp_path))
    assert code == 2
    assert err.splitlines()[0] == (
        f"{tmp_path / 'k_test.rtfs'}:3:4: unknown key :expcet in deftest (did you mean :expect?); known: "
        ":processor :stream :initial-state :on-end :queue-capacity :chunks :steps :source :end-input :expect "
        ":check :timeout-ms"
    )


@pytest.mark.parametrize(
    ("test_text", "message"),
    [
        pytest.param(
            '(defproperty "p" {:processor (fn [s c] s) :chunk [:flot 1 2]})',
            '"p": :chunk: unknown generator :flot; known: ',
            id="generator",
        ),
        pytest.param(
            '(deftest "d" {:processor (fn [s c] s) :steps [{:directive :halt}]})',
            '"d": step 1 of :steps: unknown directive :halt; known: ',
            id="directive",
        ),
        pytest.param(
            '(deftest "d" {:processor (fn [s] s)})',
            '"d": :processor must be a function of 2 or 3 arguments',
            id="arity",
        ),
        pytest.param(
            '(deftest "d" {:stream "nope"})',
            '"d": no :processor given and this file tests no script',
            id="subject",
        ),
    ],
)
def test_bad_test_maps_are_reported_at_the_test(tmp_path: Path, test_text: str, message: str) -> None:
    write(tmp_path, "x_test.rtfs", "\n" + test_text + "\n")
    code, _, err = cli(str(tmp_path))
    assert code == 2
    first = err.splitlines()[0]
    assert first.startswith(f"{tmp_path / 'x_test.rtfs'}:2:1: {message}"), first


def test_script_streams_are_recorded_not_started(tmp_path: Path) -> None:
    # an endpoint that cannot be reached: loading the tested script must not try
    write(tmp_path, "net.rtfs", COUNTER.replace("mock:x?count=3", "http://127.0.0.1:9/never"))
    write(
        tmp_path,
        "net_test.rtfs",
        '(deftest "stream options are used" {:chunks [1 :stop-here] :expect {:outputs [2] :status :completed}})\n',
    )
    test_file = load_test_file(tmp_path / "net_test.rtfs")
    assert test_file.tested is not None
    assert [r.endpoint for r in test_file.tested.stream_requests] == ["http://127.0.0.1:9/never"]
    code, out, _ = cli(str(tmp_path))
    assert code == 0, out


def test_on_end_and_initial_state_come_from_the_scripts_mcp_stream(tmp_path: Path) -> None:
    write(
        tmp_path,
        "tally.rtfs",
        "(defn tally [state chunk] (update state :n + chunk))\n"
        "(defn report [state meta] {:output {:total (:n state)}})\n"
        '(mcp-stream "mock:x" tally {:n 100} {:on-end "report" :stream-id "t"})\n',
    )
    write(
        tmp_path,
        "tally_test.rtfs",
        '(deftest "ends with a report" {:stream "t" :chunks [1 2] :expect {:outputs [{:total 103}]}})\n'
        '(deftest "no report while open" {:chunks [1 2] :end-input false :expect {:outputs [] :state {:n 103}}})\n'
        '(deftest "overrides" {:initial-state {:n 0} :on-end nil :chunks [5] :expect {:outputs [] :state {:n 5}}})\n',
    )
    code, out, _ = cli(str(tmp_path))
    assert code == 0, out


def test_names_of_the_tested_script_cannot_be_redefined(tmp_path: Path) -> None:
    write(tmp_path, "counter.rtfs", COUNTER)
    write(tmp_path, "counter_test.rtfs", "\n(defn counter [s c] s)\n")
    code, _, err = cli(str(tmp_path))
    assert code == 2
    assert err.startswith(f"{tmp_path / 'counter_test.rtfs'}:2:7: 'counter' is already defined by ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["nowhere"], "streamrt test: no such file or folder: nowhere", id="missing"),
        pytest.param(["."], "streamrt test: no *_test.rtfs files under .", id="empty"),
    ],
)
def test_bad_command_lines_exit_2(tmp_path: Path, argv: list[str], message: str) -> None:
    code, out, err = cli(*argv, cwd=tmp_path)
    assert (code, out, err.strip()) == (2, "", message)


def test_keyword_filter_and_runs_override(tmp_path: Path) -> None:
    write(
        tmp_path,
        "f_test.rtfs",
        '(deftest "alpha" {:processor (fn [s c] s) :chunks [1]})\n'
        '(defproperty "beta" {:processor (fn [s c] s) :chunk :int})\n',
    )
    code, out, _ = cli(str(tmp_path), "-k", "bet", "--runs", "7")
    assert code == 0
    assert out.splitlines()[0] == f"ok    {tmp_path / 'f_test.rtfs'}:2:1  beta (7 runs)"
    assert out.splitlines()[1].startswith("1 test in 1 file: 1 passed, 0 failed")
