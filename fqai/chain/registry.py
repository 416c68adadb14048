"""Typed access to FederationRegistry and ModelNFT: records as dataclasses, one method per call."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_utils import to_checksum_address

from fqai.chain.client import ChainClient, TxResult
from fqai.chain.deployment import MODEL_NFT, REGISTRY
from fqai.chain.errors import ChainError
from fqai.encoding import is_bytes32

log = logging.getLogger(__name__)

WEIGHT_TOTAL = 1_000_000
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def to_bytes32(value: str | bytes) -> bytes:
    """A ``0x``-hex bytes32 (or 32 raw bytes) as 32 bytes."""
    if isinstance(value, bytes):
        if len(value) != 32:
            raise ChainError(f"expected 32 bytes, got {len(value)}")
        return value
    if not is_bytes32(value.lower()):
        raise ChainError(f"not a 0x-hex bytes32: {value!r}")
    return bytes.fromhex(value[2:])


def hex32(value: bytes) -> str:
    """32 bytes as ``0x`` + 64 lower-case hex."""
    return "0x" + bytes(value).hex()


@dataclass(frozen=True)
class FederationConfig:
    """Constructor parameters of a federation (``IFederationRegistry.FederationConfig``)."""

    model_spec_cid: str
    min_stake: int
    reward_per_round: int = 0
    commit_window: int = 1_000
    finalize_window: int = 1_000
    contest_window: int = 100
    unbonding_blocks: int = 5_000
    max_participants: int = 16
    slash_bps: int = 1_000
    revenue_share_bps: int = 2_000

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.model_spec_cid,
            self.min_stake,
            self.reward_per_round,
            self.commit_window,
            self.finalize_window,
            self.contest_window,
            self.unbonding_blocks,
            self.max_participants,
            self.slash_bps,
            self.revenue_share_bps,
        )

    @classmethod
    def from_tuple(cls, raw: Any) -> FederationConfig:
        return cls(*(raw[0], *(int(v) for v in raw[1:])))


@dataclass(frozen=True)
class FederationState:
    """Live state of a federation."""

    coordinator: str
    member_count: int
    current_round: int
    last_finalized_round: int
    reward_pool: int


class MemberStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    LEAVING = 2


@dataclass(frozen=True)
class Member:
    """A node's membership; ``key_digest`` is its registered ML-DSA-65 key digest."""

    stake: int
    joined_round: int
    leave_round: int
    unbond_at: int
    status: MemberStatus
    key_digest: str


@dataclass(frozen=True)
class RoundInfo:
    """One round's stored state."""

    commit_deadline: int
    finalize_deadline: int
    finalized_at: int
    contributor_count: int
    finalized: bool
    reward: int
    global_digest: str
    accepted_root: str
    contributions_hash: str


@dataclass(frozen=True)
class RoundFinalized:
    """A ``RoundFinalized`` event."""

    federation_id: int
    round: int
    global_manifest_cid: str
    global_digest: str
    accepted_root: str
    contributors: tuple[str, ...]
    weights: tuple[int, ...]
    reward: int
    block_number: int


@dataclass(frozen=True)
class Participation:
    """What a node did with a finalised round: claimed its reward, contested, was slashed."""

    reward_claimed: bool
    contested: bool
    slashed: bool


@dataclass(frozen=True)
class MintParams:
    """What the coordinator supplies to mint a federation's model NFT."""

    manifest_cid: str
    weights_digest: str
    signer_key_digest: str
    royalty_receiver: str
    royalty_bps: int = 0
    parent_token_id: int = 0

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.manifest_cid,
            to_bytes32(self.weights_digest),
            to_bytes32(self.signer_key_digest),
            0,
            0,
            self.parent_token_id,
            to_checksum_address(self.royalty_receiver),
            self.royalty_bps,
        )


@dataclass(frozen=True)
class Provenance:
    """A model token's provenance (``IModelNFT.Provenance``)."""

    manifest_cid: str
    weights_digest: str
    signer_key_digest: str
    federation_id: int
    round: int
    minted_at: int
    parent_token_id: int
    minter: str


