"""fqai on a chain that is not the default devnet, with accounts that are not Anvil's.

A real Anvil serves chain 424242 on 127.0.0.2. Brownie learns it from
``scripts/toolchain/brownie_networks.py add`` (in a private Brownie home), a fresh eth_account key
funded from a dev account (the faucet) deploys with ``FQAI_DEPLOYER_KEY``, and the record is
``424242.json``. A coordinator creates a federation through ``fqai federation create`` and a node
joins with its own fresh key. Clients, the CLI and the deploy script refuse an RPC that serves
another chain than ``expected_chain_id`` / ``$FQAI_CHAIN_ID`` without sending anything, and a
record for 424242 is never used on a 31337 chain.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from fqai.chain import (
    CHAIN_ID_ENV,
    REGISTRY,
    ChainClient,
    ChainError,
    DeploymentError,
    FederationRegistry,
    KeySender,
    MemberStatus,
    WrongChainError,
    connect,
)
from fqai.devnet.anvil import AnvilNode
from fqai.federation.membership import join_federation
from fqai.keystore import NodeIdentity
from tests.python.conftest import PASSPHRASE, make_identity
from tests.python.federation_fixtures import DEPLOY_TIMEOUT, ROOT, _project_copy

CHAIN_ID = 424242
HOST = "127.0.0.2"  # not the default devnet address
NETWORK_ID = "fqai-any-chain-test"
HOST_ENV = "FQAI_ANY_CHAIN_TEST_RPC"
CONTRACTS = ("ModelNFT", "FederationRegistry", "ModelMarketplace")
ETH = 10**18
FQAI = str(Path(sys.executable).parent / "fqai")
# Variables of the caller that would change who deploys or which chain is expected.
SCRUBBED = ("FQAI_DEV_UNLOCKED", "FQAI_DEPLOYER_KEY", "FQAI_DEPLOYER_ACCOUNT", CHAIN_ID_ENV)


@dataclass(frozen=True)
class AnyChain:
    """Anvil on chain 424242 with the contracts deployed by a fresh key."""

    rpc_url: str
    deployments_dir: Path
    record: dict[str, Any]
    deployer: LocalAccount
    faucet: str  # an Anvil dev account, used only to fund fresh accounts
    brownie_home: Path
    project: Path

    def w3(self) -> Web3:
        return connect(self.rpc_url)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env["COLUMNS"] = "400"  # one-line error messages from rich
    env.update(extra)
    return env


def _brownie_env(home: Path, rpc_url: str, **extra: str) -> dict[str, str]:
    path = f"{ROOT / 'node_modules' / '.bin'}:{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"
    return _env(
        HOME=str(home),  # a private ~/.brownie: its network list and caches
        PATH=path,
        SOLCX_BINARY_PATH=str(ROOT / ".solcx"),
        **{HOST_ENV: rpc_url},
        **extra,
    )


def _run(
    cmd: list[str], env: dict[str, str], cwd: Path = ROOT, timeout: float = DEPLOY_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _networks_script(home: Path, rpc_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = ROOT / "scripts" / "toolchain" / "brownie_networks.py"
    return _run([sys.executable, str(script), *args], _brownie_env(home, rpc_url))


def _fund(w3: Web3, faucet: str, to: str, wei: int) -> None:
    tx = w3.eth.send_transaction({"from": faucet, "to": to, "value": wei})  # type: ignore[arg-type]
    assert w3.eth.wait_for_transaction_receipt(tx, timeout=30)["status"] == 1


def _deploy(
    project: Path, home: Path, rpc_url: str, key: str, **extra: str
) -> subprocess.CompletedProcess[str]:
    brownie = str(ROOT / ".venv" / "bin" / "brownie")
    env = _brownie_env(home, rpc_url, FQAI_DEPLOYER_KEY=key, **extra)
    return _run([brownie, "run", "scripts/deploy.py", "--network", NETWORK_ID], env, cwd=project)


@pytest.fixture(scope="module")
def any_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnyChain]:
    base = tmp_path_factory.mktemp("any-chain")
    home = base / "home"
    home.mkdir()
    with AnvilNode(chain_id=CHAIN_ID, host=HOST, log_path=base / "anvil.log") as node:
        w3 = connect(node.rpc_url)
        faucet = w3.eth.accounts[0]
        deployer: LocalAccount = Account.create()
        assert deployer.address not in w3.eth.accounts
        _fund(w3, faucet, deployer.address, 10 * ETH)

        # What `make setup` does, then a network for this chain, both in the private home.
        for args in (
            (),
            ("add", NETWORK_ID, "--chain-id", str(CHAIN_ID), "--host", f"${HOST_ENV}"),
        ):
            result = _networks_script(home, node.rpc_url, *args)
            assert result.returncode == 0, result.stdout + result.stderr

        project = _project_copy(base)
        result = _deploy(project, home, node.rpc_url, "0x" + deployer.key.hex())
        assert result.returncode == 0, result.stdout + result.stderr
        written = sorted(p.name for p in (project / "deployments").iterdir())
        assert written == [f"{CHAIN_ID}.json"], written
        deployments = base / "deployments"
        deployments.mkdir()
        shutil.copyfile(project / "deployments" / written[0], deployments / written[0])
        yield AnyChain(
            rpc_url=node.rpc_url,
            deployments_dir=deployments,
            record=json.loads((deployments / written[0]).read_text()),
            deployer=deployer,
            faucet=faucet,
            brownie_home=home,
            project=project,
        )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join((result.stdout + result.stderr).split())


def _funded_identity(chain: AnyChain, directory: Path) -> NodeIdentity:
    identity = make_identity(directory)
    w3 = chain.w3()
    assert identity.public.eth_address not in w3.eth.accounts
    _fund(w3, chain.faucet, identity.public.eth_address, ETH)
    return identity


def _create_cli(
    chain: AnyChain, keys: Path, passphrase: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    args = [
        FQAI, "federation", "create", "--model-spec-cid", "bafkreianychainspec",
        "--keystore", str(keys), "--passphrase-file", str(passphrase),
        "--rpc-url", chain.rpc_url, "--deployments-dir", str(chain.deployments_dir),
    ]  # fmt: skip
    return _run(args, _env(**env), timeout=120)


# ----------------------------------------------------------------------------- deployment


def test_the_record_is_named_after_the_chain_and_owned_by_the_fresh_key(
    any_chain: AnyChain,
) -> None:
    record = any_chain.record
    assert record["chainId"] == CHAIN_ID
    assert record["network"] == NETWORK_ID
    assert record["deployer"] == any_chain.deployer.address
    w3 = any_chain.w3()
    for name in CONTRACTS:
        info = record["contracts"][name]
        contract = w3.eth.contract(address=info["address"], abi=info["abi"])
        assert contract.functions.owner().call() == any_chain.deployer.address, name
        assert w3.eth.get_transaction(info["transactionHash"])["from"] == any_chain.deployer.address
    nft = record["contracts"]["ModelNFT"]
    wired = w3.eth.contract(address=nft["address"], abi=nft["abi"]).functions.federationRegistry()
    assert wired.call() == record["contracts"]["FederationRegistry"]["address"]
    # Brownie keeps no copy of the live deployment that a later run on a fresh chain would trip on.
    assert not (any_chain.project / "build" / "deployments").exists()


def test_the_networks_script_registers_testnets_idempotently(any_chain: AnyChain) -> None:
    config = yaml.safe_load((any_chain.brownie_home / ".brownie" / "network-config.yaml").open())
    live = {n["id"]: (group["name"], n) for group in config["live"] for n in group["networks"]}
    family, sepolia = live["fqai-sepolia"]
    assert (family, sepolia["chainid"], sepolia["host"]) == (
        "Ethereum",
        11155111,
        "$FQAI_SEPOLIA_RPC",
    )
    family, ours = live[NETWORK_ID]
    assert (family, ours["chainid"], ours["host"]) == ("fqai", CHAIN_ID, f"${HOST_ENV}")
    again = _networks_script(any_chain.brownie_home, any_chain.rpc_url)
    assert again.returncode == 0 and again.stdout == "", again.stdout + again.stderr
    bad = _networks_script(
        any_chain.brownie_home, any_chain.rpc_url, "add", "x", "--chain-id", "0", "--host", "$X"
    )
    assert bad.returncode != 0 and "--chain-id must be a positive integer" in _one_line(bad)


def test_the_deploy_script_refuses_another_chain_than_fqai_chain_id(any_chain: AnyChain) -> None:
    w3 = any_chain.w3()
    nonce = w3.eth.get_transaction_count(any_chain.deployer.address)
    result = _deploy(
        any_chain.project,
        any_chain.brownie_home,
        any_chain.rpc_url,
        "0x" + any_chain.deployer.key.hex(),
        FQAI_CHAIN_ID="1",
    )
    assert result.returncode != 0
    assert (
        f"network '{NETWORK_ID}' serves chain {CHAIN_ID}, but chain 1 was expected "
        "(FQAI_CHAIN_ID); refusing to deploy" in _one_line(result)
    )
    assert w3.eth.get_transaction_count(any_chain.deployer.address) == nonce


# ----------------------------------------------------------------------------- federation


def test_a_federation_with_fresh_keys(any_chain: AnyChain, tmp_path: Path) -> None:
    passphrase = tmp_path / "passphrase"
    passphrase.write_text(PASSPHRASE)
    coordinator = _funded_identity(any_chain, tmp_path / "keys" / "coordinator")
    node = _funded_identity(any_chain, tmp_path / "keys" / "node")

    created = _create_cli(
        any_chain, tmp_path / "keys" / "coordinator", passphrase, FQAI_CHAIN_ID=str(CHAIN_ID)
    )
    assert created.returncode == 0, created.stdout + created.stderr
    answer = json.loads(created.stdout.strip().splitlines()[-1])
    assert answer["coordinator"] == coordinator.public.eth_address
    federation_id = int(answer["federation_id"])

    node_chain = ChainClient.from_rpc(
        any_chain.rpc_url,
        KeySender(node.eth_private_key),
        deployments_dir=any_chain.deployments_dir,
        expected_chain_id=CHAIN_ID,
    )
    assert node_chain.deployment.chain_id == CHAIN_ID
    assert join_federation(node_chain, node, federation_id)
    registry = FederationRegistry(node_chain)
    member = registry.member(federation_id, node.public.eth_address)
    assert member.status is MemberStatus.ACTIVE
    assert member.key_digest == node.public.mldsa_key_digest
    state = registry.federation(federation_id)
    assert (state.coordinator, state.member_count) == (coordinator.public.eth_address, 1)
    joins = node_chain.events(REGISTRY, "NodeJoined", filters={"federationId": federation_id})
    assert [e["args"]["node"] for e in joins] == [node.public.eth_address]


# ----------------------------------------------------------------------------- wrong chain


def test_an_rpc_for_another_chain_is_refused_before_any_record_is_read(
    any_chain: AnyChain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "no-records"
    empty.mkdir()
    monkeypatch.delenv(CHAIN_ID_ENV, raising=False)
    with pytest.raises(WrongChainError) as caught:
        ChainClient.from_rpc(any_chain.rpc_url, deployments_dir=empty, expected_chain_id=31337)
    error = caught.value
    assert isinstance(error, ChainError)
    assert (error.rpc_url, error.chain_id, error.expected_chain_id) == (
        any_chain.rpc_url,
        CHAIN_ID,
        31337,
    )
    assert str(error) == (
        f"the RPC at {any_chain.rpc_url} serves chain {CHAIN_ID}, but chain 31337 was expected "
        "(--chain-id / expected_chain_id); refusing to send anything"
    )

    monkeypatch.setenv(CHAIN_ID_ENV, "31337")
    with pytest.raises(WrongChainError, match=r"\(FQAI_CHAIN_ID=31337 in the environment\)"):
        ChainClient.from_rpc(any_chain.rpc_url, deployments_dir=empty)
    # An explicit id wins over the environment.
    client = ChainClient.from_rpc(
        any_chain.rpc_url, deployments_dir=any_chain.deployments_dir, expected_chain_id=CHAIN_ID
    )
    assert client.deployment.chain_id == CHAIN_ID

    for bad in ("sepolia", "0", "-5", "0x67932"):
        monkeypatch.setenv(CHAIN_ID_ENV, bad)
        with pytest.raises(ChainError, match=f"FQAI_CHAIN_ID='{bad}' is not a chain id"):
            ChainClient.from_rpc(any_chain.rpc_url, deployments_dir=any_chain.deployments_dir)
    monkeypatch.setenv(CHAIN_ID_ENV, " ")  # empty: no expectation
    unset = ChainClient.from_rpc(any_chain.rpc_url, deployments_dir=any_chain.deployments_dir)
    assert unset.deployment.chain_id == CHAIN_ID
    with pytest.raises(ChainError, match="expected_chain_id must be a positive integer"):
        ChainClient.from_rpc(any_chain.rpc_url, expected_chain_id=0)


def test_the_cli_refuses_the_wrong_chain_and_sends_nothing(
    any_chain: AnyChain, tmp_path: Path
) -> None:
    passphrase = tmp_path / "passphrase"
    passphrase.write_text(PASSPHRASE)
    keys = tmp_path / "keys" / "coordinator"
    coordinator = _funded_identity(any_chain, keys)
    w3 = any_chain.w3()
    nonce = w3.eth.get_transaction_count(coordinator.public.eth_address)
    height = w3.eth.block_number

    refused = _create_cli(any_chain, keys, passphrase, FQAI_CHAIN_ID="1")
    assert refused.returncode != 0
    assert (
        f"the RPC at {any_chain.rpc_url} serves chain {CHAIN_ID}, but chain 1 was expected "
        "(FQAI_CHAIN_ID=1 in the environment); refusing to send anything" in _one_line(refused)
    )
    invalid = _create_cli(any_chain, keys, passphrase, FQAI_CHAIN_ID="mainnet")
    assert invalid.returncode != 0
    assert "FQAI_CHAIN_ID='mainnet' is not a chain id" in _one_line(invalid)

    assert w3.eth.get_transaction_count(coordinator.public.eth_address) == nonce
    assert w3.eth.block_number == height  # no transaction from anyone


def test_a_424242_record_is_never_used_on_a_31337_chain(
    any_chain: AnyChain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CHAIN_ID_ENV, raising=False)
    source = any_chain.deployments_dir / f"{CHAIN_ID}.json"
    relabelled = tmp_path / "relabelled"  # the 424242 record under the 31337 name
    relabelled.mkdir()
    shutil.copyfile(source, relabelled / "31337.json")
    rewritten = tmp_path / "rewritten"  # ... and with its chainId edited to 31337
    rewritten.mkdir()
    document = json.loads(source.read_text())
    document["chainId"] = 31337
    (rewritten / "31337.json").write_text(json.dumps(document))

    with AnvilNode(chain_id=31337, log_path=tmp_path / "anvil-31337.log") as local:
        with pytest.raises(DeploymentError, match=r"no deployment record \S*/31337\.json"):
            ChainClient.from_rpc(local.rpc_url, deployments_dir=any_chain.deployments_dir)
        with pytest.raises(
            WrongChainError, match="serves chain 31337, but chain 424242 was expected"
        ):
            ChainClient.from_rpc(
                local.rpc_url,
                deployments_dir=any_chain.deployments_dir,
                expected_chain_id=CHAIN_ID,
            )
        with pytest.raises(DeploymentError, match="records chain id 424242, expected 31337"):
            ChainClient.from_rpc(local.rpc_url, deployments_dir=relabelled)
        with pytest.raises(DeploymentError, match="has no code on chain 31337"):
            ChainClient.from_rpc(local.rpc_url, deployments_dir=rewritten)


# ----------------------------------------------------------------------------- costs


def _costs(*args: str) -> dict[str, Any]:
    script = ROOT / "bench" / "network_costs.py"
    result = _run([sys.executable, str(script), *args, "--json"], _env(), timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_network_costs_follow_the_measured_gas_table(tmp_path: Path) -> None:
    costs = _costs("--nodes", "12", "--rounds", "10")
    items = {i["action"]: i for i in costs["items"]}
    run_total = sum(i["gas"] for i in costs["items"] if i["in_total"])
    assert costs["totals"]["federation run, everyone (excl. deployment)"] == run_total
    assert items["FederationRegistry.commitUpdate"]["count"] == 120
    finalize = items["FederationRegistry.finalizeRound (12 contributors)"]
    assert finalize["note"] == "interpolated between 4 and 20 contributors"

    # A table without a measured SuperNode key registration: join plus a marked estimate.
    doc = tmp_path / "BENCHMARKS.md"
    text = (ROOT / "docs" / "BENCHMARKS.md").read_text(encoding="utf-8")
    doc.write_text("\n".join(x for x in text.splitlines() if "SuperNodeKey" not in x))
    estimated = {
        i["action"]: i for i in _costs("--nodes", "3", "--rounds", "1", "--doc", str(doc))["items"]
    }
    assert estimated["FederationRegistry.setSuperNodeKey"]["note"] == "estimate, not yet measured"
    assert estimated["FederationRegistry.join"]["count"] == 3
