"""Attacks on a running federation: real Anvil, js-ipfs and Flower processes (`fqai node start`).

Five staked nodes, three rounds, coordinate-wise median aggregation. Nodes 0-2 are honest.
Node 3 tries, round by round, to free-ride (the global model sent back), to replay its round-1
update, and to sign with a key other than the one it registered. Node 4 claims 10^9 training
examples, then sends sign-flipped, then scaled updates (20 % of the nodes). Checked from the
signed round reports and the chain: node 3 is rejected each round with the right reason and
never paid; node 4's claim weighs at most 3 x the median claim; the model still learns; every
round recomputes bit for bit from the signed updates; and each contract's ETH balance equals
what it owes after rewards are claimed and withdrawn.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fqai.chain import FederationConfig, FederationRegistry, KeySender
from fqai.chain.deployment import MARKETPLACE, REGISTRY
from fqai.devnet.ipfs_node import IpfsNode
from fqai.federation import task
from fqai.federation.aggregation import SAMPLES_CLIP, capped_samples
from fqai.federation.faults import INFLATED_SAMPLES
from fqai.federation.recompute import UpdateInput, aggregate_updates, recompute_federation
from fqai.federation.report import fetch_round_report
from fqai.federation.rewards import claim_rewards
from fqai.ipfs.client import IpfsClient
from fqai.keystore import Keystore
from fqai.trust.fetch import fetch_verified_manifest, fetch_weights_bytes
from fqai.weights import load_bytes
from tests.python.conftest import PASSPHRASE
from tests.python.federation_fixtures import (  # noqa: F401
    DeployedChain,
    cli_federation,
    deployed_chain,
    run_cli_federation,
)

ROUNDS = 3
NODES = 5
FREE_RIDER = 3  # free-ride, replay, foreign key
POISONER = 4  # 10^9 samples, sign flip, scaling
REJECTED = ["no-update", "context", "key-mismatch"]  # node 3's rejection reason per round
REWARD = 10**16


@dataclass
class AttackRun:
    chain: DeployedChain
    federation_id: int
    record: dict[str, Any]
    reports: list[dict[str, Any]]
    addresses: list[str]
    ipfs_api: str
    base: Path


@pytest.fixture(scope="module")
def attack_run(
    deployed_chain: DeployedChain,  # noqa: F811
    ipfs_node: IpfsNode,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AttackRun]:
    base = tmp_path_factory.mktemp("attacks")
    setup = cli_federation(
        deployed_chain,
        base,
        5,
        FederationConfig(
            model_spec_cid="bafkreifqaiattacks", min_stake=10**17, reward_per_round=REWARD
        ),
        pool_wei=ROUNDS * REWARD,
        nodes=NODES,
    )
    faults = {
        FREE_RIDER: "free-ride,replay,foreign-key",
        POISONER: "inflate-samples,sign-flip,scale",
    }
    record, _ = run_cli_federation(
        base, setup, ipfs_node.api_address,
        ["--rounds", str(ROUNDS), "--min-nodes", str(NODES), "--quorum", "3",
         "--strategy", "fedmedian", "--local-epochs", "3", "--lr", "0.1"],
        faults=faults, nodes=NODES, round_timeout=90, timeout=600,
    )  # fmt: skip
    with IpfsClient(ipfs_node.api_address, timeout=20) as ipfs:
        reports = [fetch_round_report(ipfs, r["report_cid"]).body for r in record["rounds"]]
    addresses = [n.public.eth_address for n in setup.nodes]
    yield AttackRun(
        deployed_chain,
        setup.federation_id,
        record,
        reports,
        addresses,
        ipfs_node.api_address,
        base,
    )


def _rejections(run: AttackRun, node: int) -> list[list[str]]:
    address = run.addresses[node].lower()
    return [
        [x["reason"] for x in report["rejected"] if (x.get("node") or "").lower() == address]
        for report in run.reports
    ]


def _contributors(report: dict[str, Any]) -> dict[str, int]:
    c = report["contributions"]
    return {a.lower(): w for a, w in zip(c["contributors"], c["weights"], strict=True)}


def test_all_rounds_finalise_despite_the_attackers(attack_run: AttackRun) -> None:
    assert attack_run.record["error"] is None
    assert [r["round"] for r in attack_run.record["rounds"]] == list(range(1, ROUNDS + 1))


@pytest.mark.attack(
    "free-rider",
    actor="a lazy node",
    attack="send the round's global model back unchanged, signed and committed",
    control="coordinator: an update equal to the round's global model is rejected (no-update)",
)
def test_a_free_rider_is_rejected_and_not_paid(attack_run: AttackRun) -> None:
    assert _rejections(attack_run, FREE_RIDER)[0] == ["no-update"]
    assert attack_run.addresses[FREE_RIDER].lower() not in _contributors(attack_run.reports[0])


@pytest.mark.attack(
    "replayed-update",
    actor="a lazy node",
    attack="replay its update of an earlier round (committing its digest again)",
    control="coordinator: the signed manifest must name this federation and round (context)",
)
def test_a_replayed_update_is_rejected(attack_run: AttackRun) -> None:
    assert _rejections(attack_run, FREE_RIDER)[1] == ["context"]
    detail = next(
        x["detail"]
        for x in attack_run.reports[1]["rejected"]
        if (x.get("node") or "").lower() == attack_run.addresses[FREE_RIDER].lower()
    )
    assert "round 1" in detail and "round 2" in detail


@pytest.mark.attack(
    "update-signed-with-another-key",
    actor="a malicious node",
    attack="send an update whose valid ML-DSA-65 signature is by a key it did not register",
    control="coordinator: signer key digest = the node's on-chain key digest (key-mismatch)",
)
def test_an_update_signed_with_another_key_is_rejected(attack_run: AttackRun) -> None:
    assert _rejections(attack_run, FREE_RIDER)[2] == ["key-mismatch"]
    for report in attack_run.reports:
        assert attack_run.addresses[FREE_RIDER].lower() not in _contributors(report)


@pytest.mark.attack(
    "inflated-sample-count",
    actor="a greedy node",
    attack="claim 10^9 training examples to dominate the average, the rewards and the revenue",
    control=f"claims weigh at most {SAMPLES_CLIP:g} x the round's median claim",
)
def test_an_inflated_sample_claim_weighs_at_most_three_times_the_median(
    attack_run: AttackRun,
) -> None:
    report = attack_run.reports[0]
    claims = {a["node"].lower(): int(a["samples"]) for a in report["accepted"]}
    poisoner = attack_run.addresses[POISONER].lower()
    assert claims[poisoner] == INFLATED_SAMPLES  # the report keeps the signed claim
    honest = sorted(v for k, v in claims.items() if k != poisoner)
    cap = int(SAMPLES_CLIP * statistics.median_low([*honest, INFLATED_SAMPLES]))
    share = _contributors(report)[poisoner] / 1_000_000
    assert share == pytest.approx(cap / (sum(honest) + cap), abs=2e-6)
    assert share < 0.5  # uncapped it would be > 0.999
    assert report["aggregation"]["samples_clip"] == SAMPLES_CLIP
    # Rounds where node 4 claimed honestly weigh it like the others.
    later = _contributors(attack_run.reports[1])
    assert later[poisoner] < 1_000_000 // 2


def _accuracy_of(strategy: str, round_: int, updates: list[UpdateInput]) -> float:
    data = task.load_dataset("breast_cancer", seed=0)
    model = task.build_model("breast_cancer")
    task.set_weights(model, aggregate_updates(strategy, {}, round_, updates))
    return task.evaluate(model, data.x_test, data.y_test).accuracy


def _signed_updates(run: AttackRun, report: dict[str, Any]) -> list[UpdateInput]:
    """The round's accepted updates as signed and pinned (verified again), weighed as capped."""
    counted = capped_samples({a["node"]: int(a["samples"]) for a in report["accepted"]})
    updates = []
    with IpfsClient(run.ipfs_api, timeout=20) as ipfs:
        for entry in report["accepted"]:
            manifest = fetch_verified_manifest(ipfs, entry["manifest_cid"]).manifest
            weights = load_bytes(fetch_weights_bytes(ipfs, manifest), manifest.weights.info, "u")
            updates.append(UpdateInput(entry["node"], counted[entry["node"]], None, weights))
    return updates


