"""``--allow`` / ``--deny`` on ``run``, ``resume`` and ``check``, and the limit flags of ``run``."""

from __future__ import annotations

import io
import json
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamrt.cli import main

pytestmark = pytest.mark.timeout(60)


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


class _Counting(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.server.connections += 1  # type: ignore[attr-defined]


@pytest.fixture
def listener() -> Iterator[socketserver.TCPServer]:
    """A loopback TCP server in a thread that counts connections (and answers none)."""
    server = socketserver.TCPServer(("127.0.0.1", 0), _Counting)
    server.connections = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


DECLARED = """(effects :network :log)
(defn p [state chunk] state)
(mcp-stream "weather.monitor.v1" p)
"""


def test_check_reports_a_declared_effect_the_context_denies(tmp_path: Path) -> None:
    script = write(tmp_path, "w.rtfs", DECLARED)
    assert cli("check", str(script)) == (0, f"{script}: ok (1 function)\n", "")
    code, out, err = cli("check", "--deny", "network", str(script))
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"{script}:1:10: the script declares the :network effect, but the security context denies :network; "
        "to allow it, drop network from --deny (Python: SecurityContext(deny=...))",
        "  (effects :network :log)",
        "           ^",
    ]
    code, _, err = cli("check", "--allow", "network", str(script))
    assert code == 2 and f"{script}:1:19: " in err and "allows only :network; to allow it, add log" in err


def test_check_reports_literal_calls(tmp_path: Path) -> None:
    script = write(tmp_path, "l.rtfs", '(defn p [s c] s)\n(call :log {:message "x"})\n(mcp-stream "-" p)\n')
    assert cli("check", "--deny", "network", str(script))[0] == 0
    code, _, err = cli("check", "--allow", "none", str(script))
    assert code == 2 and f"{script}:2:1: :log needs the :log effect" in err
    code, _, err = cli("check", "--deny", "stdin", str(script))
    assert code == 2 and f'{script}:3:1: :mcp.stream.start for "-" needs the :stdin effect' in err


def test_run_denied_network_opens_no_connection(tmp_path: Path, listener: socketserver.TCPServer) -> None:
    port = listener.server_address[1]
    script = write(tmp_path, "n.rtfs", f'(defn p [s c] s)\n(mcp-stream "http://127.0.0.1:{port}/events" p)\n')
    code, out, err = cli("run", "--deny", "network", str(script))
    assert (code, out) == (2, "")
    assert f"{script}:2:1: :mcp.stream.start for " in err and "needs the :network effect" in err
    assert listener.connections == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("endpoint", "flags", "effect"),
    [
        pytest.param("data.jsonl", ["--deny", "fs"], "fs", id="fs"),
        pytest.param("-", ["--deny", "stdin"], "stdin", id="stdin"),
        pytest.param("mock:x?count=1", ["--allow", "none"], "log", id="log"),
    ],
)
def test_run_denials(tmp_path: Path, endpoint: str, flags: list[str], effect: str) -> None:
    write(tmp_path, "data.jsonl", '{"v": 1}\n')
    script = write(
        tmp_path, "s.rtfs", f'(defn p [s c] (call :log {{:message "x"}}) s)\n(mcp-stream "{endpoint}" p)\n'
    )
    code, out, err = cli("run", *flags, str(script))
    if effect == "log":  # the denied call is in the processor: the stream fails, the run exits 1
        assert code == 1 and ":log needs the :log effect" in err
    else:
        assert code == 2 and f"needs the :{effect} effect" in err
    assert out == ""


def test_run_judges_the_source_really_read(tmp_path: Path) -> None:
    data = write(tmp_path, "data.jsonl", '{"v": 1}\n{"v": 2}\n')
    script = write(
        tmp_path, "w.rtfs", '(defn p [s c] {:state s :output (:v c)})\n(mcp-stream "weather.monitor.v1" p)\n'
    )
    code, out, err = cli("run", "--deny", "network", "--source", str(data), str(script))
    assert code == 0, err
    assert [json.loads(line)["output"] for line in out.splitlines()] == [1, 2]
    code, _, err = cli("run", "--deny", "fs", "--source", str(data), str(script))
    assert code == 2 and "needs the :fs effect" in err and "(read from " in err


def test_resume_checks_the_recorded_source(tmp_path: Path) -> None:
    write(tmp_path, "data.jsonl", '{"v": 1}\n')
    script = write(tmp_path, "r.rtfs", '(defn p [s c] s)\n(mcp-stream "data.jsonl" p {} {:stream-id "r1"})\n')
    store = f"sqlite:///{tmp_path / 'store.db'}"
    assert cli("run", "--store", store, str(script))[0] == 0
    code, _, err = cli("resume", "r1", "--store", store, "--deny", "fs")
    assert code == 2
    assert "the resumed stream 'r1' reads" in err and "needs the :fs effect" in err
    assert cli("resume", "r1", "--store", store, "--deny", "network")[0] == 0


LOOPY = """(defn twice [n] (if (> n 0) (do (twice (dec n)) (twice (dec n))) 0))
(defn p [s c] {:state s :output (twice 14)})
(defn big [s c] {:state s :output (count (range 1500000))})
"""


def test_limit_flags(tmp_path: Path) -> None:
    script = write(tmp_path, "l.rtfs", LOOPY + '(mcp-stream "mock:x?count=1" p)\n')
    code, _, err = cli("run", "--fuel", "1000", str(script))
    assert code == 1 and "fuel limit exceeded: more than 1,000 steps" in err and "--fuel N" in err
    assert cli("run", str(script))[0] == 0
    big = write(tmp_path, "b.rtfs", LOOPY + '(mcp-stream "mock:x?count=1" big)\n')
    code, _, err = cli("run", str(big))
    assert code == 1 and "max-size limit exceeded" in err
    code, out, _ = cli("run", "--no-limits", str(big))
    assert code == 0 and json.loads(out)["output"] == 1_500_000
    code, _, err = cli("run", "--max-size", "2000000", str(big))
    assert code == 0
    code, _, err = cli("run", "--no-limits", "--depth", "5", str(big))
    assert code == 2 and "--no-limits cannot be combined" in err


@pytest.mark.parametrize(
    "endpoint",
    ["data/2024-01-01T10:00:00.jsonl", "2024-01-01T10:00:00.jsonl", "jsonl:data/2024-01-01T10:00:00.jsonl"],
    ids=["folder", "bare-file", "jsonl-scheme"],
)
def test_deny_fs_holds_for_a_path_with_a_colon(tmp_path: Path, endpoint: str) -> None:
    """The effect check and the opener read the URI with one parser (a timestamp in a file name was a bypass)."""
    secret = tmp_path / endpoint.removeprefix("jsonl:")
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text('{"secret": 1}\n', encoding="utf-8")
    script = write(
        tmp_path, "s.rtfs", f'(defn p [state chunk] {{:output chunk}})\n(mcp-stream "{endpoint}" p)\n'
    )
    code, out, err = cli("run", "--deny", "fs", str(script))
    assert (code, out) == (2, "")
    assert "needs the :fs effect" in err and "secret" not in err
    code, out, _ = cli("check", "--deny", "fs", str(script))
    assert code == 2
    code, out, err = cli("run", "--deny", "network", str(script))
    assert code == 0, err
    assert json.loads(out)["output"] == {"secret": 1}
