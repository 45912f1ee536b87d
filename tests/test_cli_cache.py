"""``streamrt run`` and the compiled-script cache, as a user meets them: real processes, real files.

Each test points ``STREAMRT_CACHE_DIR`` at a directory of its own (the session's conftest already keeps every run
away from ``~/.cache``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streamrt.lang.cache import ScriptCache

pytestmark = pytest.mark.timeout(120)

SCRIPT = """
(defn add [state chunk] {:state {:sum (+ (:sum state) (:v chunk))} :output {:v (:v chunk)}})
(defn report [state meta] {:output {:sum (:sum state)}})
(mcp-stream "jsonl:data.jsonl" add {:sum 0} {:on-end "report" :stream-id "adder"})
"""

FAILING = """
(defn add [state chunk] {:state {:sum (+ (:sum state) (:v chunk))}})
(def start
  {:sum (+ (count [1 2])
           (:missing {}))})
(mcp-stream "jsonl:data.jsonl" add start {:stream-id "adder"})
"""

ENDLESS = """
(defn spin [state chunk] {:state (loop [i 0] (if (< i 100000000) (recur (inc i)) i))})
(mcp-stream "jsonl:data.jsonl" spin {} {:stream-id "spin"})
"""

DEEP = """
(defn deep [n] (if (= n 0) 0 (inc (deep (dec n)))))
(defn dive [state chunk] {:state (deep (:v chunk))})
(mcp-stream "jsonl:data.jsonl" dive {} {:stream-id "dive"})
"""


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "data.jsonl").write_text("".join(json.dumps({"v": v}) + "\n" for v in (1, 2, 3)))
    return tmp_path


def run(
    work: Path, script: str, cache: Path, *flags: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    (work / "job.rtfs").write_text(script, encoding="utf-8")
    environment = {**os.environ, "STREAMRT_CACHE_DIR": str(cache), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "streamrt", "run", "job.rtfs", "--no-progress", *flags],
        cwd=work,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def entries(directory: Path) -> list[Path]:
    return sorted(directory.glob("script-*.rtc")) if directory.is_dir() else []


def test_the_second_run_loads_the_entry_the_first_wrote(work: Path) -> None:
    cache = work / "cache"
    first = run(work, SCRIPT, cache)
    assert first.returncode == 0, first.stderr
    [entry] = entries(cache)
    written = entry.stat().st_mtime_ns
    second = run(work, SCRIPT, cache)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    assert [json.loads(line)["output"] for line in second.stdout.splitlines()][-1] == {"sum": 6}
    assert entries(cache) == [entry] and entry.stat().st_mtime_ns == written  # read, not written again


@pytest.mark.parametrize(
    ("flags", "env"),
    [
        pytest.param(("--no-cache",), {}, id="--no-cache"),
        pytest.param((), {"STREAMRT_NO_CACHE": "1"}, id="env"),
    ],
)
def test_the_cache_can_be_turned_off(work: Path, flags: tuple[str, ...], env: dict[str, str]) -> None:
    cache = work / "cache"
    done = run(work, SCRIPT, cache, *flags, env=env)
    assert done.returncode == 0, done.stderr
    assert not cache.exists()


def test_a_changed_script_runs_its_new_text(work: Path) -> None:
    cache = work / "cache"
    assert run(work, SCRIPT, cache).returncode == 0
    done = run(work, SCRIPT.replace("(:sum state)}}", "(* 10 (:sum state))}}"), cache)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["output"] == {"sum": 60}
    assert len(entries(cache)) == 2


def test_a_corrupt_entry_is_compiled_again_and_the_run_is_right(work: Path) -> None:
    cache = work / "cache"
    want = run(work, SCRIPT, cache).stdout
    [entry] = entries(cache)
    entry.write_bytes(entry.read_bytes()[:100])
    done = run(work, SCRIPT, cache)
    assert done.returncode == 0, done.stderr
    assert done.stdout == want
    assert "Traceback" not in done.stderr
    assert len(entry.read_bytes()) > 100  # rewritten


def test_an_error_of_cached_code_names_its_place_and_shows_its_line(work: Path) -> None:
    cache = work / "cache"
    first = run(work, FAILING, cache)
    second = run(work, FAILING, cache)
    assert entries(cache)
    assert first.returncode == second.returncode != 0
    assert second.stderr.startswith("job.rtfs:4:9: +: expected a number, got nil\n")
    assert "  {:sum (+ (count [1 2])\n" in second.stderr
    assert second.stderr == first.stderr


@pytest.mark.parametrize(
    ("script", "flag", "word"),
    [
        pytest.param(ENDLESS, "--fuel=100000", "fuel", id="fuel"),
        pytest.param(DEEP, "--depth=40", "depth", id="depth"),
    ],
)
def test_cached_code_still_enforces_the_limits(work: Path, script: str, flag: str, word: str) -> None:
    cache = work / "cache"
    (work / "data.jsonl").write_text(json.dumps({"v": 100}) + "\n")
    for _ in range(2):
        done = run(work, script, cache, flag)
        assert done.returncode != 0
        assert word in done.stderr
    assert entries(cache)


def test_an_unsafe_or_unwritable_cache_directory_still_runs(work: Path) -> None:
    want = run(work, SCRIPT, work / "cache").stdout
    shared = work / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    blocker = work / "file"
    blocker.write_text("")
    for directory in (shared, blocker / "cache"):
        for _ in range(2):
            done = run(work, SCRIPT, directory)
            assert done.returncode == 0, done.stderr
            assert done.stdout == want
            assert done.stderr.count("\n") == 1  # the closing summary only: no warning, no traceback
    assert entries(shared) == []


def test_runs_writing_the_same_entry_at_once_leave_a_valid_one(work: Path) -> None:
    cache = work / "cache"
    (work / "job.rtfs").write_text(SCRIPT, encoding="utf-8")
    environment = {**os.environ, "STREAMRT_CACHE_DIR": str(cache)}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "streamrt", "run", "job.rtfs", "--no-progress"],
            cwd=work,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    results = [p.communicate(timeout=90) for p in runs]
    assert all(p.returncode == 0 for p in runs), [err for _, err in results]
    assert len({out for out, _ in results}) == 1
    assert len(entries(cache)) == 1
    assert not list(cache.glob(".tmp-*"))  # no temporary file left
    assert list(cache.glob("code-*.rtc"))  # the chunk loop's
    text = (work / "job.rtfs").read_text()
    assert ScriptCache(cache).load(text, "job.rtfs", lambda: []) is not None