@pytest.mark.attack(
    "poisoned-updates",
    actor="a malicious node (20 % of the federation)",
    attack="send sign-flipped (x-4) and scaled (x10) updates, validly signed and committed",
    control="robust aggregation (coordinate-wise median); FedAvg has none",
)
def test_poisoned_updates_do_not_break_the_median(attack_run: AttackRun) -> None:
    """From the signed updates of the attacked rounds: the median with the poisoned update is
    within 2 points of the median without it, while FedAvg over the same updates loses more
    in at least one of them."""
    poisoner = attack_run.addresses[POISONER].lower()
    losses: list[float] = []
    for rnd, report in enumerate(attack_run.reports[1:], start=2):
        updates = _signed_updates(attack_run, report)
        assert poisoner in {u.node.lower() for u in updates}  # undetectable by signatures
        honest = [u for u in updates if u.node.lower() != poisoner]
        attacked = _accuracy_of("fedmedian", rnd, updates)
        assert attacked == pytest.approx(report["metrics"]["accuracy"], abs=1e-6)
        clean = _accuracy_of("fedmedian", rnd, honest)
        unprotected = _accuracy_of("fedavg", rnd, updates)
        print(f"round {rnd}: median {attacked:.3f} (clean {clean:.3f}), fedavg {unprotected:.3f}")
        # The goal of BENCHMARKS.md's Byzantine section: a robust rule within 2 points of clean.
        assert attacked >= clean - 0.02
        losses.append(clean - unprotected)
    # The attack is real: in some attacked round FedAvg over the same updates loses more than
    # that (the sign flip early on; a x10 scaling near convergence can cost FedAvg little).
    assert max(losses) > 0.02, losses


