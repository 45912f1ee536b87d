"""Shared fixtures.

``postgres_url``: a throwaway PostgreSQL server for the whole session, started from the server binaries of the
machine (Debian's ``/usr/lib/postgresql/<version>/bin``; ``.ci/ensure-postgres.sh`` installs them) or from
``$STREAMRT_PG_BINDIR``. It listens on 127.0.0.1 at a free port, trusts local connections, runs with fsync off
(nothing in it outlives the session) and is stopped by its own pid at the end. Without the binaries the tests
that need it are skipped, unless ``CI`` is set, in which case they fail.

``redis_server`` / ``redis_url``: a throwaway ``redis-server`` (7 or newer; ``.ci/ensure-redis.sh`` installs it) for
the session on a free loopback port, in a temporary directory and without persistence, stopped by its pid;
``redis_url`` empties it for each test. Skipped like PostgreSQL when missing.

Both, and the cluster harness's processes, are registered with ``tests/reaper.py``: if pytest itself is killed
(no teardown runs), a watchdog process kills them and removes their directories.

The compiled-script cache (``streamrt.lang.cache``) that ``streamrt run`` uses by default goes to a temporary
directory for the session (``STREAMRT_CACHE_DIR``, set before any test and inherited by the CLI subprocesses the
tests start), never to the user's ``~/.cache``; it is removed at the end.

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

from tests.reaper import forget, reap_on_exit

settings.register_profile("streamrt", deadline=None)
settings.load_profile("streamrt")

_CACHE_DIR = tempfile.mkdtemp(prefix="streamrt-test-cache-")
os.environ["STREAMRT_CACHE_DIR"] = _CACHE_DIR
os.environ.pop("STREAMRT_NO_CACHE", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_CACHE_DIR, ignore_errors=True)


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
        reap_on_exit(pid, root)
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
            forget(pid)
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


# --- Redis -----------------------------------------------------------------------------------------------------


class RedisServer:
    """A throwaway ``redis-server`` on loopback: its URL, and a restart that keeps the port (and loses the data,
    as a restart without persistence does)."""

    def __init__(self, binary: str, root: Path) -> None:
        self.binary = binary
        self.root = root
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        for _attempt in range(3):  # the free port may be taken between choosing and binding it
            port = self.port or _free_port()
            log = open(self.root / "redis.log", "ab")  # noqa: SIM115 - the server writes it until stopped
            try:
                # no persistence: a restart loses everything, the harshest restart there is
                options = {"port": str(port), "bind": "127.0.0.1", "dir": str(self.root), "save": "",
                           "appendonly": "no", "daemonize": "no"}  # fmt: skip
                proc = subprocess.Popen(
                    [self.binary, *(part for k, v in options.items() for part in (f"--{k}", v))],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            finally:
                log.close()
            reap_on_exit(proc.pid, self.root)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and proc.poll() is None:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), timeout=0.5) as s,
                ):
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        self.port, self.proc = port, proc
                        return
                time.sleep(0.02)
            self._kill(proc)
        pytest.fail(
            f"redis-server did not start:\n{(self.root / 'redis.log').read_text(errors='replace')[-2000:]}"
        )

    def stop(self) -> None:
        if self.proc is not None:
            self._kill(self.proc)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        forget(proc.pid)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A ``redis-server`` (7 or newer; ``.ci/ensure-redis.sh`` installs Debian's) for the session, stopped by pid."""
    binary = os.environ.get("STREAMRT_REDIS_SERVER") or shutil.which("redis-server")
    if binary is None:
        _unavailable("redis-server was not found; run .ci/ensure-redis.sh")
    assert binary is not None
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout
    major = re.search(r"v=(\d+)\.", version)
    if major is None or int(major.group(1)) < 7:
        _unavailable(f"redis-server 7 or newer is needed, found {version.strip()!r}")
    try:
        import redis  # noqa: F401
    except ImportError:
        _unavailable("redis-py is not installed (pip install 'streamrt[cluster]')")
    server = RedisServer(binary, Path(tempfile.mkdtemp(prefix="streamrt-redis-")))
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied for this test (restarted first if an earlier test left it stopped)."""
    if redis_server.proc is None or redis_server.proc.poll() is not None:
        redis_server.restart()
    with socket.create_connection(("127.0.0.1", redis_server.port), timeout=5) as s:
        s.sendall(b"FLUSHALL\r\n")
        assert s.recv(16).startswith(b"+OK")
    return redis_server.url
