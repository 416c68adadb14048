// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IFederationRegistry} from "./interfaces/IFederationRegistry.sol";
import {IModelNFT} from "./interfaces/IModelNFT.sol";

/// @title FederationRegistry
/// @notice Federations of staked training nodes. Each round the coordinator opens a window, every
/// selected node commits the digest of its signed update manifest, and the coordinator finalises the
/// round with the global model and the contribution weights of the accepted updates. Rewards are paid
/// from the federation's pool by weight; everything owed is credited and withdrawn (pull payments).
///
/// Slashing follows one rule the chain checks by itself: a node that committed an update in a round,
/// was left out of the finalised contributors and did not contest within the contest window loses
/// `slashBps` of its stake to the reward pool. A contested exclusion is recorded for off-chain dispute
/// resolution and cannot be slashed.
///
/// @dev IMPORTANT: the coordinator is trusted to choose the accepted set and weights; the chain only
/// enforces that every contributor committed, weights sum to WEIGHT_TOTAL and windows are respected.
/// Anyone can re-check a round against the signed manifests on IPFS.
contract FederationRegistry is IFederationRegistry, Ownable2Step, Pausable, ReentrancyGuard {
    /// @notice Contribution weights of a round sum to this (parts per million).
    uint64 public constant WEIGHT_TOTAL = 1_000_000;
    /// @notice Hard cap on a federation's `maxParticipants`, which bounds every loop.
    uint16 public constant MAX_PARTICIPANTS_CAP = 64;
    /// @notice Basis-point denominator.
    uint16 public constant BPS = 10_000;

    IModelNFT public immutable modelNFT;

    uint256 private _federationCount;
    mapping(uint256 federationId => Federation) private _federations;
    mapping(uint256 federationId => FederationConfig) private _configs;
    mapping(uint256 federationId => mapping(address node => Member)) private _members;
    mapping(uint256 federationId => mapping(uint32 round => Round)) private _rounds;
    mapping(uint256 federationId => mapping(uint32 round => mapping(address node => bytes32 digest))) private
        _commitments;
    mapping(uint256 federationId => mapping(uint32 round => mapping(address node => Participation))) private
        _participation;
    mapping(address account => uint256 amount) private _credits;
    mapping(uint256 federationId => mapping(address node => bytes32 digest)) private _superNodeKeys;
    mapping(uint256 federationId => mapping(bytes32 digest => address node)) private _superNodeKeyHolders;

    uint256 private _totalStaked;
    uint256 private _totalPools;
    uint256 private _totalReserved;
    uint256 private _totalCredits;

    modifier onlyCoordinator(uint256 federationId) {
        address coordinator = _federations[federationId].coordinator;
        if (coordinator == address(0)) revert FederationUnknown(federationId);
        if (coordinator != msg.sender) revert FederationNotCoordinator(federationId, msg.sender);
        _;
    }

    modifier exists(uint256 federationId) {
        if (_federations[federationId].coordinator == address(0)) revert FederationUnknown(federationId);
        _;
    }

    /// @param initialOwner Account allowed to pause and unpause.
    /// @param nft Model NFT contract this registry mints into (it must make this registry its federation registry).
    constructor(address initialOwner, IModelNFT nft) Ownable(initialOwner) {
        modelNFT = nft;
    }

    // ------------------------------------------------------------------ owner

    /// @notice Stop new federations, joins, rounds, commits, finalisations and mints.
    /// @dev Requirements: caller is the owner. Withdrawals, leaving, claims and slashing stay open.
    /// Emits a {Paused} event.
    function pause() external onlyOwner {
        _pause();
    }

    /// @notice Undo {pause}. Emits an {Unpaused} event.
    function unpause() external onlyOwner {
        _unpause();
    }

    // ------------------------------------------------------------ federations

    /// @notice Create a federation coordinated by the caller; ETH sent seeds its reward pool.
    /// @dev Requirements: not paused; `maxParticipants` in 1..MAX_PARTICIPANTS_CAP; windows non-zero;
    /// `unbondingBlocks` exceeds commit + finalise + contest windows so a node cannot leave before it can
    /// be slashed; `slashBps` and `revenueShareBps` at most 10 000; `minStake` non-zero.
    /// Emits a {FederationCreated} event.
    /// @return federationId The new federation's id (ids start at 1).
    function createFederation(FederationConfig calldata config)
        external
        payable
        whenNotPaused
        returns (uint256 federationId)
    {
        _validateConfig(config);
        federationId = ++_federationCount;
        _federations[federationId] = Federation({
            coordinator: msg.sender,
            memberCount: 0,
            currentRound: 0,
            lastFinalizedRound: 0,
            rewardPool: uint128(msg.value)
        });
        _configs[federationId] = config;
        _totalPools += msg.value;
        emit FederationCreated(federationId, msg.sender, config.modelSpecCID, msg.value);
    }

    /// @notice Add ETH to a federation's reward pool.
    /// @dev Requirements: the federation exists; some ETH is sent. Emits a {RewardPoolFunded} event.
    function fundRewardPool(uint256 federationId) external payable exists(federationId) {
        if (msg.value == 0) revert FederationZeroValue();
        Federation storage fed = _federations[federationId];
        fed.rewardPool += uint128(msg.value);
        _totalPools += msg.value;
        emit RewardPoolFunded(federationId, msg.sender, msg.value, fed.rewardPool);
    }

    // ---------------------------------------------------------------- members

    /// @notice Join a federation with the ETH sent as stake, registering the digest of the node's
    /// ML-DSA-65 public key (the key that signs its update manifests).
    /// @dev Requirements: not paused; the federation exists; stake ≥ `minStake`; not already a member;
    /// fewer than `maxParticipants` members; non-zero key digest. Emits a {NodeJoined} event.
    function join(uint256 federationId, bytes32 keyDigest) external payable whenNotPaused exists(federationId) {
        _join(federationId, keyDigest);
    }

    /// @notice {join}, and register the digest of the public key the node's Flower SuperNode
    /// authenticates with, so the coordinator can admit the SuperNode (see {setSuperNodeKey}).
    /// @dev Requirements: those of {join} and {setSuperNodeKey}. Emits {NodeJoined} and {SuperNodeKeySet}.
    function joinWithSuperNodeKey(uint256 federationId, bytes32 keyDigest, bytes32 superNodeKeyDigest)
        external
        payable
        whenNotPaused
        exists(federationId)
    {
        _join(federationId, keyDigest);
        _setSuperNodeKey(federationId, msg.sender, superNodeKeyDigest);
    }

    /// @notice Register or rotate the digest (sha256 of the OpenSSH public key file) of the key the
    /// caller's Flower SuperNode authenticates with. Coordinators register exactly the SuperNode keys of
    /// active members with their SuperLink and unregister a key once its member leaves or is ejected.
    /// @dev Requirements: not paused; the caller is an active member; non-zero digest not held by another
    /// member of the federation. Emits a {SuperNodeKeySet} event.
    function setSuperNodeKey(uint256 federationId, bytes32 superNodeKeyDigest) external whenNotPaused {
        if (_members[federationId][msg.sender].status != MemberStatus.Active) {
            revert FederationNotActiveMember(federationId, msg.sender);
        }
        _setSuperNodeKey(federationId, msg.sender, superNodeKeyDigest);
    }

    function _join(uint256 federationId, bytes32 keyDigest) private {
        Federation storage fed = _federations[federationId];
        FederationConfig storage config = _configs[federationId];
        if (msg.value < config.minStake) revert FederationStakeTooLow(msg.sender, msg.value, config.minStake);
        if (keyDigest == bytes32(0)) revert FederationZeroDigest();
        Member storage member = _members[federationId][msg.sender];
        if (member.status != MemberStatus.None) revert FederationAlreadyMember(federationId, msg.sender);
        if (fed.memberCount >= config.maxParticipants) revert FederationFull(federationId, config.maxParticipants);

        fed.memberCount += 1;
        _members[federationId][msg.sender] = Member({
            stake: uint128(msg.value),
            joinedRound: fed.currentRound,
            leaveRound: 0,
            unbondAt: 0,
            status: MemberStatus.Active,
            keyDigest: keyDigest
        });
        _totalStaked += msg.value;
        emit NodeJoined(federationId, msg.sender, msg.value, keyDigest);
    }

    /// @notice Start leaving: the node stops being an active member now and its stake becomes
    /// releasable after `unbondingBlocks` (it can still be slashed until then).
    /// @dev Requirements: the caller is an active member. Emits a {LeaveRequested} event.
    function requestLeave(uint256 federationId) external {
        Member storage member = _members[federationId][msg.sender];
        if (member.status != MemberStatus.Active) revert FederationNotActiveMember(federationId, msg.sender);
        _startUnbonding(federationId, msg.sender, member);
    }

    /// @notice After unbonding, credit the remaining stake to the node (withdraw with {withdraw}).
    /// @dev Requirements: the caller is leaving and `unbondAt` has been reached. The member record is
    /// deleted, so the node may join again. Emits a {StakeReleased} event.
    function releaseStake(uint256 federationId) external {
        Member storage member = _members[federationId][msg.sender];
        if (member.status != MemberStatus.Leaving || block.number < member.unbondAt) {
            revert FederationNotUnbonded(federationId, msg.sender, member.unbondAt);
        }
        uint256 amount = member.stake;
        delete _members[federationId][msg.sender];
        bytes32 superNodeKey = _superNodeKeys[federationId][msg.sender];
        if (superNodeKey != bytes32(0)) {
            delete _superNodeKeys[federationId][msg.sender];
            delete _superNodeKeyHolders[federationId][superNodeKey];
            emit SuperNodeKeySet(federationId, msg.sender, bytes32(0), superNodeKey);
        }
        _totalStaked -= amount;
        _credit(msg.sender, amount);
        emit StakeReleased(federationId, msg.sender, amount);
    }

    // ----------------------------------------------------------------- rounds

    /// @notice Open the next round: nodes may commit for `commitWindow` blocks, then the coordinator
    /// has `finalizeWindow` more blocks to finalise.
    /// @dev Requirements: not paused; caller is the coordinator; the previous round is finalised or its
    /// finalisation window has passed. Emits a {RoundOpened} event.
    function openRound(uint256 federationId) external whenNotPaused onlyCoordinator(federationId) returns (uint32 round) {
        Federation storage fed = _federations[federationId];
        uint32 previous = fed.currentRound;
        if (previous != 0) {
            Round storage prev = _rounds[federationId][previous];
            if (!prev.finalized && block.number <= prev.finalizeDeadline) {
                revert FederationRoundStillOpen(federationId, previous);
            }
        }
        FederationConfig storage config = _configs[federationId];
        round = previous + 1;
        fed.currentRound = round;
        uint40 commitDeadline = uint40(block.number) + config.commitWindow;
        uint40 finalizeDeadline = commitDeadline + config.finalizeWindow;
        Round storage r = _rounds[federationId][round];
        r.commitDeadline = commitDeadline;
        r.finalizeDeadline = finalizeDeadline;
        emit RoundOpened(federationId, round, commitDeadline, finalizeDeadline);
    }

    /// @notice Commit the digest of the node's signed update manifest for the open round.
    /// @dev Requirements: not paused; caller is an active member; `round` is the open, unfinalised round
    /// and its commit window has not closed; one commitment per node per round; non-zero digest.
    /// Emits an {UpdateCommitted} event.
    function commitUpdate(uint256 federationId, uint32 round, bytes32 manifestDigest) external whenNotPaused {
        if (manifestDigest == bytes32(0)) revert FederationZeroDigest();
        if (_members[federationId][msg.sender].status != MemberStatus.Active) {
            revert FederationNotActiveMember(federationId, msg.sender);
        }
        Round storage r = _rounds[federationId][round];
        if (round == 0 || round != _federations[federationId].currentRound || r.finalized) {
            revert FederationRoundNotOpen(federationId, round);
        }
        if (block.number > r.commitDeadline) revert FederationCommitWindowClosed(federationId, round, r.commitDeadline);
        mapping(address => bytes32) storage commitments = _commitments[federationId][round];
        if (commitments[msg.sender] != bytes32(0)) revert FederationAlreadyCommitted(federationId, round, msg.sender);
        commitments[msg.sender] = manifestDigest;
        emit UpdateCommitted(federationId, round, msg.sender, manifestDigest);
    }

    /// @notice Finalise the open round with the global model and the accepted contributors' weights,
    /// reserving up to `rewardPerRound` from the pool for them.
    /// @param globalManifestCID IPFS CID of the signed round-model manifest.
    /// @param globalDigest Digest of that manifest.
    /// @param acceptedRoot Merkle root over the accepted update manifest digests (see docs).
    /// @param contributors Accepted nodes in strictly increasing address order; each committed this round.
    /// @param weights Contribution weights, in the same order, summing to WEIGHT_TOTAL.
    /// The lists are emitted, and their hash stored; later calls that need a node's weight take the
    /// lists again and check them against the hash.
    /// @dev Requirements: not paused; caller is the coordinator; the round is open and within its
    /// finalisation window; 1..maxParticipants contributors. Emits a {RoundFinalized} event.
    function finalizeRound(
        uint256 federationId,
        uint32 round,
        string calldata globalManifestCID,
        bytes32 globalDigest,
        bytes32 acceptedRoot,
        address[] calldata contributors,
        uint64[] calldata weights
    ) external whenNotPaused onlyCoordinator(federationId) {
        if (globalDigest == bytes32(0)) revert FederationZeroDigest();
        Round storage r = _finalizableRound(federationId, round);
        r.contributorCount = uint16(_checkContributions(federationId, round, contributors, weights));
        r.reward = _reserveReward(federationId, round);
        r.finalized = true;
        r.finalizedAt = uint40(block.number);
        r.globalDigest = globalDigest;
        r.acceptedRoot = acceptedRoot;
        r.contributionsHash = keccak256(abi.encode(contributors, weights));
        emit RoundFinalized(
            federationId, round, globalManifestCID, globalDigest, acceptedRoot, contributors, weights, r.reward
        );
    }

    // ---------------------------------------------------- rewards and slashing

    /// @notice Credit the caller's share of a finalised round's reward: `reward * weight / WEIGHT_TOTAL`.
    /// @param contributors The round's contributor list, as emitted in {RoundFinalized}.
    /// @param weights The round's weights, as emitted in {RoundFinalized}.
    /// @dev Requirements: the round is finalised; the lists match the recorded hash; the caller was a
    /// contributor; not yet claimed. Emits a {RewardClaimed} event.
    function claimReward(
        uint256 federationId,
        uint32 round,
        address[] calldata contributors,
        uint64[] calldata weights
    ) external returns (uint256 amount) {
        uint64 weight = _weightOf(federationId, round, msg.sender, contributors, weights);
        if (weight == 0) revert FederationNotContributor(federationId, round, msg.sender);
        Participation storage p = _participation[federationId][round][msg.sender];
        if (p.rewardClaimed) revert FederationRewardAlreadyClaimed(federationId, round, msg.sender);
        p.rewardClaimed = true;
        amount = (uint256(_rounds[federationId][round].reward) * weight) / WEIGHT_TOTAL;
        _totalReserved -= amount;
        _credit(msg.sender, amount);
        emit RewardClaimed(federationId, round, msg.sender, amount);
    }

    /// @notice Contest being left out of a finalised round after committing an update; this protects
    /// the node from the exclusion slash and records evidence for dispute resolution.
    /// @dev Requirements: the round is finalised; the lists match the recorded hash; the caller
    /// committed but is not among the contributors; not contested yet; within `contestWindow` blocks
    /// of finalisation. Emits an {ExclusionContested} event.
    function contestExclusion(
        uint256 federationId,
        uint32 round,
        string calldata evidenceCID,
        address[] calldata contributors,
        uint64[] calldata weights
    ) external {
        uint64 weight = _weightOf(federationId, round, msg.sender, contributors, weights);
        Participation storage p = _participation[federationId][round][msg.sender];
        if (_commitments[federationId][round][msg.sender] == bytes32(0) || weight != 0 || p.contested) {
            revert FederationNotContestable(federationId, round, msg.sender);
        }
        uint64 deadline = _rounds[federationId][round].finalizedAt + _configs[federationId].contestWindow;
        if (block.number > deadline) revert FederationContestWindow(federationId, round, deadline);
        p.contested = true;
        emit ExclusionContested(federationId, round, msg.sender, evidenceCID);
    }

    /// @notice Slash a node whose committed update was excluded from a finalised round and who did not
    /// contest in time. `slashBps` of its stake moves to the reward pool; a node left below `minStake`
    /// is ejected and starts unbonding. Anyone may call.
    /// @dev Requirements: the round is finalised and its contest window has passed; the lists match
    /// the recorded hash; the node committed, is not among the contributors, did not contest, still
    /// has stake, and was not slashed for this round.
    /// Emits a {NodeSlashed} event (and {LeaveRequested} when ejected).
    function slashExcluded(
        uint256 federationId,
        uint32 round,
        address node,
        address[] calldata contributors,
        uint64[] calldata weights
    ) external returns (uint256 amount) {
        uint64 weight = _weightOf(federationId, round, node, contributors, weights);
        uint64 deadline = _rounds[federationId][round].finalizedAt + _configs[federationId].contestWindow;
        if (block.number <= deadline) revert FederationContestWindow(federationId, round, deadline);
        if (_commitments[federationId][round][node] == bytes32(0)) {
            revert FederationNotSlashable(federationId, round, node, "no commitment");
        }
        if (weight != 0) revert FederationNotSlashable(federationId, round, node, "included");
        Participation storage p = _participation[federationId][round][node];
        if (p.contested) revert FederationNotSlashable(federationId, round, node, "contested");
        if (p.slashed) revert FederationNotSlashable(federationId, round, node, "already slashed");
        Member storage member = _members[federationId][node];
        if (member.stake == 0) revert FederationNotSlashable(federationId, round, node, "no stake");

        p.slashed = true;
        FederationConfig storage config = _configs[federationId];
        amount = (uint256(member.stake) * config.slashBps) / BPS;
        member.stake -= uint128(amount);
        _federations[federationId].rewardPool += uint128(amount);
        _totalStaked -= amount;
        _totalPools += amount;
        bool ejected = member.status == MemberStatus.Active && member.stake < config.minStake;
        emit NodeSlashed(federationId, round, node, amount, ejected);
        if (ejected) _startUnbonding(federationId, node, member);
    }

    // -------------------------------------------------------------- minting

    /// @notice Mint the model NFT of the federation's last finalised round to `to`, so the token links
    /// to the federation, its round and (through it) the contributors' weights.
    /// @dev Requirements: not paused; caller is the coordinator; at least one finalised round; this
    /// registry is the NFT's federation registry. `params.federationId` and `params.round` are ignored
    /// and set here. Emits a {ModelMintedFromFederation} event.
    function mintModel(uint256 federationId, address to, IModelNFT.MintParams calldata params)
        external
        whenNotPaused
        onlyCoordinator(federationId)
        returns (uint256 tokenId)
    {
        uint32 round = _federations[federationId].lastFinalizedRound;
        if (round == 0) revert FederationNoFinalizedRound(federationId);
        IModelNFT.MintParams memory p = params;
        p.federationId = uint64(federationId);
        p.round = round;
        tokenId = modelNFT.mint(to, p);
        emit ModelMintedFromFederation(federationId, round, tokenId);
    }

    // ------------------------------------------------------------ withdrawals

    /// @notice Send the caller `amount` of its credited ETH (rewards and released stake).
    /// @dev Requirements: `amount` ≤ credit and non-zero; the receiver accepts ETH.
    /// Emits a {Withdrawal} event.
    function withdraw(uint256 amount) external nonReentrant {
        uint256 available = _credits[msg.sender];
        if (amount == 0 || amount > available) revert FederationInsufficientCredit(msg.sender, amount, available);
        _credits[msg.sender] = available - amount;
        _totalCredits -= amount;
        emit Withdrawal(msg.sender, amount);
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert FederationTransferFailed(msg.sender, amount);
    }

    // ------------------------------------------------------------------ views

    function federationCount() external view returns (uint256) {
        return _federationCount;
    }

    function getFederation(uint256 federationId) external view exists(federationId) returns (Federation memory) {
        return _federations[federationId];
    }

    function getConfig(uint256 federationId) external view exists(federationId) returns (FederationConfig memory) {
        return _configs[federationId];
    }

    function getMember(uint256 federationId, address node) external view returns (Member memory) {
        return _members[federationId][node];
    }

    /// @notice Digest of the public key `node`'s Flower SuperNode authenticates with (zero: none).
    function superNodeKeyOf(uint256 federationId, address node) external view returns (bytes32) {
        return _superNodeKeys[federationId][node];
    }

    /// @notice The member holding SuperNode key `digest` in the federation (zero address: none).
    function superNodeKeyHolder(uint256 federationId, bytes32 digest) external view returns (address) {
        return _superNodeKeyHolders[federationId][digest];
    }

    function getRound(uint256 federationId, uint32 round) external view returns (Round memory) {
        return _rounds[federationId][round];
    }

    function commitmentOf(uint256 federationId, uint32 round, address node) external view returns (bytes32) {
        return _commitments[federationId][round][node];
    }

    function participationOf(uint256 federationId, uint32 round, address node)
        external
        view
        returns (Participation memory)
    {
        return _participation[federationId][round][node];
    }

    /// @inheritdoc IFederationRegistry
    function contributionWeight(
        uint256 federationId,
        uint32 round,
        address node,
        address[] calldata contributors,
        uint64[] calldata weights
    ) external view returns (uint64) {
        return _weightOf(federationId, round, node, contributors, weights);
    }

    /// @notice Share of licence revenue (basis points) owed to a federation's contributors.
    function revenueShareBps(uint256 federationId) external view returns (uint16) {
        return _configs[federationId].revenueShareBps;
    }

    function creditOf(address account) external view returns (uint256) {
        return _credits[account];
    }

    /// @notice Aggregates of everything the contract holds: ETH balance equals their sum.
    function totals()
        external
        view
        returns (uint256 staked, uint256 pools, uint256 reservedRewards, uint256 credits)
    {
        return (_totalStaked, _totalPools, _totalReserved, _totalCredits);
    }

    // --------------------------------------------------------------- internal

    /// @dev The open round `round`, if the coordinator may still finalise it.
    function _finalizableRound(uint256 federationId, uint32 round) private view returns (Round storage r) {
        r = _rounds[federationId][round];
        if (round == 0 || round != _federations[federationId].currentRound || r.finalized) {
            revert FederationRoundNotOpen(federationId, round);
        }
        if (block.number > r.finalizeDeadline) {
            revert FederationFinalizeWindowClosed(federationId, round, r.finalizeDeadline);
        }
    }

    /// @dev Moves up to `rewardPerRound` from the pool to the round's reserved rewards.
    function _reserveReward(uint256 federationId, uint32 round) private returns (uint96 reward) {
        Federation storage fed = _federations[federationId];
        reward = _configs[federationId].rewardPerRound;
        if (reward > fed.rewardPool) reward = uint96(fed.rewardPool);
        fed.rewardPool -= reward;
        fed.lastFinalizedRound = round;
        _totalPools -= reward;
        _totalReserved += reward;
    }

    /// @dev Checks the contributor list (bounded by maxParticipants): sorted, committed, non-zero
    /// weights summing to WEIGHT_TOTAL. Writes nothing.
    function _checkContributions(
        uint256 federationId,
        uint32 round,
        address[] calldata contributors,
        uint64[] calldata weights
    ) private view returns (uint256 count) {
        count = contributors.length;
        if (count != weights.length) revert FederationLengthMismatch(count, weights.length);
        uint16 maxParticipants = _configs[federationId].maxParticipants;
        if (count == 0 || count > maxParticipants) revert FederationContributorCount(count, maxParticipants);
        mapping(address => bytes32) storage commitments = _commitments[federationId][round];
        // slither-disable-next-line uninitialized-local (the sum starts at zero)
        uint256 sum;
        // slither-disable-next-line uninitialized-local (address(0) sorts below every contributor)
        address previous;
        for (uint256 i; i < count; ++i) {
            address node = contributors[i];
            if (node <= previous) revert FederationContributorsNotSorted(i);
            if (commitments[node] == bytes32(0)) revert FederationContributorDidNotCommit(node);
            if (weights[i] == 0) revert FederationZeroWeight(node);
            sum += weights[i];
            previous = node;
        }
        if (sum != WEIGHT_TOTAL) revert FederationWeightsSum(sum, WEIGHT_TOTAL);
    }

    /// @dev Weight of `node` in a finalised round, from the lists checked against the stored hash.
    /// Binary search: the lists are sorted by address.
    function _weightOf(
        uint256 federationId,
        uint32 round,
        address node,
        address[] calldata contributors,
        uint64[] calldata weights
    ) private view returns (uint64) {
        Round storage r = _rounds[federationId][round];
        if (!r.finalized) revert FederationRoundNotFinalized(federationId, round);
        if (keccak256(abi.encode(contributors, weights)) != r.contributionsHash) {
            revert FederationContributionsMismatch(federationId, round);
        }
        // slither-disable-next-line uninitialized-local (the search starts at index zero)
        uint256 low;
        uint256 high = contributors.length;
        while (low < high) {
            uint256 mid = (low + high) / 2;
            address candidate = contributors[mid];
            if (candidate == node) return weights[mid];
            if (candidate < node) low = mid + 1;
            else high = mid;
        }
        return 0;
    }

    function _credit(address account, uint256 amount) private {
        _credits[account] += amount;
        _totalCredits += amount;
    }

    function _setSuperNodeKey(uint256 federationId, address node, bytes32 digest) private {
        if (digest == bytes32(0)) revert FederationZeroDigest();
        address holder = _superNodeKeyHolders[federationId][digest];
        if (holder != address(0) && holder != node) revert FederationSuperNodeKeyTaken(federationId, digest, holder);
        bytes32 previous = _superNodeKeys[federationId][node];
        if (previous != bytes32(0)) delete _superNodeKeyHolders[federationId][previous];
        _superNodeKeys[federationId][node] = digest;
        _superNodeKeyHolders[federationId][digest] = node;
        emit SuperNodeKeySet(federationId, node, digest, previous);
    }

    function _startUnbonding(uint256 federationId, address node, Member storage member) private {
        Federation storage fed = _federations[federationId];
        uint64 unbondAt = uint64(block.number) + _configs[federationId].unbondingBlocks;
        member.status = MemberStatus.Leaving;
        member.leaveRound = fed.currentRound;
        member.unbondAt = unbondAt;
        fed.memberCount -= 1;
        emit LeaveRequested(federationId, node, unbondAt);
    }

    function _validateConfig(FederationConfig calldata c) private pure {
        if (bytes(c.modelSpecCID).length == 0) revert FederationInvalidConfig("modelSpecCID");
        if (c.minStake == 0) revert FederationInvalidConfig("minStake");
        if (c.commitWindow == 0) revert FederationInvalidConfig("commitWindow");
        if (c.finalizeWindow == 0) revert FederationInvalidConfig("finalizeWindow");
        if (c.contestWindow == 0) revert FederationInvalidConfig("contestWindow");
        if (c.maxParticipants == 0 || c.maxParticipants > MAX_PARTICIPANTS_CAP) {
            revert FederationInvalidConfig("maxParticipants");
        }
        if (c.slashBps > BPS) revert FederationInvalidConfig("slashBps");
        if (c.revenueShareBps > BPS) revert FederationInvalidConfig("revenueShareBps");
        if (uint256(c.unbondingBlocks) <= uint256(c.commitWindow) + c.finalizeWindow + c.contestWindow) {
            revert FederationInvalidConfig("unbondingBlocks");
        }
    }
}
