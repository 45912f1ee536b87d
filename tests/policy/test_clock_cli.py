"""``--deny clock`` on ``run`` and ``check``: timers and ``(call :clock)`` need the :clock effect."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policy.test_effects_cli import cli, write

pytestmark = pytest.mark.timeout(60)

TIMED = """
(defn flush-later [state chunk]
  {:state (update state :n (fnil inc 0)) :timers {:flush 1000}})
(mcp-stream "mock:x?count=3" flush-later {} {:stream-id "timed"})
"""

CLOCKED = """
(effects :clock)
(defn stamp [state chunk] {:state state :output (call :clock)})
(mcp-stream "mock:x?count=1" stamp {} {:stream-id "stamped"})
"""


def test_deny_clock_fails_a_stream_that_sets_a_timer(tmp_path: Path) -> None:
    code, out, err = cli("run", "--deny", "clock", str(write(tmp_path, "timed.rtfs", TIMED)))
    assert code == 1, err
    assert out == ""
    assert "stream timed: error" in err
    assert (
        "chunk 1: the result sets timers, which need the :clock effect, but the security context denies :clock"
        in err
    )
    assert "Traceback" not in err


def test_timers_run_when_the_clock_is_allowed(tmp_path: Path) -> None:
    code, _, err = cli("run", str(write(tmp_path, "timed.rtfs", TIMED)))
    assert code == 0, err
    assert "stream timed: completed; processed 3" in err


def test_the_clock_capability_is_checked_before_anything_runs(tmp_path: Path) -> None:
    path = write(tmp_path, "clocked.rtfs", CLOCKED)
    code, _, err = cli("check", "--deny", "clock", str(path))
    assert code == 2
    assert "clocked.rtfs:2:" in err and ":clock" in err
    code, out, err = cli("run", str(path))
    assert code == 0, err
    assert '"output":' in out
