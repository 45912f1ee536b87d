"""streamrt repl / eval / compile --python: one namespace per session, located errors, the same limits and
sandbox as scripts; the REPL driven through a pipe and through a pseudo-terminal."""

from __future__ import annotations

import io
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streamrt.cli import main
from streamrt.errors import EffectDeniedError, LimitExceededError, ScriptCompileError, ScriptRuntimeError
from streamrt.lang.meter import Limits
from streamrt.lang.repl import Defined, ReplSession, show
from streamrt.lang.rt import support_names
from streamrt.lang.script import load_script
from streamrt.policy.effects import SecurityContext
from tests.lang.conftest import K

ROOT = Path(__file__).resolve().parents[2]
PROCESSORS = ROOT / "processors"
CLI = [sys.executable, "-c", "from streamrt.cli import entry; entry()"]


def values(session: ReplSession, text: str) -> list[str]:
    return [show(v) for v in session.eval(text)]


# --- the session --------------------------------------------------------------------------------------------------


def test_definitions_persist_and_redefinition_reaches_callers() -> None:
    s = ReplSession()
    assert values(s, "(def x 10)\n(defn f [y] (+ x y))") == ["#'x", "#'f"]
    assert values(s, "(defn g [] (* 2 (f 1)))") == ["#'g"]
    assert values(s, "(g)") == ["22"]
    assert values(s, "(defn f [y] (- x y))") == ["#'f"]
    assert values(s, "(g) (f 4)") == ["18", "6"]
    assert s.names == ["x", "f", "g"]


def test_values_print_in_the_language_form() -> None:
    s = ReplSession()
    assert values(s, '{:a [1 "b" nil]} #{:x} \'(1 2) inc') == [
        '{:a [1 "b" nil]}',
        "#{:x}",
        "(1 2)",
        "#<fn inc>",
    ]


def test_errors_are_located_in_the_session_text_with_its_line() -> None:
    s = ReplSession()
    s.eval("(defn f [x]\n  (inc x))")
    with pytest.raises(ScriptRuntimeError) as info:
        s.eval("(f nil)")
    err = info.value
    assert str(err) == "<repl>:2:3: inc: expected a number, got nil"
    assert err.format().splitlines()[1:] == ["    (inc x))", "    ^"]
    with pytest.raises(ScriptCompileError) as compile_info:
        s.eval("(cout [1])")
    assert str(compile_info.value) == "<repl>:4:2: unknown symbol 'cout' (did you mean 'count'?)"
    assert compile_info.value.format().splitlines()[1] == "  (cout [1])"


def test_definitions_before_an_error_in_the_same_input_stay() -> None:
    s = ReplSession()
    with pytest.raises(ScriptRuntimeError):
        s.eval("(def a 1) (inc nil) (def b 2)")
    assert values(s, "a") == ["1"]
    assert "b" not in s.names


def test_each_expression_runs_under_the_limits_of_one_chunk() -> None:
    s = ReplSession(limits=Limits(fuel=20_000))
    with pytest.raises(LimitExceededError) as info:
        s.eval("(loop [] (recur))")
    assert info.value.limit == "fuel"
    # a fresh budget for the next expression
    assert values(s, "(loop [i 0] (if (< i 15000) (recur (inc i)) i))") == ["15000"]
    assert values(s, "(loop [i 0] (if (< i 15000) (recur (inc i)) i))") == ["15000"]
    with pytest.raises(LimitExceededError, match="max-size"):
        ReplSession(limits=Limits(max_size=2_000)).eval("(range 5000)")
    with pytest.raises(LimitExceededError, match="depth"):
        ReplSession(limits=Limits(depth=50)).eval("(defn r [n] (if (pos? n) (inc (r (dec n))) 0)) (r 100)")


def test_a_recur_at_the_prompt_is_not_in_a_tail_position() -> None:
    with pytest.raises(ScriptCompileError, match="recur: only allowed as the last thing"):
        ReplSession().eval("(recur)")


def test_no_limits_when_asked() -> None:
    assert values(ReplSession(limits=None), "(count (range 2000000))") == ["2000000"]


def test_capabilities_go_through_the_security_context() -> None:
    logged: list[str] = []
    s = ReplSession(log=logged.append)
    s.eval('(call :log {:message "hi"})')
    assert logged == ["hi"]
    denied = ReplSession(security=SecurityContext.parse(deny=["log"]), log=logged.append)
    with pytest.raises(EffectDeniedError) as info:
        denied.eval('(call :log {:message "no"})')
    assert info.value.pos is not None and info.value.pos.filename == "<repl>"
    assert logged == ["hi"]


