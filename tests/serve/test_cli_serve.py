"""``streamrt serve`` as a user runs it: a process on a loopback port, stopped by its pid with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.serve.conftest import SCRIPT

STREAMRT = (sys.executable, "-c", "from streamrt.cli import entry; entry()")


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*STREAMRT, "serve", str(SCRIPT), "--port", "0", *args],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _close(proc: subprocess.Popen[str]) -> None:
    if proc.stderr is not None:
        proc.stderr.close()


def _url(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert "listening on http://127.0.0.1:" in line, line
    return line.rsplit(" ", 1)[1].strip()


def test_serve_runs_until_sigterm_and_keeps_streams_in_its_store(tmp_path: Path) -> None:
    store = str(tmp_path / "served.db")
    env = {"STREAMRT_API_TOKENS": "carol:carol-token"}
    proc = _serve("--store", store, env=env)
    try:
        url = _url(proc)
        auth = {"Authorization": "Bearer carol-token"}
        r = httpx.post(f"{url}/streams", json={"processor": "echo", "id": "kept"}, headers=auth)
        assert r.status_code == 201, r.text
        assert httpx.post(f"{url}/streams/kept/chunks", json=[1, 2, 3], headers=auth).status_code == 202
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        _close(proc)
    assert code == 128 + signal.SIGTERM
    proc = _serve("--store", store, env=env)
    try:
        url = _url(proc)
        info = httpx.get(f"{url}/streams/kept", headers={"Authorization": "Bearer carol-token"}).json()
        assert info["state"] == {"n": 3} and info["status"] == "active"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 128 + signal.SIGINT
        _close(proc)


def test_serve_without_tokens_or_on_a_public_address_without_auth_is_refused() -> None:
    env = {k: v for k, v in os.environ.items() if k != "STREAMRT_API_TOKENS"}
    done = subprocess.run(
        [*STREAMRT, "serve", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 2 and "no API tokens" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run(
        [*STREAMRT, "serve", str(SCRIPT), "--no-auth", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "loopback" in done.stderr


def test_a_bad_script_names_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.rtfs"
    bad.write_text("(defn f [s c]\n  (nope c))\n")
    done = subprocess.run(
        [*STREAMRT, "serve", str(bad), "--no-auth"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "bad.rtfs:2" in done.stderr and "Traceback" not in done.stderr
