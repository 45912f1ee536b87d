"""`streamrt run --api`: a stream that pauses itself under `streamrt run` is resumed by a person with
`streamrt ctl resume`, and the run then finishes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

STREAMRT = (sys.executable, "-c", "from streamrt.cli import entry; entry()")

SCRIPT = """
(defn gate [state chunk]
  (if (= (:cmd chunk) "hold")
    {:state state :action :pause}
    {:state {:n (inc (:n state 0))} :output {:n (inc (:n state 0)) :v (:v chunk)}}))

(mcp-stream "feed.jsonl" gate {} {:stream-id "gated"})
"""


def _ctl(url: str, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "STREAMRT_API_TOKEN"}
    done = subprocess.run(
        [*STREAMRT, "ctl", "--url", url, *args], capture_output=True, text=True, env=env, timeout=60
    )
    return done.returncode, done.stdout, done.stderr


def test_a_paused_run_is_resumed_with_streamrt_ctl_resume(tmp_path: Path) -> None:
    (tmp_path / "gate.rtfs").write_text(SCRIPT)
    (tmp_path / "feed.jsonl").write_text('{"v": 1}\n{"cmd": "hold"}\n{"v": 2}\n{"v": 3}\n')
    env = {k: v for k, v in os.environ.items() if k != "STREAMRT_API_TOKENS"}
    proc = subprocess.Popen(
        [*STREAMRT, "run", str(tmp_path / "gate.rtfs"), "--api", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "API on http://127.0.0.1:" in line, line
        url = line.rsplit(" ", 1)[1].strip()
        deadline = time.monotonic() + 30
        while True:
            code, out, err = _ctl(url, "inspect", "gated")
            assert code == 0, err
            if json.loads(out)["status"] == "paused":
                break
            assert time.monotonic() < deadline, out
            time.sleep(0.1)
        assert proc.poll() is None  # a paused stream keeps the run waiting
        code, out, err = _ctl(url, "resume", "gated")
        assert code == 0, err
        stdout, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert [json.loads(line)["output"]["v"] for line in stdout.splitlines()] == [1, 2, 3]


def test_run_api_refuses_a_public_address_without_tokens(tmp_path: Path) -> None:
    (tmp_path / "gate.rtfs").write_text(SCRIPT)
    (tmp_path / "feed.jsonl").write_text('{"v": 1}\n')
    env = {k: v for k, v in os.environ.items() if k != "STREAMRT_API_TOKENS"}
    done = subprocess.run(
        [*STREAMRT, "run", str(tmp_path / "gate.rtfs"), "--api", "0.0.0.0:0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2 and "loopback" in done.stderr and "Traceback" not in done.stderr
