"""deploy/ describes the harness's topology: three nodes on Redis and PostgreSQL behind HAProxy, a valid HAProxy
configuration, an image with the cluster extra, a systemd unit that hands streams over on SIGTERM."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cluster.harness import find_binary

DEPLOY = Path(__file__).parents[2] / "deploy"


def test_compose_runs_three_identical_nodes_on_redis_and_postgres() -> None:
    import yaml

    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    assert {"node1", "node2", "node3", "redis", "postgres", "haproxy"} <= set(services)
    for name in ("node1", "node2", "node3"):
        command = " ".join(services[name]["command"])
        assert "--cluster=redis://redis:6379/0" in command
        assert "--store=postgresql://" in command
        assert f"--advertise=http://{name}:8750" in command
    assert "--appendonly" in services["redis"]["command"]


def test_the_haproxy_configuration_is_valid_and_balances_the_three_nodes(tmp_path: Path) -> None:
    haproxy = find_binary("haproxy", "STREAMRT_HAPROXY")
    if haproxy is None:
        pytest.skip("haproxy is missing (.ci/ensure-haproxy.sh)")
    text = (DEPLOY / "haproxy.cfg").read_text()
    assert "balance roundrobin" in text
    assert [line.split()[1] for line in text.splitlines() if line.strip().startswith("server ")] == [
        "node1",
        "node2",
        "node3",
    ]
    local = tmp_path / "haproxy.cfg"  # the compose service names resolve only inside compose
    local.write_text(
        text.replace("node1:", "127.0.0.1:").replace("node2:", "127.0.0.1:").replace("node3:", "127.0.0.1:")
    )
    check = subprocess.run([haproxy, "-c", "-f", str(local)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_image_and_the_unit_run_streamrt_serve_as_a_cluster_node() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert ".[cluster,postgres]" in dockerfile and 'ENTRYPOINT ["streamrt", "serve"]' in dockerfile
    unit = (DEPLOY / "streamrt@.service").read_text()
    assert "--cluster ${STREAMRT_CLUSTER}" in unit and "KillSignal=SIGTERM" in unit
