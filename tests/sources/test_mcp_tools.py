"""``streamrt tools URI``: a server's tools over both transports, against the official Python SDK server."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest

from streamrt.cli import EXIT_ERROR, EXIT_OK, main
from tests.sources.conftest import ServerProcess

pytest.importorskip("mcp", reason="the MCP SDK server needs the mcp package (test extra)")
pytestmark = pytest.mark.timeout(60)

STDIO_SERVER = Path(__file__).with_name("mcp_stdio_server.py")


def tools(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["tools", *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_tools_over_stdio_as_json() -> None:
    code, out, err = tools(f"mcp+stdio:{sys.executable}?args={quote(str(STDIO_SERVER))}", "--json")
    assert code == EXIT_OK, err
    listed = {t["name"]: t for t in json.loads(out)}
    assert set(listed) == {"count", "fail", "changes", "crash"}
    assert listed["fail"]["description"] == "Always a tool error."
    assert listed["fail"]["inputSchema"]["properties"]["message"]["type"] == "string"


def test_tools_over_streamable_http_as_text(mcp_server: Callable[..., ServerProcess]) -> None:
    server = mcp_server()
    code, out, err = tools(f"mcp+http://127.0.0.1:{server.port}/mcp")
    assert code == EXIT_OK, err
    lines = out.splitlines()
    assert "count: Report progress steps, log each, return the sum." in lines
    assert "echo: Plain text back." in lines
    schema = json.loads(lines[lines.index("echo: Plain text back.") + 1].removeprefix("    input: "))
    assert schema["required"] == ["text"]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        pytest.param("http://127.0.0.1:9/events", "not an MCP server", id="not-mcp"),
        pytest.param("mcp+stdio:/nonexistent/server", "cannot start it", id="no-such-command"),
        pytest.param("mcp+stdio:?tool=x", "has no command", id="no-command"),
    ],
)
def test_tools_errors_are_one_line(uri: str, message: str) -> None:
    code, out, err = tools(uri)
    assert code == EXIT_ERROR
    assert out == ""
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
