"""Shared fixtures.

``postgres_url``: a throwaway PostgreSQL server for the whole session, started from the server binaries of the
machine (Debian's ``/usr/lib/postgresql/<version>/bin``; ``.ci/ensure-postgres.sh`` installs them) or from
``$STREAMRT_PG_BINDIR``. It listens on 127.0.0.1 at a free port, trusts local connections, runs with fsync off
(nothing in it outlives the session) and is stopped by its own pid at the end. Without the binaries the tests
that need it are skipped, unless ``CI`` is set, in which case they fail.

Hypothesis runs without its per-example deadline (the ``streamrt`` profile; ``--hypothesis-profile`` picks another):
the default 200 ms is a wall-clock bound, and on a loaded two-core CI machine a garbage collection or a descheduled
process is enough to fail a correct test with ``DeadlineExceeded`` or ``Flaky``. Speed is the benchmarks' business.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("streamrt", deadline=None)
settings.load_profile("streamrt")

_PG_TOOLS = ("initdb", "pg_ctl", "createdb")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _pg_bindir() -> Path | None:
    """Where initdb and pg_ctl live: $STREAMRT_PG_BINDIR, then PATH, then the newest Debian install."""
    candidates: list[Path] = []
    if os.environ.get("STREAMRT_PG_BINDIR"):
        candidates.append(Path(os.environ["STREAMRT_PG_BINDIR"]))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path))

    candidates += [
        Path(p).parent for p in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)[::-1]
    ]
    for bindir in candidates:
        if all(os.access(bindir / tool, os.X_OK) for tool in _PG_TOOLS):
            return bindir
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pid_alive(pid: int) -> bool:
    """Whether a process runs; a zombie waiting for a slow init to reap it counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a fresh database on a throwaway PostgreSQL server (user ``streamrt``, trust auth)."""
    bindir = _pg_bindir()
    if bindir is None:
        _unavailable("PostgreSQL server binaries (initdb, pg_ctl) were not found; run .ci/ensure-postgres.sh")
    assert bindir is not None
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        _unavailable("asyncpg is not installed (pip install 'streamrt[postgres]')")

    # initdb refuses to run as root: run the server as an unprivileged user.
    as_user: list[str] = []
    user = None
    if os.geteuid() == 0:
        for name in ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                user = pwd.getpwnam(name)
                break
        if user is None:
            _unavailable(
                "running as root and no unprivileged user (postgres, nobody) exists to run PostgreSQL"
            )
        assert user is not None
        as_user = ["runuser", "-u", user.pw_name, "--"]

    root = Path(tempfile.mkdtemp(prefix="streamrt-pg-"))
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    data, log = root / "data", root / "server.log"

    def run(*args: str, as_server_user: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [*(as_user if as_server_user else []), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)

    def fail(what: str, proc: subprocess.CompletedProcess[str]) -> None:
        server_log = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        pytest.fail(
            f"{what} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}{server_log}", pytrace=False
        )

    pid: int | None = None
    try:
        initdb = run(
            str(bindir / "initdb"), "-D", str(data), "-U", "streamrt", "-A", "trust", "-E", "UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip
        if initdb.returncode != 0:
            fail("initdb", initdb)
        for _attempt in range(3):  # the free port may be taken between choosing and binding it
            port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            start = run(
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            )
            if start.returncode == 0:
                break
        else:
            fail("pg_ctl start", start)
        pid = int((data / "postmaster.pid").read_text().split()[0])
        created = run(
            str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "streamrt", "streamrt_test",
            as_server_user=False,
        )  # fmt: skip
        if created.returncode != 0:
            fail("createdb", created)
        yield f"postgresql://streamrt@127.0.0.1:{port}/streamrt_test"
    finally:
        if pid is not None:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "-t", "30", "stop")
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 10
                while pid_alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
        shutil.rmtree(root, ignore_errors=True)


NODE_DIR = Path(__file__).with_name("node")
"""The MCP peers written in TypeScript (tests/node/package.json), installed by .ci/ensure-node.sh."""


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """``tests/node/node_modules`` with the pinned MCP peers, installed (node and npm too) when missing.

    scripts/test.sh installs them before the suite; this fixture does it for a bare ``pytest`` run. Without node,
    npm or the network the tests that need them are skipped, unless ``CI`` is set, in which case they fail.
    """
    modules = NODE_DIR / "node_modules"
    if not (modules / ".streamrt-installed").is_file():
        script = Path(__file__).parents[1] / ".ci" / "ensure-node.sh"
        proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            _unavailable(f"the node MCP peers could not be installed: {proc.stderr.strip()[-500:]}")
    if shutil.which("node") is None:
        _unavailable("node is not installed")
    return modules
