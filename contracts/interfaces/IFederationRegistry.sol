// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IFederationRegistry
/// @notice Federations of staked training nodes: rounds with on-chain update commitments, rewards by
/// contribution weight, slashing by rules the chain checks itself, and model minting.
interface IFederationRegistry {
    /// @notice Parameters fixed when a federation is created.
    /// @param modelSpecCID IPFS CID of the model specification every node trains.
    /// @param minStake Stake (wei) a node must lock to join.
    /// @param rewardPerRound Wei paid from the reward pool to a finalised round's contributors.
    /// @param commitWindow Blocks after a round opens during which nodes may commit updates.
    /// @param finalizeWindow Blocks after the commit window during which the coordinator may finalise.
    /// @param contestWindow Blocks after finalisation during which an excluded node may contest.
    /// @param unbondingBlocks Blocks between a leave request and the stake becoming withdrawable.
    /// @param maxParticipants Most members at once (and most contributors per round).
    /// @param slashBps Share of stake (basis points) taken by one slash.
    /// @param revenueShareBps Share of licence revenue (basis points) paid to the final round's contributors.
    struct FederationConfig {
        string modelSpecCID;
        uint128 minStake;
        uint96 rewardPerRound;
        uint32 commitWindow;
        uint32 finalizeWindow;
        uint32 contestWindow;
        uint32 unbondingBlocks;
        uint16 maxParticipants;
        uint16 slashBps;
        uint16 revenueShareBps;
    }

    /// @notice Live state of a federation.
    struct Federation {
        address coordinator;
        uint16 memberCount;
        uint32 currentRound;
        uint32 lastFinalizedRound;
        uint128 rewardPool;
    }

    enum MemberStatus {
        None,
        Active,
        Leaving
    }

    /// @notice A node's membership.
    struct Member {
        uint128 stake;
        uint32 joinedRound;
        uint32 leaveRound;
        uint64 unbondAt;
        MemberStatus status;
        bytes32 keyDigest;
    }

    /// @notice One training round. The global manifest CID and the contributor list are in the
    /// {RoundFinalized} event; storage keeps their digests (one slot each) so finalising costs
    /// little per contributor.
    /// @param contributionsHash keccak256(abi.encode(contributors, weights)) of the finalised round.
    struct Round {
        uint40 commitDeadline;
        uint40 finalizeDeadline;
        uint40 finalizedAt;
        uint16 contributorCount;
        bool finalized;
        uint96 reward;
        bytes32 globalDigest;
        bytes32 acceptedRoot;
        bytes32 contributionsHash;
    }

    /// @notice A node's standing in one round.
    struct Participation {
        bool rewardClaimed;
        bool contested;
        bool slashed;
    }

