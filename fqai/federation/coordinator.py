"""The coordinator's side of a round: open it, check every update, finalise it, mint the model.

An update is accepted only if, in this order:

1. its manifest fetches, is canonical, and its ML-DSA-65 signature verifies (``manifest``);
2. it is an ``update`` of this federation and round (``context``);
3. its signer's Ethereum account is an active member (``not-member``) whose registered key
   digest equals ``signer.key_digest`` (``key-mismatch``);
4. the member's on-chain commitment for the round equals the manifest digest
   (``no-commitment`` / ``commitment-mismatch``);
5. the weights fetch, match the signed sha256/size/tensors and fit the model (``weights``);
6. it reports a positive integer ``samples`` metric (``metrics``) and its signer has no other
   accepted update this round (``duplicate``).

Rejections are recorded with their reason; accepted weights (as fetched from IPFS, not as sent
over Flower) are what the strategy aggregates.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from numpy.typing import NDArray

from fqai.chain import (
    ChainClient,
    ChainError,
    FederationRegistry,
    KeySender,
    MemberStatus,
    MintParams,
)
from fqai.errors import FqaiError
from fqai.federation import task
from fqai.federation.aggregation import accepted_root, contribution_weights
from fqai.federation.errors import FederationError, UpdateRejectedError
from fqai.federation.node import model_spec
from fqai.federation.records import AcceptedUpdate, Rejection, RoundRecord, RunRecord
from fqai.ipfs.client import IpfsClient
from fqai.keystore import NodeIdentity
from fqai.trust.fetch import fetch_verified_manifest, fetch_weights_bytes
from fqai.trust.publish import PublishedArtifact, publish_artifact
from fqai.weights import load_bytes, save_weights

log = logging.getLogger(__name__)
ZERO_DIGEST = "0x" + "00" * 32


@dataclass
class Coordinator:
    """Chain, IPFS and keys of a federation's coordinator during one run.

    Parameters
    ----------
    chain
        Chain client sending as the federation's coordinator account.
    ipfs
        IPFS client for fetching updates and publishing round models.
    identity
        Unlocked keystore whose ML-DSA-65 key signs round-model manifests.
    federation_id, dataset, data_seed
        The federation and its task.
    work_dir
        Where round-model weights files are written.
    """

    chain: ChainClient
    ipfs: IpfsClient
    identity: NodeIdentity
    federation_id: int
    dataset: str
    data_seed: int = 0
    strategy_name: str = "fedavg"
    work_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="fqai-coord-")))
    record: RunRecord = field(init=False)
    current: RoundRecord | None = field(default=None, init=False)
    last_model_cid: str | None = field(default=None, init=False)
    last_model: PublishedArtifact | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.registry = FederationRegistry(self.chain)
        self.record = RunRecord(
            federation_id=self.federation_id, dataset=self.dataset, strategy=self.strategy_name
        )
        self._test = task.load_dataset(self.dataset, seed=self.data_seed)
        state = self.registry.federation(self.federation_id)
        if state.coordinator != self.chain.address:
            raise FederationError(
                f"{self.chain.address} is not the coordinator of federation "
                f"{self.federation_id} ({state.coordinator} is)"
            )

    # -- rounds -----------------------------------------------------------------------------

    def open_round(self, flower_round: int) -> int:
        """Open the next on-chain round; return its number."""
        chain_round = self.registry.open_round(self.federation_id)
        self.current = RoundRecord(round=chain_round, flower_round=flower_round)
        self.record.rounds.append(self.current)
        return chain_round

    def reject(self, rejection: Rejection) -> None:
        """Record a rejection in the current round."""
        assert self.current is not None
        self.current.rejected.append(rejection)
        log.warning(
            "round %d: rejected update from %s (%s): %s",
            rejection.round,
            rejection.node or f"Flower node {rejection.flower_node_id}",
            rejection.reason,
            rejection.detail,
        )

    def verify_update(
        self, manifest_cid: str, flower_node_id: int | None = None
    ) -> tuple[AcceptedUpdate, dict[str, NDArray[Any]]]:
        """Run the checks of the module docstring; return the update and its weights.

        Raises
        ------
        UpdateRejectedError
            With the reason code of the first failing check.
        """
        assert self.current is not None
        round_ = self.current.round
        try:
            verified = fetch_verified_manifest(self.ipfs, manifest_cid)
        except FqaiError as exc:
            raise UpdateRejectedError("manifest", str(exc)) from exc
        manifest = verified.manifest
        if (manifest.kind, manifest.federation_id, manifest.round) != (
            "update",
            str(self.federation_id),
            round_,
        ):
            raise UpdateRejectedError(
                "context",
                f"manifest is a {manifest.kind} of federation {manifest.federation_id} round "
                f"{manifest.round}, expected an update of federation {self.federation_id} "
                f"round {round_}",
            )
        node = manifest.signer.eth_address
        try:
            member = self.registry.member(self.federation_id, node)
            commitment = self.registry.commitment(self.federation_id, round_, node)
        except ChainError as exc:
            raise UpdateRejectedError("chain", f"cannot read membership of {node}: {exc}") from exc
        if member.status is not MemberStatus.ACTIVE:
            raise UpdateRejectedError("not-member", f"{node} is not an active member")
        if member.key_digest != manifest.signer.key_digest:
            raise UpdateRejectedError(
                "key-mismatch",
                f"manifest signed by key {manifest.signer.key_digest}, but {node} registered "
                f"key {member.key_digest} on-chain",
            )
        if commitment == ZERO_DIGEST:
            raise UpdateRejectedError("no-commitment", f"{node} committed nothing in {round_}")
        if commitment != verified.digest:
            raise UpdateRejectedError(
                "commitment-mismatch",
                f"{node} committed {commitment}, manifest digest is {verified.digest}",
            )
        try:
            data = fetch_weights_bytes(self.ipfs, manifest)
            weights = load_bytes(data, manifest.weights.info, f"weights {manifest.weights.cid}")
            task.set_weights(task.build_model(self.dataset), weights)
        except FqaiError as exc:
            raise UpdateRejectedError("weights", str(exc)) from exc
        samples = manifest.metrics.get("samples")
        if type(samples) is not int or samples <= 0:
            raise UpdateRejectedError("metrics", f"samples must be a positive int: {samples!r}")
        if any(a.node == node for a in self.current.accepted):
            raise UpdateRejectedError("duplicate", f"{node} already has an accepted update")
        loss = manifest.metrics.get("loss")
        accepted = AcceptedUpdate(
            node=node,
            manifest_cid=manifest_cid,
            manifest_digest=verified.digest,
            samples=samples,
            train_loss=float(loss) if isinstance(loss, int | float) else None,
            flower_node_id=flower_node_id,
        )
        self.current.accepted.append(accepted)
        log.info(
            "round %d: accepted update %s from %s (%d samples)", round_, manifest_cid, node, samples
        )
        return accepted, weights

    def finalize(self, weights: dict[str, NDArray[Any]]) -> RoundRecord:
        """Evaluate, publish the round model (parents = accepted updates) and finalise on-chain."""
        current = self.current
        assert current is not None
        if not current.accepted:
            raise FederationError(f"round {current.round}: no update was accepted")
        model = task.build_model(self.dataset)
        task.set_weights(model, weights)
        result = task.evaluate(model, self._test.x_test, self._test.y_test)
        path = self.work_dir / f"round-model-f{self.federation_id}-r{current.round}.safetensors"
        self.work_dir.mkdir(parents=True, exist_ok=True)
        save_weights(task.get_weights(model), path)
        published = publish_artifact(
            self.ipfs,
            self.identity,
            path,
            kind="round-model",
            federation_id=self.federation_id,
            round=current.round,
            model=model_spec(self.dataset),
            parents=sorted(a.manifest_cid for a in current.accepted),
            metrics={
                "accuracy": result.accuracy,
                "loss": result.loss,
                "test_samples": result.samples,
                "contributors": len(current.accepted),
            },
        )
        contributors, weights_ppm = contribution_weights(
            {a.node: a.samples for a in current.accepted}
        )
        root = accepted_root([a.manifest_digest for a in current.accepted])
        tx = self.registry.finalize_round(
            self.federation_id,
            current.round,
            published.manifest_cid,
            published.manifest_digest,
            root,
            contributors,
            weights_ppm,
        )
        current.contributors = contributors
        current.weights = weights_ppm
        current.accepted_root = root
        current.model_cid = published.manifest_cid
        current.model_digest = published.manifest_digest
        current.accuracy = result.accuracy
        current.loss = result.loss
        current.finalize_tx = tx.tx_hash
        current.finalized = True
        self.last_model = published
        self.last_model_cid = published.manifest_cid
        self.record.final_model_cid = published.manifest_cid
        log.info(
            "finalised round %d of federation %d: %d contributors, accuracy %.3f, model %s",
            current.round,
            self.federation_id,
            len(contributors),
            result.accuracy,
            published.manifest_cid,
        )
        return current

    def mint(self, to: str | None = None, royalty_bps: int = 0) -> int:
        """Mint the model NFT of the last finalised round to ``to`` (default: the coordinator)."""
        if self.last_model is None:
            raise FederationError("no round was finalised in this run; nothing to mint")
        owner = to or self.chain.address
        token_id = self.registry.mint_model(
            self.federation_id,
            owner,
            MintParams(
                manifest_cid=self.last_model.manifest_cid,
                weights_digest=self.last_model.manifest.weights.sha256,
                signer_key_digest=self.identity.public.mldsa_key_digest,
                royalty_receiver=self.chain.address,
                royalty_bps=royalty_bps,
            ),
        )
        self.record.token_id = token_id
        return token_id


def coordinator_chain(
    rpc_url: str, identity: NodeIdentity, deployments_dir: Path | None
) -> ChainClient:
    """A chain client sending as the keystore's Ethereum account."""
    return ChainClient.from_rpc(
        rpc_url, KeySender(identity.eth_private_key), deployments_dir=deployments_dir
    )