def test_the_sandbox_holds() -> None:
    s = ReplSession()
    for name in ("__import__", "open", "_type", "__builtins__"):
        with pytest.raises(ScriptCompileError, match="unknown symbol"):
            s.eval(f"({name} 1)")


def test_load_brings_a_scripts_definitions_in_metered() -> None:
    s = ReplSession(load=str(PROCESSORS / "weather.rtfs"), limits=Limits(fuel=10_000))
    assert "aggregate" in s.names
    state = s.eval('(aggregate {:cities {}} {:city "Oslo" :temp 3})')[0]
    assert state == {K("state"): {K("cities"): {"Oslo": {K("count"): 1, K("sum"): 3, K("max"): 3}}}}
    assert s.loaded is not None and len(s.loaded.stream_requests) == 1  # recorded, not run
    with pytest.raises(ScriptRuntimeError) as info:
        s.eval('(summary "x" {:count 0 :sum 1})')
    assert info.value.pos is not None and info.value.pos.filename.endswith("weather.rtfs")
    assert info.value.message == "/: division by zero"
    # the loaded functions are metered too
    with pytest.raises(LimitExceededError):
        s.eval("(reduce (fn [acc x] (add-reading acc x)) {} (range 20000))")


def test_definitions_print_as_vars() -> None:
    assert str(Defined("f")) == "#'f"


# --- streamrt eval ------------------------------------------------------------------------------------------------


def run_main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_eval_prints_the_last_value() -> None:
    assert run_main("eval", "(def x 2) (* x 21)") == (0, "42\n", "")
    assert run_main("eval", '(str/upper-case "a")') == (0, '"A"\n', "")
    assert run_main("eval", "; nothing") == (0, "", "")


def test_eval_errors_print_located_never_a_traceback() -> None:
    code, out, err = run_main("eval", '(inc "a")')
    assert (code, out) == (1, "")
    assert err == '<repl>:1:1: inc: expected a number, got string "a"\n  (inc "a")\n  ^\n'
    code, _, err = run_main("eval", "(inc 1")
    assert code == 2 and err.startswith("<repl>:1:1: '(' is never closed")
    code, _, err = run_main("eval", "(loop [] (recur))", "--fuel", "5000")
    assert code == 1 and "fuel limit exceeded" in err and "Traceback" not in err


def test_eval_with_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROCESSORS)
    code, out, err = run_main("eval", "--load", "count_chunks.rtfs", "(count-chunks {} {:seq 1} {})")
    assert (code, out, err) == (0, "{:state {:count 1}}\n", "")
    code, _, err = run_main("eval", "--load", "missing.rtfs", "1")
    assert code == 2 and "cannot load missing.rtfs" in err


def test_eval_deny() -> None:
    code, _, err = run_main("eval", "--deny", "log", '(call :log {:message "x"})')
    assert code == 2 and "needs the :log effect" in err


# --- streamrt compile --python ------------------------------------------------------------------------------------


@pytest.mark.parametrize("script", sorted(p.name for p in PROCESSORS.glob("*.rtfs") if "_test" not in p.name))
def test_compile_python_prints_code_that_runs_like_the_script(script: str) -> None:
    code, text, err = run_main("compile", "--python", str(PROCESSORS / script))
    assert code == 0, err
    compiled = load_script(path=PROCESSORS / script)
    ns = {"__builtins__": {}, **support_names(), **compiled.compiled.constants}
    ns["_rt_error"] = lambda e: e
    ns["_rt_call"] = lambda *a: None
    exec(compile(text, script, "exec"), ns)
    for fn_name, gdef in compiled.compiled.globals.items():
        if gdef.arity is not None:
            assert callable(ns[gdef.pyname]), fn_name
    assert text.startswith(f"# Python compiled from {PROCESSORS / script} by streamrt.")


