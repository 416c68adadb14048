"""Auditable aggregation against a real chain and IPFS node: a dishonest coordinator is caught.

One federation of three staked nodes; every test is one round. The nodes publish, sign and
commit real updates; a real :class:`Coordinator` checks them. The test then plays the
coordinator's side honestly or not (the aggregate it finalises, the weights it posts, what it
leaves out), and :func:`recompute_round` must accept the honest round and name the reason for
every dishonest one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from fqai.chain import FederationConfig, FederationRegistry, KeySender
from fqai.chain.client import ChainClient
from fqai.cli import app
from fqai.devnet.ipfs_node import IpfsNode
from fqai.federation import coordinator as coordinator_module
from fqai.federation import task
from fqai.federation.coordinator import Coordinator
from fqai.federation.errors import UpdateRejectedError
from fqai.federation.membership import create_federation, join_federation
from fqai.federation.node import model_spec
from fqai.federation.recompute import (
    RecomputeError,
    UpdateInput,
    aggregate_updates,
    recompute_round,
)
from fqai.federation.records import AcceptedUpdate, Rejection
from fqai.ipfs.client import IpfsClient
from fqai.keystore import NodeIdentity
from fqai.trust.publish import publish_artifact
from fqai.weights import save_weights
from tests.python.conftest import make_identity
from tests.python.federation_fixtures import DeployedChain, deployed_chain  # noqa: F401

STAKE = 10**17
NODES = 3


@dataclass
class Federation:
    federation_id: int
    chain: ChainClient
    coordinator: NodeIdentity
    nodes: list[NodeIdentity]
    node_clients: list[FederationRegistry]
    ipfs: IpfsClient
    work: Path
    cli_args: list[str]


@pytest.fixture(scope="module")
def federation(
    deployed_chain: DeployedChain,  # noqa: F811
    ipfs_node: IpfsNode,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Federation]:
    base = tmp_path_factory.mktemp("recompute")
    coord = make_identity(base / "coord")
    nodes = [make_identity(base / f"node{i}") for i in range(NODES + 1)]
    funder = deployed_chain.client(4)
    for identity in (coord, *nodes):
        funder.send_ether(identity.public.eth_address, 10**18)
    chain = funder.with_sender(KeySender(coord.eth_private_key))
    fed = create_federation(chain, FederationConfig(model_spec_cid="bafkreiaudit", min_stake=STAKE))
    for node in nodes:
        join_federation(funder, node, fed)
    clients = [FederationRegistry(funder.with_sender(KeySender(n.eth_private_key))) for n in nodes]
    cli_args = ["--ipfs-api", ipfs_node.api_address, *deployed_chain.cli_args]
    with IpfsClient(ipfs_node.api_address, timeout=20) as ipfs:
        yield Federation(fed, chain, coord, nodes, clients, ipfs, base, cli_args)


def _publish_update(fed: Federation, i: int, round_: int, *, commit_other: bool = False) -> str:
    """Node ``i`` trains a little, publishes and commits its update; returns the manifest CID."""
    data = task.load_dataset("breast_cancer", seed=0)
    model = task.build_model("breast_cancer", seed=round_)
    idx = slice(40 * i, 40 * i + 30 + 5 * i)
    result = task.train(model, data.x_train[idx], data.y_train[idx], epochs=1, seed=i)
    path = fed.work / f"u-r{round_}-n{i}.safetensors"
    save_weights(task.get_weights(model), path)
    published = publish_artifact(
        fed.ipfs, fed.nodes[i], path, kind="update", federation_id=fed.federation_id,
        round=round_, model=model_spec("breast_cancer"),
        metrics={"samples": result.samples, "loss": result.loss},
    )  # fmt: skip
    digest = published.manifest_digest
    if commit_other:
        digest = "0x" + "ab" * 32
    fed.node_clients[i].commit_update(fed.federation_id, round_, digest)
    return published.manifest_cid


@dataclass
class Round:
    coordinator: Coordinator
    round: int
    inputs: list[UpdateInput]
    rejected_input: UpdateInput | None


def _round(fed: Federation, *, with_rejected: bool = False) -> Round:
    """Open a round; three honest updates verified by a real coordinator (and one rejected)."""
    coordinator = Coordinator(
        fed.chain, fed.ipfs, fed.coordinator, fed.federation_id, "breast_cancer",
        work_dir=fed.work / "coordinator",
    )  # fmt: skip
    coordinator.resume()
    rnd = coordinator.open_round(1)
    inputs = []
    for i in range(NODES):
        update, weights = coordinator.verify_update(_publish_update(fed, i, rnd))
        inputs.append(UpdateInput(update.node, update.samples, update.train_loss, weights))
    rejected_input = None
    if with_rejected:
        cid = _publish_update(fed, NODES, rnd, commit_other=True)
        with pytest.raises(UpdateRejectedError, match="committed"):
            coordinator.verify_update(cid)
        from fqai.trust.fetch import fetch_verified_manifest, fetch_weights_bytes
        from fqai.weights import load_bytes

        manifest = fetch_verified_manifest(fed.ipfs, cid).manifest
        weights = load_bytes(fetch_weights_bytes(fed.ipfs, manifest), manifest.weights.info, cid)
        node = fed.nodes[NODES].public.eth_address
        coordinator.reject(Rejection(rnd, "commitment-mismatch", "test", node=node))
        samples, loss = int(manifest.metrics["samples"]), float(manifest.metrics["loss"])
        rejected_input = UpdateInput(node, samples, loss, weights)
    return Round(coordinator, rnd, inputs, rejected_input)


def _honest(r: Round, inputs: list[UpdateInput] | None = None) -> dict[str, Any]:
    return aggregate_updates("fedavg", {}, r.round, inputs if inputs is not None else r.inputs)


def _check(fed: Federation, round_: int) -> Any:
    registry = FederationRegistry(fed.chain)
    event = next(e for e in registry.finalized_rounds(fed.federation_id) if e.round == round_)
    return recompute_round(fed.ipfs, registry, event)


def test_honest_round_recomputes_bit_for_bit(federation: Federation) -> None:
    r = _round(federation)
    r.coordinator.finalize(_honest(r))
    result = _check(federation, r.round)
    assert result.updates == NODES and result.strategy == "fedavg"
    # In any arrival order the aggregate is the same: the order is canonical.
    assert all(
        np.array_equal(a, b)
        for a, b in zip(
            _honest(r, list(reversed(r.inputs))).values(), _honest(r).values(), strict=True
        )
    )


def _perturb(weights: dict[str, Any]) -> dict[str, Any]:
    out = {k: v.copy() for k, v in weights.items()}
    first = next(iter(out))
    out[first].flat[0] += np.float32(1e-6)
    return out


DISHONEST: dict[str, tuple[Callable[[Round], dict[str, Any]], str]] = {
    "tiny perturbation of the global model": (lambda r: _perturb(_honest(r)), "aggregate"),
    "an accepted update left out of the aggregate": (
        lambda r: _honest(r, r.inputs[:-1]),
        "aggregate",
    ),
    "a rejected update added to the aggregate": (
        lambda r: _honest(r, [*r.inputs, r.rejected_input]),  # type: ignore[list-item]
        "aggregate",
    ),
    "the weights of another model finalised": (
        lambda r: task.get_weights(task.build_model("breast_cancer", seed=99)),
        "aggregate",
    ),
}


@pytest.mark.parametrize("case", list(DISHONEST))
def test_dishonest_aggregate_is_detected(federation: Federation, case: str) -> None:
    make_weights, reason = DISHONEST[case]
    r = _round(federation, with_rejected=True)
    r.coordinator.finalize(make_weights(r))
    with pytest.raises(RecomputeError) as info:
        _check(federation, r.round)
    assert (info.value.round, info.value.reason) == (r.round, reason)


def test_reordered_contribution_weights_are_detected(
    federation: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    honest = coordinator_module.contribution_weights

    def swapped(samples: dict[str, int]) -> tuple[list[str], list[int]]:
        contributors, weights = honest(samples)
        return contributors, list(reversed(weights))

    monkeypatch.setattr(coordinator_module, "contribution_weights", swapped)
    r = _round(federation)
    r.coordinator.finalize(_honest(r))
    with pytest.raises(RecomputeError) as info:
        _check(federation, r.round)
    assert (info.value.round, info.value.reason) == (r.round, "contributions")
    assert "sample counts" in info.value.detail


def test_update_dropped_without_a_trace_is_detected(
    federation: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The coordinator aggregates two of three committed updates and hides the third entirely.
    monkeypatch.setattr(Coordinator, "_account_for_silent_commitments", lambda self, current: None)
    r = _round(federation)
    assert r.coordinator.current is not None
    dropped: AcceptedUpdate = r.coordinator.current.accepted.pop()
    kept = [i for i in r.inputs if i.node != dropped.node]
    r.coordinator.finalize(_honest(r, kept))
    with pytest.raises(RecomputeError) as info:
        _check(federation, r.round)
    assert (info.value.round, info.value.reason) == (r.round, "unaccounted")
    assert dropped.node in info.value.detail


def test_silent_node_is_recorded_and_the_round_still_recomputes(federation: Federation) -> None:
    # A node that committed but whose update never reached the coordinator is accounted for.
    r = _round(federation)
    assert r.coordinator.current is not None
    silent = r.coordinator.current.accepted.pop()
    r.coordinator.finalize(_honest(r, [i for i in r.inputs if i.node != silent.node]))
    (rejection,) = r.coordinator.current.rejected
    assert (rejection.reason, rejection.node) == ("no-reply", silent.node)
    assert _check(federation, r.round).updates == NODES - 1


def test_cli_names_the_first_round_that_does_not_recompute(federation: Federation) -> None:
    honest = _round(federation)
    honest.coordinator.finalize(_honest(honest))
    bad = _round(federation)
    bad.coordinator.finalize(_perturb(_honest(bad)))
    bad.coordinator.adopt_last_model()
    token = bad.coordinator.mint()
    # The first failing round by the library (earlier tests of this module may add some).
    registry = FederationRegistry(federation.chain)
    first_bad = None
    for event in registry.finalized_rounds(federation.federation_id):
        try:
            recompute_round(federation.ipfs, registry, event)
        except RecomputeError as exc:
            first_bad = exc
            break
    assert first_bad is not None and first_bad.round <= bad.round
    runner = CliRunner()
    failed = runner.invoke(app, ["verify", str(token), "--recompute", *federation.cli_args])
    assert failed.exit_code == 1, failed.output
    assert f"round {first_bad.round} ({first_bad.reason})" in failed.output
    one = runner.invoke(
        app,
        ["verify", str(token), "--recompute", "--round", str(honest.round), "--json",
         *federation.cli_args],
    )  # fmt: skip
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout)["recompute"]["rounds"][0]["round"] == honest.round
