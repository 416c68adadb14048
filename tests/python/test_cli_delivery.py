"""The licensed-delivery commands as processes: publish, offer, buy, a running key service
(stopped and restarted), fetch and eval, against a real Anvil and IPFS node."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from fqai.chain.marketplace import Marketplace
from fqai.devnet.ipfs_node import IpfsNode
from fqai.federation import task
from fqai.weights import save_weights
from tests.python.conftest import PASSPHRASE, make_identity
from tests.python.federation_fixtures import (  # noqa: F401
    FQAI,
    DeployedChain,
    deployed_chain,
    run_cli,
    stop_process,
)


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_cli_publish_license_keyservice_fetch_eval(
    deployed_chain: DeployedChain,  # noqa: F811
    ipfs_node: IpfsNode,
    tmp_path: Path,
) -> None:
    owner = make_identity(tmp_path / "owner")
    licensee = make_identity(tmp_path / "licensee")
    for who in (owner, licensee):
        deployed_chain.client(6).send_ether(who.public.eth_address, 10**18)
    deployed_chain.client(0).transact("ModelNFT", "setMinter", owner.public.eth_address, True)
    passphrase = tmp_path / "passphrase"
    passphrase.write_text(PASSPHRASE)
    common = [*deployed_chain.cli_args, "--ipfs-api", ipfs_node.api_address,
              "--passphrase-file", str(passphrase)]  # fmt: skip
    data = task.load_dataset("breast_cancer")
    model = task.build_model("breast_cancer", seed=1)
    task.train(model, data.x_train, data.y_train, epochs=5)
    weights = tmp_path / "model.safetensors"
    save_weights(task.get_weights(model), weights)

    published = run_cli(
        "model", "publish", str(weights), "--name", "fqai.cancer-mlp", "--dataset",
        "breast_cancer", "--keystore", str(tmp_path / "owner"), *common,
    )  # fmt: skip
    assert published.returncode == 0, published.stderr
    token = last_json(published.stdout)["token_id"]
    assert last_json(published.stdout)["licensed_only"] is True
    assert list((tmp_path / "owner" / "content-keys").glob("*.json"))
    offered = run_cli(
        "license", "offer", str(token), "--price", "0.01", "--duration-days", "1",
        "--keystore", str(tmp_path / "owner"), *common,
    )  # fmt: skip
    assert offered.returncode == 0, offered.stderr

    log = (tmp_path / "keyservice.out").open("w")
    service = subprocess.Popen(
        [*FQAI, "keyservice", "run", "--interval", "1", "--keystore", str(tmp_path / "owner"),
         *common],
        stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        bought = run_cli(
            "license", "buy", str(token), "--offer", "0", "--max-price", "0.01",
            "--keystore", str(tmp_path / "licensee"), *common,
        )  # fmt: skip
        assert bought.returncode == 0, bought.stderr
        license_id = last_json(bought.stdout)["license_id"]
        market = Marketplace(deployed_chain.client(None))
        deadline = time.monotonic() + 60
        while not market.license_of(token, licensee.public.eth_address).key_delivered:
            assert time.monotonic() < deadline, (tmp_path / "keyservice.out").read_text()
            assert service.poll() is None, (tmp_path / "keyservice.out").read_text()
            time.sleep(0.5)
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=30)
        stop_process(service)
    assert "delivered" in (tmp_path / "keyservice.out").read_text()
    assert "key service stopped" in (tmp_path / "keyservice.out").read_text()

    # A restarted service finds nothing left to do: the delivery is on-chain.
    again = run_cli("keyservice", "run", "--once", "--keystore", str(tmp_path / "owner"), *common)
    assert again.returncode == 0 and "delivered" not in again.stdout, again.stdout + again.stderr
    deliveries = market.key_deliveries(token_id=token)
    assert [d.license_id for d in deliveries] == [license_id]

    fetched = run_cli(
        "model", "fetch", str(token), "--out", str(tmp_path / "mine.safetensors"),
        "--keystore", str(tmp_path / "licensee"), *common,
    )  # fmt: skip
    assert fetched.returncode == 0, fetched.stderr
    assert (tmp_path / "mine.safetensors").read_bytes() == weights.read_bytes()
    evaluated = run_cli(
        "model", "eval", str(token), "--keystore", str(tmp_path / "licensee"), *common
    )
    assert evaluated.returncode == 0, evaluated.stderr
    result = last_json(evaluated.stdout)
    assert result["dataset"] == "breast_cancer" and result["accuracy"] > 0.9

    # The owner's own keystore holds no licence: refused, exit status 1, reason on stderr.
    refused = run_cli(
        "model", "fetch", str(token), "--out", str(tmp_path / "x"),
        "--keystore", str(tmp_path / "owner"), *common,
    )  # fmt: skip
    assert refused.returncode == 1 and "holds no valid licence" in refused.stderr
    assert not (tmp_path / "x").exists()


def test_cli_licensed_quantum_model_publish_buy_eval(
    deployed_chain: DeployedChain,  # noqa: F811
    ipfs_node: IpfsNode,
    tmp_path: Path,
) -> None:
    """A hybrid quantum classifier published licensed-only, bought, delivered by the key
    service, fetched and evaluated exactly, with shots and on a fake device by the licensee."""
    setting = "quantum:qubits=4"
    owner = make_identity(tmp_path / "owner")
    licensee = make_identity(tmp_path / "licensee")
    for who in (owner, licensee):
        deployed_chain.client(6).send_ether(who.public.eth_address, 10**18)
    deployed_chain.client(0).transact("ModelNFT", "setMinter", owner.public.eth_address, True)
    passphrase = tmp_path / "passphrase"
    passphrase.write_text(PASSPHRASE)
    common = [*deployed_chain.cli_args, "--ipfs-api", ipfs_node.api_address,
              "--passphrase-file", str(passphrase)]  # fmt: skip
    data = task.load_dataset("breast_cancer", model=setting)
    model = task.build_model("breast_cancer", seed=1, model=setting)
    task.train(model, data.x_train, data.y_train, epochs=2, lr=0.2)
    weights = tmp_path / "qmodel.safetensors"
    save_weights(task.get_weights(model), weights)
    expected = task.evaluate(model, data.x_test, data.y_test).accuracy

    published = run_cli(
        "model", "publish", str(weights), "--dataset", "breast_cancer", "--model", setting,
        "--keystore", str(tmp_path / "owner"), *common,
    )  # fmt: skip
    assert published.returncode == 0, published.stdout + published.stderr
    token = last_json(published.stdout)["token_id"]
    assert last_json(published.stdout)["licensed_only"] is True
    offered = run_cli(
        "license", "offer", str(token), "--price", "0.01", "--duration-days", "1",
        "--keystore", str(tmp_path / "owner"), *common,
    )  # fmt: skip
    assert offered.returncode == 0, offered.stderr
    bought = run_cli(
        "license", "buy", str(token), "--offer", "0", "--max-price", "0.01",
        "--keystore", str(tmp_path / "licensee"), *common,
    )  # fmt: skip
    assert bought.returncode == 0, bought.stderr
    served = run_cli("keyservice", "run", "--once", "--keystore", str(tmp_path / "owner"), *common)
    assert served.returncode == 0 and "delivered" in served.stdout, served.stdout + served.stderr

    evaluated = run_cli(
        "model", "eval", str(token), "--shots", "2000", "--keystore", str(tmp_path / "licensee"),
        *common, timeout=300,
    )  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
    result = last_json(evaluated.stdout)
    assert result["family"] == "quantum"
    modes = {b["mode"]: b for b in result["backends"]}
    assert list(modes) == ["exact", "shots", "device"]
    # The licensee's exact figure is the publisher's own, on the decrypted weights.
    assert result["accuracy"] == pytest.approx(expected, abs=1e-6)
    for mode in ("shots", "device"):
        assert abs(modes[mode]["accuracy"] - expected) < 0.15, modes