def test_compile_python_shows_the_same_code_as_runs() -> None:
    src = "(defn f [m] (if (contains? #{:a} (:k m)) (inc (:n m 0)) [:no]))\n"
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"compile_py_{os.getpid()}.rtfs"
    path.write_text(src, encoding="utf-8")
    try:
        code, text, _ = run_main("compile", "--python", str(path))
        assert code == 0
        assert "_LSet((_Keyword('a'),))" in text
        ns = {"__builtins__": {}, **support_names(), **load_script(path=path).compiled.constants}
        ns["_rt_error"] = lambda e: e
        exec(compile(text, "t", "exec"), ns)
        f = ns["g_f"]
        assert f({K("k"): K("a"), K("n"): 4}) == 5
        assert f({K("k"): K("b")}) == (K("no"),)
        code, metered_text, _ = run_main("compile", "--python", "--metered", str(path))
        assert "_rt_fuel()" in metered_text and "_rt_fuel()" not in text
    finally:
        path.unlink()


def test_compile_python_of_a_bad_script() -> None:
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"compile_bad_{os.getpid()}.rtfs"
    path.write_text("(defn f [] (cout 1))\n", encoding="utf-8")
    try:
        code, out, err = run_main("compile", "--python", str(path))
        assert (code, out) == (2, "")
        assert err.startswith(f"{path}:1:13: unknown symbol 'cout'")
    finally:
        path.unlink()


def test_compile_needs_python() -> None:
    assert run_main("compile", "x.rtfs")[0] == 2


# --- the REPL through a pipe ----------------------------------------------------------------------------------------


def repl_pipe(text: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STREAMRT_HISTORY": os.devnull}
    return subprocess.run(
        [*CLI, "repl", *args],
        input=text,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
        check=False,
    )


def test_repl_through_a_pipe() -> None:
    done = repl_pipe(
        "(defn add [a\n           b]\n  (+ a b))\n"  # one form over three lines
        "(add 1 2) (add 3 4)\n"
        "\n"
        "(add 1)\n"
        '(str/join ","\n  [1 2])\n'
    )
    assert done.stdout.splitlines() == ["#'add", "3", "7", '"1,2"']
    assert done.stderr.splitlines() == [
        "<repl>:6:2: wrong number of arguments to add: expected 2 arguments, got 1",
        "  (add 1)",
        "   ^",
    ]
    assert done.returncode == 1  # a batch with a failure fails


def test_repl_pipe_without_errors_exits_0_and_quits_on_request() -> None:
    done = repl_pipe("(+ 1 1)\n:repl/quit\n(+ 2 2)\n")
    assert (done.returncode, done.stdout, done.stderr) == (0, "2\n", "")


def test_repl_reports_input_that_ends_unfinished() -> None:
    done = repl_pipe("(+ 1\n")
    assert done.returncode == 1
    assert done.stderr.startswith("<repl>:1:1: '(' is never closed (missing ')')")


def test_repl_loads_a_script() -> None:
    done = repl_pipe("(count-chunks {:count 2} {:seq 9} {})\n", "--load", "count_chunks.rtfs", cwd=PROCESSORS)
    assert (done.returncode, done.stdout, done.stderr) == (0, "{:state {:count 3}}\n", "")


# --- the REPL through a pseudo-terminal -----------------------------------------------------------------------------


class Terminal:
    """A child process on a pseudo-terminal, read until expected text appears."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        import pty

        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # pragma: no cover - the child
            os.execve(argv[0], argv, env)
        self.seen = b""

    def expect(self, text: bytes, timeout: float = 60.0) -> bytes:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {text!r}; saw {self.seen[-400:]!r}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                assert chunk, f"the child ended before {text!r}; saw {self.seen[-400:]!r}"
                self.seen += chunk
        before, _, self.seen = self.seen.partition(text)
        return before

    def send(self, text: bytes) -> None:
        os.write(self.fd, text)

    def close(self) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.05)
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        raise AssertionError("the REPL did not exit")


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_repl_on_a_terminal_prompts_continues_and_keeps_history(tmp_path: Path) -> None:
    history = tmp_path / "history"
    env = {**os.environ, "STREAMRT_HISTORY": str(history), "TERM": "dumb"}
    term = Terminal([*CLI, "repl"], env)
    try:
        term.expect(b"rtfs=> ")
        term.send(b"(+ 1\r")
        term.expect(b"...> ")
        term.send(b"2)\r")
        assert b"3" in term.expect(b"rtfs=> ")
        term.send(b"(inc nil)\r")
        out = term.expect(b"rtfs=> ")
        assert b"<repl>:3:1: inc: expected a number, got nil" in out
        assert b"Traceback" not in out
        term.send(b"\x04")  # Ctrl-D: end of input
    finally:
        code = term.close()
    assert code == 0
    assert "(inc nil)" in history.read_text(encoding="utf-8")