@pytest.mark.attack(
    "coordinator-decisions-recomputed",
    actor="a malicious coordinator",
    attack="publish a round model other than the aggregate of the accepted signed updates",
    control="fqai verify --recompute: every round re-run from the signed updates, bit for bit",
)
def test_every_round_recomputes_with_the_cap(attack_run: AttackRun) -> None:
    registry = FederationRegistry(attack_run.chain.client(None))
    with IpfsClient(attack_run.ipfs_api, timeout=20) as ipfs:
        results = recompute_federation(ipfs, registry, attack_run.federation_id)
    assert [r.round for r in results] == list(range(1, ROUNDS + 1))


def test_capped_samples_unit() -> None:
    assert capped_samples({"a": 100, "b": 90, "c": 10**9}) == {"a": 100, "b": 90, "c": 300}
    assert capped_samples({"a": 100, "b": 90}, None) == {"a": 100, "b": 90}
    assert capped_samples({"a": 5}) == {"a": 5}


@pytest.mark.attack(
    "rewards-reconcile-after-attacks",
    actor="any node",
    attack="end a federation under attack with ETH owed but not held, or paid to a rejected node",
    control="pull payments; contract balance = stakes + pools + credits (totals())",
)
def test_rewards_go_to_contributors_and_balances_reconcile(attack_run: AttackRun) -> None:
    chain = attack_run.chain
    reader = chain.client(None)
    base = attack_run.base
    paid: dict[int, int] = {}
    for i in range(NODES):
        identity = Keystore(base / "keys" / f"node{i}").unlock(PASSPHRASE)
        client = chain.client(None).with_sender(KeySender(identity.eth_private_key))
        report = claim_rewards(client, attack_run.federation_id)
        paid[i] = report.claimed
    assert paid[FREE_RIDER] == 0
    assert all(paid[i] > 0 for i in (0, 1, 2, POISONER))
    for contract in (REGISTRY, MARKETPLACE):
        owed = sum(reader.call(contract, "totals"))
        assert reader.balance(reader.contract(contract).address) == owed, contract
