"""``streamrt serve --mcp`` as a user runs it: a process on a loopback port, its MCP endpoint listed by
``streamrt tools``, stopped by its pid with SIGTERM."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from streamrt.cli import EXIT_OK, main

pytestmark = pytest.mark.timeout(90)

SCRIPT = Path(__file__).with_name("totals.rtfs")


def test_serve_with_mcp_lists_its_tools(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamrt", "serve", str(SCRIPT), "--port", "0", "--no-auth", "--mcp"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+) \(MCP at /mcp\)$", line.strip())
        assert found, line
        out, err = io.StringIO(), io.StringIO()
        code = main(["tools", f"mcp+{found.group(1)}/mcp", "--json"], out=out, err=err)
        assert code == EXIT_OK, err.getvalue()
        assert {t["name"] for t in json.loads(out.getvalue())} >= {"stream.start", "stream.watch"}
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
    assert code == 128 + signal.SIGTERM