    /// @notice The federation does not exist.
    error FederationUnknown(uint256 federationId);
    /// @notice A configuration value is out of range; `field` names it.
    error FederationInvalidConfig(string field);
    /// @notice Only the federation's coordinator may do this.
    error FederationNotCoordinator(uint256 federationId, address account);
    /// @notice The stake sent is below the federation's minimum.
    error FederationStakeTooLow(address node, uint256 sent, uint256 required);
    /// @notice The node is already a member (or still unbonding).
    error FederationAlreadyMember(uint256 federationId, address node);
    /// @notice The node is not an active member.
    error FederationNotActiveMember(uint256 federationId, address node);
    /// @notice The federation has `maxParticipants` members.
    error FederationFull(uint256 federationId, uint16 maxParticipants);
    /// @notice A zero ML-DSA key digest or update digest.
    error FederationZeroDigest();
    /// @notice Another member of the federation already registered this SuperNode key digest.
    error FederationSuperNodeKeyTaken(uint256 federationId, bytes32 superNodeKeyDigest, address holder);
    /// @notice The previous round is still open.
    error FederationRoundStillOpen(uint256 federationId, uint32 round);
    /// @notice `round` is not the federation's open round.
    error FederationRoundNotOpen(uint256 federationId, uint32 round);
    /// @notice The commit window of `round` closed at block `deadline`.
    error FederationCommitWindowClosed(uint256 federationId, uint32 round, uint64 deadline);
    /// @notice The node already committed an update for `round`.
    error FederationAlreadyCommitted(uint256 federationId, uint32 round, address node);
    /// @notice The finalisation window of `round` closed at block `deadline`.
    error FederationFinalizeWindowClosed(uint256 federationId, uint32 round, uint64 deadline);
    /// @notice `contributors` and `weights` differ in length.
    error FederationLengthMismatch(uint256 contributors, uint256 weights);
    /// @notice More contributors than the federation allows, or none.
    error FederationContributorCount(uint256 count, uint16 maxParticipants);
    /// @notice Contributors must be in strictly increasing address order (no duplicates).
    error FederationContributorsNotSorted(uint256 index);
    /// @notice A contributor did not commit an update in the round.
    error FederationContributorDidNotCommit(address node);
    /// @notice A contributor was given weight zero.
    error FederationZeroWeight(address node);
    /// @notice Weights must add up to `WEIGHT_TOTAL`.
    error FederationWeightsSum(uint256 sum, uint256 required);
    /// @notice The round has not been finalised.
    error FederationRoundNotFinalized(uint256 federationId, uint32 round);
    /// @notice The contributor list given does not hash to the one recorded when the round was finalised.
    error FederationContributionsMismatch(uint256 federationId, uint32 round);
    /// @notice The node was not a contributor of the round.
    error FederationNotContributor(uint256 federationId, uint32 round, address node);
    /// @notice The reward of the round was already claimed by the node.
    error FederationRewardAlreadyClaimed(uint256 federationId, uint32 round, address node);
    /// @notice The node's exclusion cannot be contested (it was included, did not commit, or already contested).
    error FederationNotContestable(uint256 federationId, uint32 round, address node);
    /// @notice The contest window is still open (slash) or has closed (contest); it ends at block `deadline`.
    error FederationContestWindow(uint256 federationId, uint32 round, uint64 deadline);
    /// @notice The node cannot be slashed for this round; `reason` says why.
    error FederationNotSlashable(uint256 federationId, uint32 round, address node, string reason);
    /// @notice The node is not leaving, or its unbonding period ends at block `unbondAt`.
    error FederationNotUnbonded(uint256 federationId, address node, uint64 unbondAt);
    /// @notice Nothing to withdraw, or more than credited was asked for.
    error FederationInsufficientCredit(address account, uint256 requested, uint256 available);
    /// @notice The federation has no finalised round to mint a model from.
    error FederationNoFinalizedRound(uint256 federationId);
    /// @notice Sending ETH failed.
    error FederationTransferFailed(address to, uint256 amount);
    /// @notice No ETH was sent.
    error FederationZeroValue();

    event FederationCreated(
        uint256 indexed federationId, address indexed coordinator, string modelSpecCID, uint256 initialPool
    );
    event RewardPoolFunded(uint256 indexed federationId, address indexed funder, uint256 amount, uint256 pool);
    event NodeJoined(uint256 indexed federationId, address indexed node, uint256 stake, bytes32 keyDigest);
    /// @notice A member registered (or rotated, or on release cleared: zero) the digest of the public key
    /// its Flower SuperNode authenticates with; coordinators admit exactly the keys of active members.
    event SuperNodeKeySet(
        uint256 indexed federationId, address indexed node, bytes32 superNodeKeyDigest, bytes32 previousDigest
    );
    event LeaveRequested(uint256 indexed federationId, address indexed node, uint64 unbondAt);
    event StakeReleased(uint256 indexed federationId, address indexed node, uint256 amount);
    event RoundOpened(uint256 indexed federationId, uint32 indexed round, uint64 commitDeadline, uint64 finalizeDeadline);
    event UpdateCommitted(uint256 indexed federationId, uint32 indexed round, address indexed node, bytes32 manifestDigest);
    event RoundFinalized(
        uint256 indexed federationId,
        uint32 indexed round,
        string globalManifestCID,
        bytes32 globalDigest,
        bytes32 acceptedRoot,
        address[] contributors,
        uint64[] weights,
        uint256 reward
    );
    event RewardClaimed(uint256 indexed federationId, uint32 indexed round, address indexed node, uint256 amount);
    event ExclusionContested(uint256 indexed federationId, uint32 indexed round, address indexed node, string evidenceCID);
    event NodeSlashed(
        uint256 indexed federationId, uint32 indexed round, address indexed node, uint256 amount, bool ejected
    );
    event ModelMintedFromFederation(uint256 indexed federationId, uint32 indexed round, uint256 indexed tokenId);
    event Withdrawal(address indexed account, uint256 amount);

    /// @notice Weight (of 1 000 000) of `node` in a finalised round, 0 if it was not a contributor.
    /// `contributors` and `weights` are the lists from the round's {RoundFinalized} event; they are
    /// checked against the recorded hash.
    function contributionWeight(
        uint256 federationId,
        uint32 round,
        address node,
        address[] calldata contributors,
        uint64[] calldata weights
    ) external view returns (uint64);

    /// @notice Share of licence revenue (basis points) owed to a federation's contributors.
    function revenueShareBps(uint256 federationId) external view returns (uint16);
}
