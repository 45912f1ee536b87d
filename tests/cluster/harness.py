"""A cluster on loopback, without containers: ``redis-server``, ``streamrt serve`` nodes and HAProxy, each a process
started here and stopped by its pid (PostgreSQL is the suite's throwaway server). The same topology as
``deploy/compose.yaml``. Used by tests/cluster/test_multinode.py and benchmarks/bench_cluster.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

import httpx

from tests.reaper import forget, reap_on_exit

TALLY = Path(__file__).parents[2] / "deploy" / "tally.rtfs"
"""The processor of the example deployment, run here too: a running count and sum, each chunk's output the sum so
far, so a chunk applied twice or lost shows in the outputs as well as in the state."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def flags(**options: object) -> list[str]:
    """``--name value`` pairs (``lease_ttl`` is ``--lease-ttl``)."""
    return [part for k, v in options.items() for part in (f"--{k.replace('_', '-')}", str(v))]


def find_binary(name: str, env: str) -> str | None:
    """A server binary: ``$env``, then PATH, then /usr/sbin (Debian puts haproxy there)."""
    for candidate in (os.environ.get(env), shutil.which(name), f"/usr/sbin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass
class Proc:
    """One server process and its log file."""

    name: str
    args: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out: IO[bytes] = open(self.log, "ab")  # noqa: SIM115 - the child writes it until it ends
        try:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT)
        finally:
            out.close()
        reap_on_exit(self.proc.pid)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: nothing runs after it (no final snapshot, no lease released)."""
        if self.alive:
            os.kill(self.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)
            forget(self.pid)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL if it has not ended within ``timeout``."""
        if self.alive:
            os.kill(self.pid, signal.SIGTERM)
            try:
                assert self.proc is not None
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        elif self.proc is not None:
            self.proc.wait(timeout=30)
        if self.proc is not None:
            forget(self.pid)

    def tail(self, n: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""


@dataclass
class Cluster:
    """``nodes`` serve processes behind HAProxy (round-robin), Redis for coordination, ``store_url`` for snapshots."""

    root: Path
    store_url: str
    redis_bin: str
    haproxy_bin: str
    nodes: int = 3
    lease_ttl: float = 2.0
    rebalance_every: float = 0.5
    redis: Proc = field(init=False)
    servers: list[Proc] = field(init=False, default_factory=list)
    haproxy: Proc = field(init=False)
    redis_port: int = field(init=False, default=0)
    lb_port: int = field(init=False, default=0)
    db_port: int = field(init=False, default=0)
    """HAProxy's port in front of PostgreSQL (0: the nodes use ``store_url`` as it is), so a test can cut it."""
    ports: list[int] = field(init=False, default_factory=list)

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def url(self) -> str:
        """The load balancer's URL: what clients use."""
        return f"http://127.0.0.1:{self.lb_port}"

    def node_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    # --- starting ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        self.script = TALLY
        self.redis_port = self.redis_port or free_port()
        # append-only file, fsync on every write: a restart of Redis loses nothing (docs/scaling.md)
        self.redis = Proc(
            "redis",
            [
                self.redis_bin,
                *flags(
                    port=self.redis_port,
                    bind="127.0.0.1",
                    dir=self.root,
                    save="",
                    appendonly="yes",
                    appendfsync="always",
                    daemonize="no",
                ),
            ],
            self.root / "redis.log",
        )
        self.redis.start()
        self._wait_port(self.redis_port, self.redis)
        self.ports = [free_port() for _ in range(self.nodes)]
        self.lb_port = free_port()
        self.db_port = free_port() if self.store_url.startswith("postgresql://") else 0
        config = self.root / "haproxy.cfg"
        config.write_text(self._haproxy_config())
        self.haproxy = Proc(
            "haproxy", [self.haproxy_bin, "-db", "-f", str(config)], self.root / "haproxy.log"
        )
        self.haproxy.start()
        self._wait_port(self.lb_port, self.haproxy)
        self.servers = [self._node(i) for i in range(self.nodes)]
        for server in self.servers:
            server.start()
        for i in range(self.nodes):
            self.wait_ready(i)

    def _node(self, i: int) -> Proc:
        store = self.store_url
        if self.db_port:  # through HAProxy, which a test can cut (cut_store)
            parts = urlsplit(store)
            store = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{self.db_port}"))
        options = flags(
            store=store,
            cluster=self.redis_url,
            host="127.0.0.1",
            port=self.ports[i],
            lease_ttl=self.lease_ttl,
            rebalance_every=self.rebalance_every,
            heartbeat=2,
            retry_ms=100,
            push_timeout=10,
            # every request is client "anonymous" (--no-auth): its per-client limits must hold the whole workload
            max_streams=100_000,
            max_subscribers=100_000,
            max_pushes_per_minute=10_000_000,
        )
        return Proc(
            f"node{i}",
            [sys.executable, "-m", "streamrt", "serve", str(self.script), "--no-auth", *options],
            self.root / f"node{i}.log",
        )

    def _haproxy_config(self) -> str:
        servers = "\n".join(f"    server n{i} 127.0.0.1:{port} check" for i, port in enumerate(self.ports))
        database = ""
        if self.db_port:
            target = urlsplit(self.store_url)
            database = f"""
listen store
    mode tcp
    bind 127.0.0.1:{self.db_port}
    timeout client 1h
    timeout server 1h
    server db {target.hostname}:{target.port}
"""
        return f"""global
    maxconn 4096
    stats socket {self.root / "haproxy.sock"} mode 600 level admin

defaults
    mode http
    timeout connect 1s
    timeout client 120s
    timeout server 120s
    timeout http-keep-alive 5s
    retries 3
    option redispatch
    retry-on conn-failure empty-response

frontend api
    bind 127.0.0.1:{self.lb_port}
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET /readyz
    timeout check 3s
    default-server inter 500ms fall 2 rise 2
{servers}
{database}"""

    def _wait_port(self, port: int, proc: Proc, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not proc.alive:
                raise RuntimeError(f"{proc.name} ended at start:\n{proc.tail()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{proc.name} did not listen on {port}:\n{proc.tail()}")

    def wait_ready(self, i: int, timeout: float = 90.0) -> None:
        """Until node ``i`` answers /readyz (a node imports, opens the store and joins the cluster first)."""
        deadline = time.monotonic() + timeout
        server = self.servers[i]
        while time.monotonic() < deadline:
            if not server.alive:
                raise RuntimeError(f"{server.name} ended at start:\n{server.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.node_url(i) + "/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{server.name} was not ready in {timeout:.0f} s:\n{server.tail()}")

    # --- failures ----------------------------------------------------------------------------------------------

    def kill(self, i: int) -> None:
        self.servers[i].kill()

    def restart(self, i: int) -> None:
        """Start node ``i`` again (it rejoins, empty, and takes streams at the next rebalances)."""
        self.servers[i] = self._node(i)
        self.servers[i].start()

    def cut_store(self, seconds: float) -> None:
        """PostgreSQL unreachable for ``seconds``: HAProxy drops every connection to it and refuses new ones."""
        self._haproxy_command("disable server store/db")
        self._haproxy_command("shutdown sessions server store/db")
        time.sleep(seconds)
        self._haproxy_command("enable server store/db")

    def _haproxy_command(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(self.root / "haproxy.sock"))
            sock.sendall(command.encode() + b"\n")
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
        return answer.decode()

    def restart_redis(self) -> None:
        """Stop Redis (SIGTERM: it writes its append-only file) and start it again on the same port."""
        self.redis.stop()
        self.redis = Proc("redis", self.redis.args, self.redis.log)
        self.redis.start()
        self._wait_port(self.redis_port, self.redis)

    # --- stopping ----------------------------------------------------------------------------------------------

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        for proc in (getattr(self, "haproxy", None), getattr(self, "redis", None)):
            if proc is not None:
                proc.kill()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.tail(1500)}" for p in [*self.servers, self.haproxy, self.redis])


# --- the clients' side -------------------------------------------------------------------------------------------

RETRY_CODES = frozenset({429, 502, 503, 504})
TERMINAL = frozenset({"completed", "stopped", "cancelled", "error"})


@dataclass
class Run:
    """One stream as its clients see it: the chunks pushed, the events received, the final document."""

    sid: str
    chunks: list[int]
    events: list[tuple[int, str, dict[str, object]]] = field(default_factory=list)
    connections: int = 0
    final: dict[str, object] | None = None
    retries: int = 0


async def request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    run: Run | None = None,
    deadline: float = 90.0,
    **kw: object,
) -> httpx.Response:
    """A request retried through node deaths: connection errors, 502/503/504 and 429 are tried again."""
    import asyncio

    give_up = time.monotonic() + deadline
    last = "nothing"
    while True:
        try:
            response = await client.request(method, url, **kw)  # type: ignore[arg-type]
            if response.status_code not in RETRY_CODES:
                return response
            last = f"{response.status_code} {response.text[:300]}"
        except httpx.TransportError as exc:
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() > give_up:
            raise TimeoutError(f"{method} {url} kept failing for {deadline:.0f} s; the last answer: {last}")
        if run is not None:
            run.retries += 1
        await asyncio.sleep(0.1)


async def push(client: httpx.AsyncClient, base: str, run: Run, batch: list[int], key: str) -> None:
    """Push one batch with an Idempotency-Key until all of it is taken (a retry resends the same body and key)."""
    while True:
        response = await request(
            client,
            "POST",
            f"{base}/streams/{run.sid}/chunks",
            run=run,
            json=batch,
            headers={"Idempotency-Key": key},
        )
        if response.status_code == 202:
            assert response.json()["accepted"] == len(batch)
            return
        raise AssertionError(f"push to {run.sid}: {response.status_code} {response.text}")


async def end(client: httpx.AsyncClient, base: str, run: Run) -> None:
    response = await request(
        client, "POST", f"{base}/streams/{run.sid}/directives", run=run, json={"action": "end"}
    )
    # a retry of an end that was applied meets an ended stream: that is the outcome wanted
    assert response.status_code in (200, 409), (run.sid, response.status_code, response.text)


async def subscribe(client: httpx.AsyncClient, base: str, run: Run, *, deadline: float = 120.0) -> None:
    """Follow the stream's events through the load balancer, reconnecting with Last-Event-ID, until it ends."""
    import asyncio
    import json

    give_up = time.monotonic() + deadline
    last = 0
    while time.monotonic() < give_up:
        headers = {"Last-Event-ID": str(last)} if last else {}
        try:
            async with client.stream("GET", f"{base}/streams/{run.sid}/events", headers=headers) as response:
                run.connections += 1
                if response.status_code == 204:
                    return
                if response.status_code != 200:
                    await asyncio.sleep(0.1)
                    continue
                event_id, kind, data = None, "message", None
                async for line in response.aiter_lines():
                    if line.startswith("id:"):
                        event_id = int(line[3:].strip())
                    elif line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("data:"):
                        data = json.loads(line[5:].strip())
                    elif line == "" and event_id is not None and data is not None:
                        run.events.append((event_id, kind, data))
                        last = event_id
                        if kind == "status" and data.get("to") in TERMINAL:
                            return
                        event_id, kind, data = None, "message", None
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError(f"the events of {run.sid} did not end in {deadline:.0f} s")