class FederationRegistry:
    """FederationRegistry (and the ModelNFT it mints into) through a :class:`ChainClient`."""

    def __init__(self, chain: ChainClient) -> None:
        self.chain = chain
        self.last_mint_tx: str | None = None
        self.last_open_tx: str | None = None

    # -- transactions -----------------------------------------------------------------------

    def create_federation(self, config: FederationConfig, pool_wei: int = 0) -> int:
        """Create a federation coordinated by the sender; return its id."""
        result = self.chain.transact(
            REGISTRY, "createFederation", config.as_tuple(), value=pool_wei
        )
        (event,) = self.chain.receipt_events(result, REGISTRY, "FederationCreated")
        federation_id = int(event["federationId"])
        log.info("created federation %d (coordinator %s)", federation_id, self.chain.address)
        return federation_id

    def join(self, federation_id: int, key_digest: str, stake_wei: int) -> TxResult:
        """Join with ``stake_wei`` and the ML-DSA-65 key digest that will sign updates."""
        result = self.chain.transact(
            REGISTRY, "join", federation_id, to_bytes32(key_digest), value=stake_wei
        )
        log.info(
            "%s joined federation %d with stake %d wei, key %s",
            self.chain.address,
            federation_id,
            stake_wei,
            key_digest,
        )
        return result

    def join_with_supernode_key(
        self, federation_id: int, key_digest: str, supernode_key_digest: str, stake_wei: int
    ) -> TxResult:
        """Join, registering the ML-DSA-65 key digest and the SuperNode key digest at once."""
        result = self.chain.transact(
            REGISTRY,
            "joinWithSuperNodeKey",
            federation_id,
            to_bytes32(key_digest),
            to_bytes32(supernode_key_digest),
            value=stake_wei,
        )
        log.info(
            "%s joined federation %d with stake %d wei, key %s, SuperNode key %s",
            self.chain.address,
            federation_id,
            stake_wei,
            key_digest,
            supernode_key_digest,
        )
        return result

    def set_supernode_key(self, federation_id: int, supernode_key_digest: str) -> TxResult:
        """Register or rotate the sender's SuperNode key digest (sender must be active)."""
        result = self.chain.transact(
            REGISTRY, "setSuperNodeKey", federation_id, to_bytes32(supernode_key_digest)
        )
        log.info(
            "%s registered SuperNode key %s in federation %d",
            self.chain.address,
            supernode_key_digest,
            federation_id,
        )
        return result

    def request_leave(self, federation_id: int) -> int:
        """Stop being an active member; return the block from which the stake can be released."""
        result = self.chain.transact(REGISTRY, "requestLeave", federation_id)
        (event,) = self.chain.receipt_events(result, REGISTRY, "LeaveRequested")
        unbond_at = int(event["unbondAt"])
        log.info(
            "%s leaves federation %d; stake releasable from block %d",
            self.chain.address,
            federation_id,
            unbond_at,
        )
        return unbond_at

    def release_stake(self, federation_id: int) -> int:
        """After unbonding, credit the remaining stake to the sender; return the amount."""
        result = self.chain.transact(REGISTRY, "releaseStake", federation_id)
        (event,) = self.chain.receipt_events(result, REGISTRY, "StakeReleased")
        return int(event["amount"])

    def slash_excluded(self, federation_id: int, round_: int, node: str) -> tuple[int, bool]:
        """Slash ``node``, excluded from finalised round ``round_``; return (wei, ejected).

        The round's contributors and weights, which the contract checks against its record, are
        read from the ``RoundFinalized`` event.
        """
        finalized = [r for r in self.finalized_rounds(federation_id) if r.round == round_]
        if not finalized:
            raise ChainError(f"round {round_} of federation {federation_id} is not finalised")
        event = finalized[0]
        result = self.chain.transact(
            REGISTRY,
            "slashExcluded",
            federation_id,
            round_,
            to_checksum_address(node),
            list(event.contributors),
            list(event.weights),
        )
        (slashed,) = self.chain.receipt_events(result, REGISTRY, "NodeSlashed")
        amount, ejected = int(slashed["amount"]), bool(slashed["ejected"])
        log.info(
            "slashed %s by %d wei for round %d of federation %d%s",
            node,
            amount,
            round_,
            federation_id,
            " (ejected)" if ejected else "",
        )
        return amount, ejected

    def open_round(self, federation_id: int) -> int:
        """Open the next round; return its number."""
        result = self.chain.transact(REGISTRY, "openRound", federation_id)
        self.last_open_tx = result.tx_hash
        (event,) = self.chain.receipt_events(result, REGISTRY, "RoundOpened")
        round_ = int(event["round"])
        log.info("opened round %d of federation %d", round_, federation_id)
        return round_

    def commit_update(self, federation_id: int, round_: int, manifest_digest: str) -> TxResult:
        """Commit an update manifest digest for the open round."""
        return self.chain.transact(
            REGISTRY, "commitUpdate", federation_id, round_, to_bytes32(manifest_digest)
        )

    def finalize_round(
        self,
        federation_id: int,
        round_: int,
        global_manifest_cid: str,
        global_digest: str,
        accepted_root: str,
        contributors: list[str],
        weights: list[int],
    ) -> TxResult:
        """Finalise a round (contributors strictly ascending, weights summing to 1 000 000)."""
        return self.chain.transact(
            REGISTRY,
            "finalizeRound",
            federation_id,
            round_,
            global_manifest_cid,
            to_bytes32(global_digest),
            to_bytes32(accepted_root),
            [to_checksum_address(a) for a in contributors],
            list(weights),
        )

    def mint_model(self, federation_id: int, to: str, params: MintParams) -> int:
        """Mint the model NFT of the last finalised round; return the token id."""
        result = self.chain.transact(
            REGISTRY, "mintModel", federation_id, to_checksum_address(to), params.as_tuple()
        )
        (event,) = self.chain.receipt_events(result, REGISTRY, "ModelMintedFromFederation")
        token_id = int(event["tokenId"])
        self.last_mint_tx = result.tx_hash
        log.info("minted model token %d for federation %d", token_id, federation_id)
        return token_id

    def claim_reward(
        self,
        federation_id: int,
        round_: int,
        contributors: list[str] | tuple[str, ...],
        weights: list[int] | tuple[int, ...],
    ) -> TxResult:
        """Credit the sender's share of a finalised round's reward (lists from the event)."""
        return self.chain.transact(
            REGISTRY,
            "claimReward",
            federation_id,
            round_,
            [to_checksum_address(a) for a in contributors],
            list(weights),
        )

    def withdraw(self, amount_wei: int) -> TxResult:
        """Send ``amount_wei`` of the sender's registry credit to the sender."""
        return self.chain.transact(REGISTRY, "withdraw", amount_wei)

    # -- views ------------------------------------------------------------------------------

    def federation(self, federation_id: int) -> FederationState:
        raw = self.chain.call(REGISTRY, "getFederation", federation_id)
        return FederationState(
            coordinator=to_checksum_address(raw[0]),
            member_count=int(raw[1]),
            current_round=int(raw[2]),
            last_finalized_round=int(raw[3]),
            reward_pool=int(raw[4]),
        )

    def config(self, federation_id: int) -> FederationConfig:
        return FederationConfig.from_tuple(self.chain.call(REGISTRY, "getConfig", federation_id))

    def member(self, federation_id: int, node: str) -> Member:
        raw = self.chain.call(REGISTRY, "getMember", federation_id, to_checksum_address(node))
        return Member(
            stake=int(raw[0]),
            joined_round=int(raw[1]),
            leave_round=int(raw[2]),
            unbond_at=int(raw[3]),
            status=MemberStatus(int(raw[4])),
            key_digest=hex32(raw[5]),
        )

    def supernode_key_of(self, federation_id: int, node: str) -> str:
        """``node``'s registered SuperNode key digest (``0x00…`` when none)."""
        return hex32(
            self.chain.call(REGISTRY, "superNodeKeyOf", federation_id, to_checksum_address(node))
        )

    def member_addresses(self, federation_id: int) -> list[str]:
        """Every address that ever joined the federation (``NodeJoined`` events), oldest first."""
        seen: dict[str, None] = {}
        for entry in self.chain.events(
            REGISTRY, "NodeJoined", filters={"federationId": federation_id}
        ):
            seen[to_checksum_address(entry["args"]["node"])] = None
        return list(seen)

    def round(self, federation_id: int, round_: int) -> RoundInfo:
        raw = self.chain.call(REGISTRY, "getRound", federation_id, round_)
        return RoundInfo(
            commit_deadline=int(raw[0]),
            finalize_deadline=int(raw[1]),
            finalized_at=int(raw[2]),
            contributor_count=int(raw[3]),
            finalized=bool(raw[4]),
            reward=int(raw[5]),
            global_digest=hex32(raw[6]),
            accepted_root=hex32(raw[7]),
            contributions_hash=hex32(raw[8]),
        )

    def commitment(self, federation_id: int, round_: int, node: str) -> str:
        """The digest ``node`` committed in ``round_`` (all zeros if none)."""
        raw = self.chain.call(
            REGISTRY, "commitmentOf", federation_id, round_, to_checksum_address(node)
        )
        return hex32(raw)

    def participation(self, federation_id: int, round_: int, node: str) -> Participation:
        raw = self.chain.call(
            REGISTRY, "participationOf", federation_id, round_, to_checksum_address(node)
        )
        return Participation(bool(raw[0]), bool(raw[1]), bool(raw[2]))

    def credit_of(self, account: str) -> int:
        """ETH (wei) credited to ``account`` in the registry, withdrawable."""
        return int(self.chain.call(REGISTRY, "creditOf", to_checksum_address(account)))

    def federation_count(self) -> int:
        return int(self.chain.call(REGISTRY, "federationCount"))

    def finalized_rounds(self, federation_id: int, from_block: int = 0) -> list[RoundFinalized]:
        """``RoundFinalized`` events of a federation, oldest first."""
        out = []
        for entry in self.chain.events(
            REGISTRY,
            "RoundFinalized",
            from_block=from_block,
            filters={"federationId": federation_id},
        ):
            args = entry["args"]
            out.append(
                RoundFinalized(
                    federation_id=int(args["federationId"]),
                    round=int(args["round"]),
                    global_manifest_cid=str(args["globalManifestCID"]),
                    global_digest=hex32(args["globalDigest"]),
                    accepted_root=hex32(args["acceptedRoot"]),
                    contributors=tuple(to_checksum_address(a) for a in args["contributors"]),
                    weights=tuple(int(w) for w in args["weights"]),
                    reward=int(args["reward"]),
                    block_number=entry["blockNumber"],
                )
            )
        return out

    def round_commitments(self, federation_id: int, round_: int) -> dict[str, str]:
        """Every node's committed manifest digest in a round (``UpdateCommitted`` events)."""
        return {
            to_checksum_address(e["args"]["node"]): hex32(e["args"]["manifestDigest"])
            for e in self.chain.events(
                REGISTRY,
                "UpdateCommitted",
                filters={"federationId": federation_id, "round": round_},
            )
        }

    def minted_models(self, federation_id: int) -> dict[int, int]:
        """Tokens minted from the federation: round -> token id (``ModelMintedFromFederation``)."""
        return {
            int(e["args"]["round"]): int(e["args"]["tokenId"])
            for e in self.chain.events(
                REGISTRY, "ModelMintedFromFederation", filters={"federationId": federation_id}
            )
        }

    def provenance(self, token_id: int) -> Provenance:
        raw = self.chain.call(MODEL_NFT, "provenance", token_id)
        return Provenance(
            manifest_cid=str(raw[0]),
            weights_digest=hex32(raw[1]),
            signer_key_digest=hex32(raw[2]),
            federation_id=int(raw[3]),
            round=int(raw[4]),
            minted_at=int(raw[5]),
            parent_token_id=int(raw[6]),
            minter=to_checksum_address(raw[7]),
        )

    def owner_of(self, token_id: int) -> str:
        return to_checksum_address(self.chain.call(MODEL_NFT, "ownerOf", token_id))
