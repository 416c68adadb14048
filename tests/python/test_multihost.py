"""Separate hosts: every part of a federation as its own process on its own loopback address.

* the chain (Anvil, chain id 4242) on 127.0.0.2, the IPFS node on 127.0.0.3, reached by everyone
  through an API on 127.0.0.12 that requires a bearer token (as a pinning service or a Kubo node
  with ``API.Authorizations`` does; each organisation holds the token in its own file);
* organisation A (coordinator) runs ``fqai federation superlink`` with TLS and SuperNode
  authentication on 127.0.0.4, and ``fqai federation run`` against it;
* organisations B, C and D each run ``fqai node start`` (127.0.0.5/6/7), D's node sending
  tampered weights in round 1;
* each organisation has its own working directory (its ``HOME`` and ``cwd``), keystore,
  passphrase file, copy of the deployment record and of the CA certificate; the certificate is
  issued for 127.0.0.4 only. No path of one organisation appears in another's command line.

Run 1 (one round) admits the three members' SuperNode keys before the round; D's update is
rejected. D is then slashed on-chain (by B, after the contest window) and an outsider registers
its own key with the SuperLink through Flower's CLI. Run 2 resumes the federation: before round 2
the coordinator unregisters D's key and the outsider's, so only B and C train.

Faults: a SuperNode whose key nobody registered, a node given the wrong CA, a SuperLink with an
expired certificate, a coordinator pointed at the wrong chain id, a node without the IPFS
credentials. Marked ``multihost``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fqai.chain import FederationRegistry, MemberStatus, connect
from fqai.devnet.anvil import AnvilNode
from fqai.devnet.certs import create_ca, issue_host_certificate
from fqai.devnet.ipfs_node import IpfsNode
from fqai.devnet.tools import free_port
from fqai.federation.flower_control import FlowerControl
from fqai.federation.runtime import ServerTls, SuperLink, SuperNode, write_flwr_home
from fqai.federation.supernode_key import create_supernode_key
from fqai.keystore import NodeIdentity
from tests.python.conftest import PASSPHRASE, make_identity
from tests.python.federation_fixtures import FQAI, deploy_contracts, stop_process
from tests.python.ipfs_auth_proxy import IpfsAuthProxy

pytestmark = pytest.mark.multihost

CHAIN_ID = 4242
CHAIN_HOST, IPFS_HOST, LINK_HOST = "127.0.0.2", "127.0.0.3", "127.0.0.4"
IPFS_SERVICE_HOST = "127.0.0.12"  # the IPFS API as a pinning service exposes it: token required
IPFS_TOKEN = "multihost-ipfs-token"
NODE_HOSTS = ("127.0.0.5", "127.0.0.6", "127.0.0.7")
TAMPERER = 2
MIN_STAKE_ETH = "0.1"


@dataclass
class Org:
    """One organisation: its directory, keystore and the environment its processes get."""

    name: str
    home: Path
    identity: NodeIdentity

    @property
    def keystore(self) -> Path:
        return self.home / "keystore"

    @property
    def passphrase(self) -> Path:
        return self.home / "passphrase"

    @property
    def ca(self) -> Path:
        return self.home / "ca.pem"

    @property
    def deployments(self) -> Path:
        return self.home / "deployments"

    @property
    def ipfs_auth(self) -> Path:
        return self.home / "ipfs-auth"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FQAI_", "FLWR_"))}
        env.update(HOME=str(self.home), FQAI_CHAIN_ID=str(CHAIN_ID), **extra)
        if self.ipfs_auth.exists():
            env["FQAI_IPFS_AUTH_FILE"] = str(self.ipfs_auth)
        return env

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*FQAI, *args],
            cwd=self.home,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def spawn(self, name: str, *args: str) -> subprocess.Popen[str]:
        out = (self.home / f"{name}.out").open("w")
        return subprocess.Popen(
            [*FQAI, *args],
            cwd=self.home,
            env=self.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )


@dataclass
class World:
    base: Path
    rpc_url: str
    ipfs_api: str
    coordinator: Org
    nodes: list[Org]
    link_address: str
    federation_id: int
    runs: list[dict[str, Any]]
    node_processes: list[subprocess.Popen[str]]
    slash: subprocess.CompletedProcess[str]
    outsider_node_id: int

    def chain_args(self, org: Org) -> list[str]:
        return [
            "--rpc-url", self.rpc_url, "--deployments-dir", str(org.deployments),
            "--passphrase-file", str(org.passphrase), "--keystore", str(org.keystore),
            "--ipfs-api", self.ipfs_api,
        ]  # fmt: skip


def make_org(base: Path, name: str, record: Path, ca_pem: Path) -> Org:
    home = base / name
    home.mkdir(parents=True)
    org = Org(name, home, make_identity(home / "keystore"))
    org.passphrase.write_text(PASSPHRASE)
    org.ipfs_auth.write_text(f"Bearer {IPFS_TOKEN}\n")
    org.ipfs_auth.chmod(0o600)
    org.deployments.mkdir()
    shutil.copyfile(record, org.deployments / record.name)
    shutil.copyfile(ca_pem, org.ca)
    return org


def wait_for(path: Path, text: str, timeout: float, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        if process.poll() is not None:
            raise AssertionError(f"{path.name}: exited {process.returncode}\n{path.read_text()}")
        time.sleep(0.3)
    raise AssertionError(f"{path} never said {text!r}:\n{path.read_text()}")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("multihost")
    with AnvilNode(
        chain_id=CHAIN_ID, host=CHAIN_HOST, log_path=base / "chain" / "anvil.log"
    ) as chain:
        record = deploy_contracts(chain.rpc_url, CHAIN_ID, base / "chain" / "deployments")
        ipfs = IpfsNode(base / "ipfs" / "repo", host=IPFS_HOST, log_path=base / "ipfs" / "log")
        ipfs.start()
        service = IpfsAuthProxy(ipfs.api_address, token=IPFS_TOKEN, host=IPFS_SERVICE_HOST)
        service.start()
        processes: list[subprocess.Popen[str]] = []
        try:
            yield from _federation(base, chain.rpc_url, record, service.api_address, processes)
        finally:
            for process in processes:
                stop_process(process)
            service.close()
            ipfs.stop()


def _federation(
    base: Path,
    rpc_url: str,
    record: Path,
    ipfs_api: str,
    processes: list[subprocess.Popen[str]],
) -> Iterator[World]:
    ca = create_ca(base / "ca")  # the CA key stays here; organisations get ca.pem only
    coordinator = make_org(base, "org-a", record, ca.cert)
    cert = issue_host_certificate(ca, coordinator.home / "tls", "superlink", [LINK_HOST])
    nodes = [make_org(base, f"org-{c}", record, ca.cert) for c in "bcd"]
    w3 = connect(rpc_url)
    faucet = w3.eth.accounts[0]
    for org in [coordinator, *nodes]:
        w3.eth.send_transaction(
            {"from": faucet, "to": org.identity.public.eth_address, "value": 10**18}
        )

    port = free_port(LINK_HOST)
    link_address = f"{LINK_HOST}:{port}"
    link = coordinator.spawn(
        "superlink",
        "federation", "superlink", "--host", LINK_HOST, "--port", str(port),
        "--tls-cert", str(cert.cert), "--tls-key", str(cert.key), "--root-ca", str(coordinator.ca),
        "--work-dir", str(coordinator.home / "superlink"),
    )  # fmt: skip
    processes.append(link)
    wait_for(coordinator.home / "superlink.out", "SuperLink on", 60, link)

    common_a = [
        "--rpc-url", rpc_url, "--deployments-dir", str(coordinator.deployments),
        "--passphrase-file", str(coordinator.passphrase), "--keystore", str(coordinator.keystore),
    ]  # fmt: skip
    created = coordinator.run(
        "federation", "create", "--model-spec-cid", "bafkreifqaimultihost",
        "--min-stake", MIN_STAKE_ETH, "--contest-window", "2", "--unbonding-blocks", "3000",
        *common_a,
    )  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    federation_id = json.loads(created.stdout.strip().splitlines()[-1])["federation_id"]

    for i, org in enumerate(nodes):
        args = [
            "node", "start", "--federation-id", str(federation_id),
            "--superlink", link_address, "--root-ca", str(org.ca), "--host", NODE_HOSTS[i],
            "--partition-id", str(i), "--num-partitions", str(len(nodes)),
            "--work-dir", str(org.home / "work"), "--admission-wait", "240",
            "--rpc-url", rpc_url, "--deployments-dir", str(org.deployments),
            "--passphrase-file", str(org.passphrase), "--keystore", str(org.keystore),
            "--ipfs-api", ipfs_api,
        ]  # fmt: skip
        if i == TAMPERER:
            args += ["--test-fault", "tamper-weights"]
        processes.append(org.spawn("node", *args))
    for i, org in enumerate(nodes):
        wait_for(org.home / "node.out", "joined federation", 120, processes[1 + i])

    run_common = [
        "federation", "run", "--federation-id", str(federation_id),
        "--superlink", link_address, "--root-ca", str(coordinator.ca),
        "--work-dir", str(coordinator.home / "run"), "--round-timeout", "90",
        "--ipfs-api", ipfs_api, *common_a,
    ]  # fmt: skip
    first = coordinator.run(*run_common, "--rounds", "1", "--min-nodes", "3", timeout=420)
    assert first.returncode == 0, first.stdout + first.stderr
    run1 = json.loads((coordinator.home / "run" / "record.json").read_text())

    # D was excluded from round 1: after the contest window anyone (here B) may slash it.
    w3.provider.make_request("anvil_mine", [5])  # type: ignore[arg-type]
    keeper = nodes[0]
    slash = keeper.run(
        "federation", "slash", "--federation-id", str(federation_id), "--round", "1",
        "--node", nodes[TAMPERER].identity.public.eth_address,
        "--rpc-url", rpc_url, "--deployments-dir", str(keeper.deployments),
        "--passphrase-file", str(keeper.passphrase), "--keystore", str(keeper.keystore),
    )  # fmt: skip

    # An outsider registers its own key with the SuperLink (Flower's Control API is open).
    outsider = base / "org-x"
    outsider.mkdir()
    shutil.copyfile(ca.cert, outsider / "ca.pem")
    outsider_key = create_supernode_key(outsider / "supernode-key")
    control = FlowerControl(write_flwr_home(outsider / "flwr", link_address, outsider / "ca.pem"))
    outsider_node_id = control.register(outsider_key.public_path)
    stranger = SuperNode(
        outsider / "supernode.log",
        link_address,
        {"partition-id": 0, "num-partitions": 1},
        host="127.0.0.8",
        root_ca=outsider / "ca.pem",
        auth_key=outsider_key.private_path,
        env={"HOME": str(outsider)},
    )
    stranger.start()

    try:
        second = coordinator.run(*run_common, "--rounds", "2", "--min-nodes", "2", timeout=420)
    finally:
        stranger.stop()
    assert second.returncode == 0, second.stdout + second.stderr
    run2 = json.loads((coordinator.home / "run" / "record.json").read_text())
    yield World(
        base=base,
        rpc_url=rpc_url,
        ipfs_api=ipfs_api,
        coordinator=coordinator,
        nodes=nodes,
        link_address=link_address,
        federation_id=federation_id,
        runs=[run1, run2],
        node_processes=processes[1:],
        slash=slash,
        outsider_node_id=outsider_node_id,
    )


def _addresses(world: World, indices: list[int]) -> set[str]:
    return {world.nodes[i].identity.public.eth_address for i in indices}


def test_members_keys_are_admitted_before_the_first_round(world: World) -> None:
    round1 = world.runs[0]["rounds"][0]
    admission = round1["admission"]
    assert {a["node"] for a in admission["registered"]} == _addresses(world, [0, 1, 2])
    assert set(round1["contributors"]) == _addresses(world, [0, 1])
    assert {r["node"] for r in round1["rejected"]} == _addresses(world, [TAMPERER])
    ledger = json.loads((world.coordinator.home / "run" / "admission.json").read_text())
    assert {a["node"] for a in ledger["admitted"]} == _addresses(world, [0, 1])


@pytest.mark.attack(
    "slashed-node-keeps-training",
    actor="a slashed node, or a stranger registering its own key through Flower's Control API",
    attack="stay connected to the SuperLink and take part in the next round",
    control="admission before every round: keys the chain does not vouch for are unregistered "
    "or reported foreign, and no round sends them work",
)
def test_a_slashed_node_is_unregistered_and_a_foreign_key_gets_no_work(
    world: World,
) -> None:
    assert world.slash.returncode == 0, world.slash.stdout + world.slash.stderr
    round1_admission = world.runs[0]["rounds"][0]["admission"]
    tamperer_id = next(
        a["node_id"]
        for a in round1_admission["registered"]
        if a["node"] == world.nodes[TAMPERER].identity.public.eth_address
    )
    round2 = world.runs[1]["rounds"][-1]
    assert round2["round"] == 2
    unregistered = {a["node_id"] for a in round2["admission"]["unregistered"]}
    foreign = set(round2["admission"]["foreign"])
    assert tamperer_id in unregistered
    # The outsider's key is unregistered, or, where Flower lets only the registering account
    # unregister a node, reported foreign; either way no round sends its SuperNode work.
    assert unregistered | foreign == {tamperer_id, world.outsider_node_id}
    asked = {r.get("flower_node_id") for rnd in world.runs[1]["rounds"] for r in rnd["rejected"]}
    assert world.outsider_node_id not in asked
    assert (
        "slashed"
        in round2["admission"]["refused"][world.nodes[TAMPERER].identity.public.eth_address]
    )
    assert set(round2["contributors"]) == _addresses(world, [0, 1])
    assert not round2["rejected"]  # D was never asked: the SuperLink no longer knows it
    control = FlowerControl(world.coordinator.home / "run" / "flwr-home")
    status = {n.node_id: n.status for n in control.nodes()}
    assert status[tamperer_id] == "unregistered"
    registry = FederationRegistry(_client(world))
    member = registry.member(world.federation_id, world.nodes[TAMPERER].identity.public.eth_address)
    assert member.status is MemberStatus.LEAVING  # 10 % slashed: below the minimum, ejected


def test_each_organisation_used_only_its_own_directory(world: World) -> None:
    for org in [world.coordinator, *world.nodes]:
        for out in org.home.glob("*.out"):
            text = out.read_text()
            for other in [world.coordinator, *world.nodes]:
                if other is not org:
                    assert str(other.home) not in text, (org.name, out.name, other.name)
    assert (world.coordinator.home / "superlink" / "superlink.db").exists()
    for org in world.nodes:
        assert (org.keystore / "supernode-key").exists()
        assert (org.home / "work" / "supernode.log").exists()


@pytest.mark.attack(
    "unstaked-supernode",
    actor="a stranger on the network",
    attack="connect a SuperNode whose key no staked member registered",
    control="the SuperLink's SuperNode authentication refuses it (Failed to activate SuperNode)",
)
def test_a_supernode_with_an_unregistered_key_is_refused(world: World, tmp_path: Path) -> None:
    key = create_supernode_key(tmp_path / "stranger-key")
    node = SuperNode(
        tmp_path / "stranger.log",
        world.link_address,
        {"partition-id": 0, "num-partitions": 1},
        host="127.0.0.8",
        root_ca=world.coordinator.ca,
        auth_key=key.private_path,
    )
    node.start()
    try:
        deadline = time.monotonic() + 60
        while node.returncode() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert node.returncode() not in (None, 0)
        assert "Failed to activate SuperNode" in node.failure_reason()
    finally:
        node.stop()


@pytest.mark.attack(
    "foreign-superlink-certificate",
    actor="a machine in the middle posing as the SuperLink",
    attack="present a TLS certificate issued by another CA",
    control="fqai node start checks the certificate against its CA before staking or starting",
)
def test_a_node_given_the_wrong_ca_refuses_to_connect(world: World, tmp_path: Path) -> None:
    other_ca = create_ca(tmp_path / "other-ca")
    org = world.nodes[0]
    started = org.run(
        "node", "start", "--federation-id", str(world.federation_id),
        "--superlink", world.link_address, "--root-ca", str(other_ca.cert),
        "--host", "127.0.0.9", "--work-dir", str(tmp_path / "w"), *world.chain_args(org),
    )  # fmt: skip
    assert started.returncode == 1
    assert "not signed by the CA" in " ".join((started.stdout + started.stderr).split())
    assert "member of federation" not in started.stdout  # refused before touching the chain
    assert not (tmp_path / "w" / "supernode.log").exists()  # no SuperNode was started


@pytest.mark.attack(
    "expired-superlink-certificate",
    actor="a SuperLink operator who let a certificate lapse (or replays an old one)",
    attack="serve an expired TLS certificate",
    control="fqai node start refuses it, naming the expiry, before starting a SuperNode",
)
def test_a_superlink_with_an_expired_certificate_is_refused(world: World, tmp_path: Path) -> None:
    ca = create_ca(tmp_path / "ca")
    expired = issue_host_certificate(
        ca,
        tmp_path / "tls",
        "superlink",
        ["127.0.0.10"],
        not_before=datetime.now(UTC) - timedelta(days=10),
        days=1,
    )
    with SuperLink(
        tmp_path / "link.log",
        host="127.0.0.10",
        tls=ServerTls(expired.cert, expired.key, ca.cert),
        supernode_auth=True,
    ) as link:
        org = world.nodes[1]
        started = org.run(
            "node", "start", "--federation-id", str(world.federation_id),
            "--superlink", link.address, "--root-ca", str(ca.cert),
            "--host", "127.0.0.11", "--work-dir", str(tmp_path / "w"), *world.chain_args(org),
        )  # fmt: skip
    assert started.returncode == 1
    assert "expired" in " ".join((started.stdout + started.stderr).split())


@pytest.mark.attack(
    "wrong-chain-coordinator",
    actor="a misconfigured or hostile RPC endpoint",
    attack="serve another chain id to the coordinator",
    control="--chain-id / FQAI_CHAIN_ID: refused before any process starts or anything is sent",
)
def test_a_coordinator_pointed_at_another_chain_id_refuses_to_run(world: World) -> None:
    org = world.coordinator
    refused = org.run(
        "--chain-id", "31337", "federation", "run", "--federation-id", str(world.federation_id),
        "--superlink", world.link_address, "--root-ca", str(org.ca),
        "--work-dir", str(org.home / "wrong-chain"), *world.chain_args(org),
    )  # fmt: skip
    assert refused.returncode == 1
    output = refused.stdout + refused.stderr
    assert "31337" in output and str(CHAIN_ID) in output
    assert not (org.home / "wrong-chain" / "superlink.log").exists()


def test_a_node_without_the_ipfs_credentials_is_told_so(world: World, tmp_path: Path) -> None:
    org = world.nodes[0]
    env = org.env()
    env.pop("FQAI_IPFS_AUTH_FILE")
    started = subprocess.run(
        [
            *FQAI, "node", "start", "--federation-id", str(world.federation_id),
            "--superlink", world.link_address, "--root-ca", str(org.ca), "--host", "127.0.0.13",
            "--work-dir", str(tmp_path / "w"), *world.chain_args(org),
        ],
        cwd=org.home, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    output = " ".join((started.stdout + started.stderr).split())
    assert started.returncode == 1
    assert "requires authentication" in output and "FQAI_IPFS_AUTH_FILE" in output
    assert IPFS_TOKEN not in output
    assert not (tmp_path / "w" / "supernode.log").exists()


def _client(world: World) -> Any:
    from fqai.chain import ChainClient

    return ChainClient.from_rpc(
        world.rpc_url, deployments_dir=world.coordinator.deployments, expected_chain_id=CHAIN_ID
    )
