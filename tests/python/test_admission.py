"""SuperNode admission against a real SuperLink (TLS, SuperNode authentication), Anvil and IPFS.

The coordinator's :func:`fqai.federation.admission.admit` must make the SuperLink's registered
keys exactly those of active, unslashed members with a key on-chain: registering new members,
keeping the admitted ones, following key rotation, dropping members who leave, and refusing a
key whose published bytes are not a usable public key, each with the reason recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fqai.chain import FederationConfig, FederationRegistry, KeySender
from fqai.devnet.certs import create_ca, issue_host_certificate
from fqai.devnet.ipfs_node import IpfsNode
from fqai.errors import FqaiError
from fqai.federation.admission import AdmissionLedger, admit
from fqai.federation.flower_control import FlowerControl
from fqai.federation.membership import create_federation, join_federation
from fqai.federation.runtime import ServerTls, SuperLink, write_flwr_home
from fqai.federation.supernode_key import (
    SuperNodeKeyError,
    create_supernode_key,
    load_supernode_key,
    parse_public_key,
    public_key_digest,
)
from fqai.ipfs.client import IpfsClient
from fqai.keystore import NodeIdentity
from tests.python.conftest import make_identity
from tests.python.federation_fixtures import (  # noqa: F401
    DeployedChain,
    deployed_chain,
    run_cli,
)


@dataclass
class Setup:
    registry: FederationRegistry
    federation_id: int
    members: list[NodeIdentity]
    keys: list[Path]
    control: FlowerControl
    work_dir: Path

    def member_registry(self, index: int) -> FederationRegistry:
        chain = self.registry.chain.with_sender(KeySender(self.members[index].eth_private_key))
        return FederationRegistry(chain)


@pytest.fixture(scope="module")
def superlink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    base = tmp_path_factory.mktemp("admission-link")
    ca = create_ca(base / "ca")
    cert = issue_host_certificate(ca, base / "tls", "superlink", ["127.0.0.1"])
    with SuperLink(
        base / "superlink.log", tls=ServerTls(cert.cert, cert.key, ca.cert), supernode_auth=True
    ) as link:
        yield link.address, ca.cert


@pytest.fixture()
def setup(
    deployed_chain: DeployedChain,  # noqa: F811
    superlink: tuple[str, Path],
    ipfs_client: IpfsClient,
    tmp_path: Path,
) -> Setup:
    address, ca = superlink
    funder = deployed_chain.client(7)
    coordinator = make_identity(tmp_path / "coordinator")
    members = [make_identity(tmp_path / f"m{i}") for i in range(3)]
    for identity in [coordinator, *members]:
        funder.send_ether(identity.public.eth_address, 10**18)
    coord_chain = funder.with_sender(KeySender(coordinator.eth_private_key))
    fed = create_federation(
        coord_chain, FederationConfig(model_spec_cid="bafkreiadmission", min_stake=10**17)
    )
    keys = []
    for i, identity in enumerate(members):
        key = create_supernode_key(tmp_path / f"m{i}-key")
        ipfs_client.add_bytes(key.public_bytes)
        keys.append(key.private_path)
        # Members 0 and 1 join with a SuperNode key; member 2 joins without one.
        join_federation(funder, identity, fed, supernode_key_digest=key.digest if i < 2 else None)
    home = write_flwr_home(tmp_path / "flwr-home", address, ca)
    return Setup(
        FederationRegistry(deployed_chain.client(None)),
        fed,
        members,
        keys,
        FlowerControl(home),
        tmp_path / "coordinator-work",
    )


def _nodes(setup: Setup, report_items: list) -> set[str]:
    return {item.node for item in report_items}


def _address(setup: Setup, index: int) -> str:
    return setup.members[index].public.eth_address


def test_admission_follows_the_chain(setup: Setup, ipfs_client: IpfsClient) -> None:
    # Members with a key on-chain are registered; one without a key is reported.
    first = admit(setup.registry, ipfs_client, setup.control, setup.federation_id, setup.work_dir)
    assert _nodes(setup, first.registered) == {_address(setup, 0), _address(setup, 1)}
    assert first.refused == {_address(setup, 2): "no SuperNode key registered on-chain"}
    status = {n.node_id: n.status for n in setup.control.nodes()}
    assert all(status[a.node_id] == "registered" for a in first.registered)

    # A second pass changes nothing.
    again = admit(setup.registry, ipfs_client, setup.control, setup.federation_id, setup.work_dir)
    assert not again.registered and not again.unregistered
    assert again.admitted_ids == first.admitted_ids

    # Member 0 rotates its key: the old registration goes, the new key comes in.
    old_id = next(a.node_id for a in first.registered if a.node == _address(setup, 0))
    rotated = create_supernode_key(setup.work_dir.parent / "m0-key-2")
    ipfs_client.add_bytes(rotated.public_bytes)
    setup.member_registry(0).set_supernode_key(setup.federation_id, rotated.digest)
    after = admit(setup.registry, ipfs_client, setup.control, setup.federation_id, setup.work_dir)
    assert [a.node_id for a in after.unregistered] == [old_id]
    assert [(a.node, a.digest) for a in after.registered] == [(_address(setup, 0), rotated.digest)]

    # Member 1 leaves: its key is unregistered, the reason recorded.
    setup.member_registry(1).request_leave(setup.federation_id)
    left = admit(setup.registry, ipfs_client, setup.control, setup.federation_id, setup.work_dir)
    assert _nodes(setup, left.unregistered) == {_address(setup, 1)}
    assert "not an active member" in left.refused[_address(setup, 1)]
    assert left.admitted_ids == {a.node_id for a in after.registered}
    ledger = json.loads((setup.work_dir / "admission.json").read_text())
    assert [a["node"] for a in ledger["admitted"]] == [_address(setup, 0)]

    # Rotating back to a key Flower already unregistered: refused with the reason, no crash.
    first_key = load_supernode_key(setup.keys[0])
    setup.member_registry(0).set_supernode_key(setup.federation_id, first_key.digest)
    back = admit(setup.registry, ipfs_client, setup.control, setup.federation_id, setup.work_dir)
    assert "SuperLink refused SuperNode key" in back.refused[_address(setup, 0)]
    assert not back.admitted_ids


def test_a_digest_whose_bytes_are_not_a_key_is_refused(
    setup: Setup, ipfs_client: IpfsClient
) -> None:
    junk = b"ssh-rsa AAAA not an ECDSA key\n"
    ipfs_client.add_bytes(junk)
    setup.member_registry(2).set_supernode_key(setup.federation_id, public_key_digest(junk))
    report = admit(setup.registry, ipfs_client, setup.control, setup.federation_id, setup.work_dir)
    assert "not admitted" in report.refused[_address(setup, 2)]
    assert "OpenSSH public key" in report.refused[_address(setup, 2)]
    assert _address(setup, 2) not in _nodes(setup, report.registered)


def test_the_ledger_belongs_to_one_federation(tmp_path: Path) -> None:
    ledger = AdmissionLedger(tmp_path / "admission.json", 1)
    ledger.save()
    with pytest.raises(FqaiError, match="ledger of federation 1, not 2"):
        AdmissionLedger(tmp_path / "admission.json", 2)


def test_supernode_keys_are_checked(tmp_path: Path) -> None:
    key = create_supernode_key(tmp_path / "k")
    assert key.private_path.stat().st_mode & 0o077 == 0
    assert load_supernode_key(tmp_path / "k").digest == key.digest
    with pytest.raises(SuperNodeKeyError, match="refusing to overwrite"):
        create_supernode_key(tmp_path / "k")
    other = create_supernode_key(tmp_path / "other")
    (tmp_path / "k.pub").write_bytes(other.public_bytes)
    with pytest.raises(SuperNodeKeyError, match="is not the public key of"):
        load_supernode_key(tmp_path / "k")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    ed = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    )
    with pytest.raises(SuperNodeKeyError, match="NIST curve"):
        parse_public_key(ed, "ed25519 key")
    with pytest.raises(SuperNodeKeyError, match="not an OpenSSH public key"):
        parse_public_key(b"-----BEGIN PUBLIC KEY-----", "pem")


def test_fqai_federation_admit_cli(
    setup: Setup,
    superlink: tuple[str, Path],
    deployed_chain: DeployedChain,  # noqa: F811
    ipfs_node: IpfsNode,
) -> None:
    address, ca = superlink
    args = [
        "federation", "admit", "--federation-id", str(setup.federation_id),
        "--superlink", address, "--root-ca", str(ca), "--work-dir", str(setup.work_dir),
        "--ipfs-api", ipfs_node.api_address, *deployed_chain.cli_args,
    ]  # fmt: skip
    first = run_cli(*args)
    assert first.returncode == 0, first.stdout + first.stderr
    report = json.loads(first.stdout.strip().splitlines()[-1])
    assert {a["node"] for a in report["registered"]} == {_address(setup, 0), _address(setup, 1)}
    assert "no SuperNode key" in " ".join(first.stdout.split())
    second = json.loads(run_cli(*args).stdout.strip().splitlines()[-1])
    assert len(second["kept"]) == 2 and not second["registered"]
    missing_ca = run_cli(*[a for a in args if a not in ("--root-ca", str(ca))])
    assert missing_ca.returncode == 1
    assert "needs the SuperLink's TLS CA" in missing_ca.stdout + missing_ca.stderr
