"""A state that cannot be stored puts its stream in ``:error`` at once, and the run's exit code, its summary and
``streamrt inspect`` say so; before, the stream was reported ``completed`` while nothing of it was stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.hostile.children import finish, started, write

pytestmark = pytest.mark.timeout(120)

UNSTORABLE = """
(defn keep [state chunk]
  {:state (if (= (:seq chunk) 2) {:f (fn [x] x)} state) :output (:seq chunk)})
(defn other [state chunk] {:n (inc (:n state 0))})
(mcp-stream "mock:a?count=%s" keep {} {:stream-id "keep"})
(mcp-stream "mock:b?count=4" other {} {:stream-id "other"})
"""


@pytest.mark.parametrize("count", ["4", "inf"], ids=["finite", "endless"])
def test_a_state_that_cannot_be_stored_fails_its_stream(tmp_path: Path, count: str) -> None:
    script = write(tmp_path, "keep.rtfs", UNSTORABLE % count)
    store = tmp_path / "store.db"
    with started(["run", str(script), "--store", str(store)], cwd=tmp_path) as proc:
        done = finish(proc)
    assert done.code == 1, done.err
    assert "Traceback" not in done.err and "interrupted" not in done.err
    assert "stream keep: error" in done.err and "cannot be stored" in done.err
    assert "stream other: completed; processed 4" in done.err
    with started(["inspect", "keep", "--store", str(store)], cwd=tmp_path) as proc:
        inspect = finish(proc)
    assert inspect.code == 0, inspect.err
    report = json.loads(inspect.out)
    assert report["status"] == "error"
    assert "cannot be stored" in report["message"]
