"""The coordinator's side of a round: open it, check every update, finalise it, mint the model.

An update is accepted only if, in this order:

1. its manifest fetches, is canonical, and its ML-DSA-65 signature verifies (``manifest``);
2. it is an ``update`` of this federation and round (``context``);
3. its signer's Ethereum account is an active member (``not-member``) whose registered key
   digest equals ``signer.key_digest`` (``key-mismatch``);
4. the member's on-chain commitment for the round equals the manifest digest
   (``no-commitment`` / ``commitment-mismatch``);
5. the weights fetch, match the signed sha256/size/tensors and fit the model (``weights``),
   and differ from the round's global model (``no-update``: a free rider sends it back);
6. it reports a positive integer ``samples`` metric (``metrics``) and its signer has no other
   accepted update this round (``duplicate``);
7. in a federation with DP-SGD, its DP report matches the federation's settings, its epsilon
   is what its noise, sample rate and step count give, and within the budget (``privacy``,
   see :mod:`fqai.federation.dp`).

Claimed sample counts weigh (in FedAvg and in the contribution weights that share rewards and
revenue) at most ``samples_clip`` x the round's median claim (3 by default), so a node claiming
10**9 examples cannot take the round. Rejections are recorded with their reason; accepted weights
(as fetched from IPFS, not as sent over Flower) are what the strategy aggregates.

A round is finalised only if at least ``quorum`` updates were accepted, and only after the
round model *and* the round report (accepted and rejected updates, selection, Merkle root,
metrics; see :mod:`fqai.federation.report`) are pinned: a failure before ``finalizeRound``
leaves the round open on-chain and nothing half-written. IPFS being unreachable is not a
node's fault: it stops the round with :class:`~fqai.errors.IpfsUnavailableError` instead of
rejecting updates. A coordinator started again resumes from the chain (see :meth:`resume`).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fqai.chain import (
    ChainClient,
    ChainError,
    FederationRegistry,
    KeySender,
    MemberStatus,
    MintParams,
)
from fqai.errors import FqaiError, IpfsUnavailableError
from fqai.federation import task
from fqai.federation.aggregation import (
    SAMPLES_CLIP,
    accepted_root,
    capped_samples,
    contribution_weights,
)
from fqai.federation.dp import DpSettings, check_update_privacy
from fqai.federation.errors import FederationError, QuorumError, UpdateRejectedError
from fqai.federation.node import model_spec
from fqai.federation.records import AcceptedUpdate, Rejection, RoundRecord, RunRecord
from fqai.federation.report import publish_round_report
from fqai.ipfs.client import IpfsClient
from fqai.keystore import NodeIdentity
from fqai.trust.fetch import fetch_verified_manifest, fetch_weights_bytes
from fqai.trust.publish import PublishedArtifact, publish_artifact
from fqai.weights import describe_file, load_bytes, save_weights

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
    federation_id, dataset, data_seed, model
        The federation and its task (``model``: ``""`` for the dataset's classical network, or a
        ``quantum:...`` setting, see :func:`fqai.federation.task.normalise_model`).
    work_dir
        Where round-model weights files are written.
    dp
        The federation's DP-SGD settings, or ``None`` without differential privacy.
    record_path
        Where the run record is rewritten after every finalised round (so a coordinator killed
        later still leaves the report CIDs of what it finalised).
    """

    chain: ChainClient
    ipfs: IpfsClient
    identity: NodeIdentity
    federation_id: int
    dataset: str
    data_seed: int = 0
    strategy_name: str = "fedavg"
    strategy_params: dict[str, Any] = field(default_factory=dict)
    quorum: int = 1
    work_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="fqai-coord-")))
    dp: DpSettings | None = None
    record_path: Path | None = None
    model: str = ""
    record: RunRecord = field(init=False)
    current: RoundRecord | None = field(default=None, init=False)
    last_model_cid: str | None = field(default=None, init=False)
    last_model: PublishedArtifact | None = field(default=None, init=False)
    resumed_round: int | None = field(default=None, init=False)
    finalized_before: int = field(default=0, init=False)
    dp_epsilon: float = field(default=0.0, init=False)
    last_weights: dict[str, NDArray[Any]] = field(default_factory=dict, init=False, repr=False)
    # The global model this round started from (set by the strategy): an update equal to it is
    # a free rider's, rejected as ``no-update``.
    round_start: dict[str, NDArray[Any]] | None = field(default=None, init=False, repr=False)
    samples_clip: float | None = SAMPLES_CLIP

    def __post_init__(self) -> None:
        self.registry = FederationRegistry(self.chain)
        if self.quorum < 1:
            raise FederationError(f"quorum must be at least 1, got {self.quorum}")
        self.record = RunRecord(
            federation_id=self.federation_id,
            dataset=self.dataset,
            strategy=self.strategy_name,
            quorum=self.quorum,
            aggregation={
                "strategy": self.strategy_name,
                "params": dict(self.strategy_params),
                "samples_clip": self.samples_clip,
            },
        )
        self.model = task.normalise_model(self.model)
        self._test = task.load_dataset(self.dataset, seed=self.data_seed, model=self.model)
        state = self.registry.federation(self.federation_id)
        if state.coordinator != self.chain.address:
            raise FederationError(
                f"{self.chain.address} is not the coordinator of federation "
                f"{self.federation_id} ({state.coordinator} is)"
            )

    # -- rounds -----------------------------------------------------------------------------

    def resume(self) -> int:
        """Read where the federation stands on-chain; return how many rounds are finalised.

        The last finalised round's model becomes the parent of the next round
        (:attr:`last_model_cid`). A round that is open, unfinalised and still inside its commit
        window is taken over: the next :meth:`open_round` reuses it instead of opening another
        (nodes that already committed in it resend the update they committed). An open round
        whose commit window has closed cannot be completed by a new run: :class:`FederationError`
        says from which block a new round can be opened.
        """
        state = self.registry.federation(self.federation_id)
        self.finalized_before = state.last_finalized_round
        if state.last_finalized_round:
            events = self.registry.finalized_rounds(self.federation_id)
            last = next(e for e in reversed(events) if e.round == state.last_finalized_round)
            self.last_model_cid = last.global_manifest_cid
            self.record.resumed_from_round = state.last_finalized_round
            if self.dp is not None:
                previous = fetch_verified_manifest(self.ipfs, last.global_manifest_cid).manifest
                self.dp_epsilon = float(previous.metrics.get("dp_epsilon", 0.0))
            log.info(
                "federation %d: %d round(s) already finalised; continuing from model %s",
                self.federation_id,
                state.last_finalized_round,
                last.global_manifest_cid,
            )
        current = state.current_round
        if current > state.last_finalized_round:
            info = self.registry.round(self.federation_id, current)
            block = self.chain.w3.eth.block_number
            if block < info.commit_deadline:
                self.resumed_round = current
                log.warning(
                    "federation %d: round %d is open and unfinalised (a previous coordinator "
                    "stopped mid-round); resuming it",
                    self.federation_id,
                    current,
                )
            elif block <= info.finalize_deadline:
                raise FederationError(
                    f"round {current} of federation {self.federation_id} is open but its commit "
                    f"window closed at block {info.commit_deadline}; a new round can be opened "
                    f"after block {info.finalize_deadline} (now {block})"
                )
        return state.last_finalized_round

    def open_round(self, flower_round: int) -> int:
        """Open the next on-chain round (or take over the one :meth:`resume` found); return it."""
        if self.resumed_round is not None:
            chain_round, self.resumed_round = self.resumed_round, None
            resumed = True
        else:
            chain_round = self.registry.open_round(self.federation_id)
            resumed = False
        self.current = RoundRecord(
            round=chain_round,
            flower_round=flower_round,
            resumed=resumed,
            open_tx=None if resumed else self.registry.last_open_tx,
        )
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
        except IpfsUnavailableError:
            raise
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
            task.set_weights(task.build_model(self.dataset, model=self.model), weights)
        except IpfsUnavailableError:
            raise
        except FqaiError as exc:
            raise UpdateRejectedError("weights", str(exc)) from exc
        if self.round_start is not None and _same_weights(weights, self.round_start):
            raise UpdateRejectedError(
                "no-update", f"{node} sent the round's global model back unchanged"
            )
        samples = manifest.metrics.get("samples")
        if type(samples) is not int or samples <= 0:
            raise UpdateRejectedError("metrics", f"samples must be a positive int: {samples!r}")
        if any(a.node == node for a in self.current.accepted):
            raise UpdateRejectedError("duplicate", f"{node} already has an accepted update")
        dp_epsilon = None
        if self.dp is not None:
            dp_epsilon = check_update_privacy(manifest.metrics, self.dp).recomputed_epsilon()
        loss = manifest.metrics.get("loss")
        accepted = AcceptedUpdate(
            node=node,
            manifest_cid=manifest_cid,
            manifest_digest=verified.digest,
            samples=samples,
            train_loss=float(loss) if isinstance(loss, int | float) else None,
            flower_node_id=flower_node_id,
            dp_epsilon=dp_epsilon,
        )
        self.current.accepted.append(accepted)
        log.info(
            "round %d: accepted update %s from %s (%d samples)", round_, manifest_cid, node, samples
        )
        return accepted, weights

    def weighting_samples(self) -> dict[str, int]:
        """The accepted updates' sample counts as they weigh: each capped at ``samples_clip`` x
        the round's median claim (:func:`~fqai.federation.aggregation.capped_samples`)."""
        assert self.current is not None
        claimed = {a.node: a.samples for a in self.current.accepted}
        counted = capped_samples(claimed, self.samples_clip)
        for node, count in counted.items():
            if count != claimed[node]:
                log.warning(
                    "round %d: %s claimed %d samples, weighted as %d (%g x the median claim)",
                    self.current.round,
                    node,
                    claimed[node],
                    count,
                    self.samples_clip,
                )
        return counted

    def finalize(self, weights: dict[str, NDArray[Any]]) -> RoundRecord:
        """Evaluate, publish the round model (parents = accepted updates) and finalise on-chain."""
        current = self.current
        assert current is not None
        if len(current.accepted) < self.quorum:
            raise QuorumError(
                f"round {current.round}: {len(current.accepted)} update(s) accepted, quorum is "
                f"{self.quorum}; the round is not finalised"
            )
        self._account_for_silent_commitments(current)
        model = task.build_model(self.dataset, model=self.model)
        task.set_weights(model, weights)
        result = task.evaluate(model, self._test.x_test, self._test.y_test)
        privacy: dict[str, float] = {}
        if self.dp is not None:
            # A record's guarantee is its node's total spend; the model's is the largest of them,
            # over every round that went into it.
            spent = [a.dp_epsilon for a in current.accepted if a.dp_epsilon is not None]
            self.dp_epsilon = max([self.dp_epsilon, *spent])
            privacy = {
                "dp_epsilon": self.dp_epsilon,
                "dp_delta": self.dp.delta,
                "dp_max_grad_norm": self.dp.max_grad_norm,
                "dp_target_epsilon": self.dp.target_epsilon,
            }
            current.dp_epsilon = self.dp_epsilon
        path = self.work_dir / f"round-model-f{self.federation_id}-r{current.round}.safetensors"
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.last_weights = task.get_weights(model)  # in the model's dtypes, as published
        save_weights(self.last_weights, path)
        contributors, weights_ppm = contribution_weights(self.weighting_samples())
        root = accepted_root([a.manifest_digest for a in current.accepted])
        current.contributors = contributors
        current.weights = weights_ppm
        current.accepted_root = root
        current.model_weights_sha256 = describe_file(path).sha256
        current.accuracy = result.accuracy
        current.loss = result.loss
        # The report is pinned first, and the round model links it: from the chain's round
        # event anyone reaches the model, then the report that recomputes it.
        current.report_cid = publish_round_report(
            self.ipfs, self.identity, self.record, current, test_samples=result.samples
        )
        published = publish_artifact(
            self.ipfs,
            self.identity,
            path,
            kind="round-model",
            federation_id=self.federation_id,
            round=current.round,
            model=model_spec(self.dataset, self.model, self.data_seed),
            parents=sorted(a.manifest_cid for a in current.accepted),
            metrics={
                "accuracy": result.accuracy,
                "loss": result.loss,
                "test_samples": result.samples,
                "contributors": len(current.accepted),
                **privacy,
            },
            round_report=current.report_cid,
        )
        current.model_cid = published.manifest_cid
        current.model_digest = published.manifest_digest
        tx = self.registry.finalize_round(
            self.federation_id,
            current.round,
            published.manifest_cid,
            published.manifest_digest,
            root,
            contributors,
            weights_ppm,
        )
        current.finalize_tx = tx.tx_hash
        current.finalized = True
        self.last_model = published
        self.last_model_cid = published.manifest_cid
        self.record.final_model_cid = published.manifest_cid
        if self.record_path is not None:
            self.record.write(self.record_path)
        log.info(
            "finalised round %d of federation %d: %d contributors, accuracy %.3f, model %s",
            current.round,
            self.federation_id,
            len(contributors),
            result.accuracy,
            published.manifest_cid,
        )
        return current

    def _account_for_silent_commitments(self, current: RoundRecord) -> None:
        """Record as ``no-reply`` every on-chain commitment of the round whose update never
        reached the coordinator, so the report accounts for every commitment."""
        heard = {a.node for a in current.accepted} | {r.node for r in current.rejected if r.node}
        for node, digest in self.registry.round_commitments(
            self.federation_id, current.round
        ).items():
            if node not in heard:
                self.reject(
                    Rejection(
                        current.round,
                        "no-reply",
                        f"committed {digest} on-chain but no update reached the coordinator",
                        node=node,
                    )
                )

    def adopt_last_model(self) -> None:
        """Take the last round model finalised by an earlier run as the one to mint."""
        if self.last_model_cid is None:
            raise FederationError("no finalised round to adopt")
        verified = fetch_verified_manifest(self.ipfs, self.last_model_cid)
        self.last_model = PublishedArtifact(
            manifest_cid=self.last_model_cid,
            manifest_digest=verified.digest,
            weights_cid=verified.manifest.weights.cid,
            signed=verified.signed,
        )
        self.record.final_model_cid = self.last_model_cid

    def mint(self, to: str | None = None, royalty_bps: int = 0) -> int:
        """Mint the model NFT of the last finalised round to ``to`` (default: the coordinator).

        If a token was already minted for that round (a coordinator stopped after minting and
        started again), that token's id is returned and nothing is sent.
        """
        if self.last_model is None:
            raise FederationError("no round was finalised in this run; nothing to mint")
        last_round = self.registry.federation(self.federation_id).last_finalized_round
        existing = self.registry.minted_models(self.federation_id).get(last_round)
        if existing is not None:
            log.warning("round %d's model was already minted as token %d", last_round, existing)
            self.record.token_id = existing
            return existing
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
        self.record.mint_tx = self.registry.last_mint_tx
        return token_id


def coordinator_chain(
    rpc_url: str, identity: NodeIdentity, deployments_dir: Path | None
) -> ChainClient:
    """A chain client sending as the keystore's Ethereum account."""
    return ChainClient.from_rpc(
        rpc_url, KeySender(identity.eth_private_key), deployments_dir=deployments_dir
    )


def _same_weights(a: dict[str, NDArray[Any]], b: dict[str, NDArray[Any]]) -> bool:
    """Same tensor names and values (dtype aside)."""
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
