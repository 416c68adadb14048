// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {FederationRegistry} from "../../../contracts/FederationRegistry.sol";
import {IFederationRegistry} from "../../../contracts/interfaces/IFederationRegistry.sol";
import {IModelNFT} from "../../../contracts/interfaces/IModelNFT.sol";
import {Actors, Fmt} from "../utils/Cheats.sol";
import {HandlerBase, IPullPayments} from "./HandlerBase.sol";

/// @notice Drives FederationRegistry: join, leave, release, open / commit / finalise rounds, claim
/// rewards, contest, slash, fund the pool, mint the federation's model, withdraw, and let blocks and
/// time pass. One federation, coordinated by Actors.coordinator(), with six candidate nodes and room
/// for four, so joins also meet a full federation.
contract FederationHandler is HandlerBase {
    uint128 public constant MIN_STAKE = 1 ether;
    uint96 public constant REWARD_PER_ROUND = 1 ether;
    uint256 public constant INITIAL_POOL = 2.5 ether;
    uint32 public constant COMMIT_WINDOW = 4;
    uint32 public constant FINALIZE_WINDOW = 4;
    uint32 public constant CONTEST_WINDOW = 3;
    uint32 public constant UNBONDING_BLOCKS = 12;
    /// @dev Federation models minted per run at most (bounds the marketplace checks).
    uint256 public constant MAX_MODELS = 6;
    uint16 public constant MAX_PARTICIPANTS = 4;
    uint16 public constant SLASH_BPS = 2_500;
    uint16 public constant REVENUE_SHARE_BPS = 3_000;

    enum Status {
        None,
        Active,
        Leaving
    }

    struct MemberModel {
        Status status;
        uint128 stake;
        uint32 joinedRound;
        uint32 leaveRound;
        uint64 unbondAt;
    }

    struct RoundModel {
        uint64 commitDeadline;
        uint64 finalizeDeadline;
        bool finalized;
        uint64 finalizedAt;
        uint256 reward;
        uint256 claimed;
    }

    struct Part {
        bool committed;
        bool claimed;
        bool contested;
        bool slashed;
    }

    FederationRegistry public immutable registry;
    IModelNFT public immutable nft;
    uint256 public immutable fed;

    mapping(address node => MemberModel) internal _members;
    uint16 public memberCount;
    uint32 public currentRound;
    uint32 public lastFinalized;
    uint32[] public finalizedRounds;
    uint256 public pool;
    uint256 public staked;
    uint256 public reserved;
    mapping(uint32 round => RoundModel) internal _rounds;
    mapping(uint32 round => mapping(address node => Part)) internal _parts;

    /// @dev Observed, not predicted: successful finalizeRound calls per round and the lists of the
    /// last one (what later calls must present).
    mapping(uint32 round => uint256 count) public finalizations;
    mapping(uint32 round => address[]) internal _contributors;
    mapping(uint32 round => uint64[]) internal _weights;
    uint32 public highestRoundSeen;
    uint256 public mostFinalizations;
    /// @dev Sums of what the registry reported: rewards reserved by finalisations, rewards paid by claims.
    uint256 public rewardsReservedSeen;
    uint256 public rewardsClaimedSeen;
    uint256 public modelsMinted;

    /// @dev What the last action touched: compared with the model right after it (_afterAction).
    address public touchedNode;
    uint32 public touchedRound;

    /// @dev Federation models minted to: tokenId -> first owner / round / royalty.
    mapping(uint256 tokenId => address) public mintedTo;
    mapping(uint256 tokenId => uint32) public mintedRound;
    mapping(uint256 tokenId => uint96) public mintedRoyaltyBps;

    constructor(FederationRegistry registry_, IModelNFT nft_) {
        registry = registry_;
        nft = nft_;
        IFederationRegistry.FederationConfig memory config = IFederationRegistry.FederationConfig({
            modelSpecCID: "bafy-model-spec",
            minStake: MIN_STAKE,
            rewardPerRound: REWARD_PER_ROUND,
            commitWindow: COMMIT_WINDOW,
            finalizeWindow: FINALIZE_WINDOW,
            contestWindow: CONTEST_WINDOW,
            unbondingBlocks: UNBONDING_BLOCKS,
            maxParticipants: MAX_PARTICIPANTS,
            slashBps: SLASH_BPS,
            revenueShareBps: REVENUE_SHARE_BPS
        });
        vm.deal(Actors.coordinator(), INITIAL_POOL);
        vm.prank(Actors.coordinator());
        fed = registry_.createFederation{value: INITIAL_POOL}(config);
        pool = INITIAL_POOL;
    }

    /// @notice The actions the fuzzer calls. Forge picks uniformly from this list, so an action listed
    /// k times is called k times as often: the round life cycle (open, commit, finalise) and what follows
    /// it need more calls than the rest to be reached often in a run.
    function actions() external pure returns (bytes4[] memory) {
        return _weighted(
            [
                this.join.selector,
                this.requestLeave.selector,
                this.releaseStake.selector,
                this.openRound.selector,
                this.commit.selector,
                this.finalize.selector,
                this.claimReward.selector,
                this.contest.selector,
                this.slash.selector,
                this.fundPool.selector,
                this.mintModel.selector,
                this.withdraw.selector,
                this.advance.selector
            ],
            [uint256(2), 1, 2, 3, 6, 4, 3, 1, 3, 1, 1, 2, 4]
        );
    }

    function _weighted(bytes4[13] memory selectors, uint256[13] memory weights)
        internal
        pure
        returns (bytes4[] memory out)
    {
        uint256 total;
        for (uint256 i; i < 13; ++i) {
            total += weights[i];
        }
        out = new bytes4[](total);
        uint256 n;
        for (uint256 i; i < 13; ++i) {
            for (uint256 k; k < weights[i]; ++k) {
                out[n++] = selectors[i];
            }
        }
    }

    function _actionNames() internal pure override returns (string[] memory n) {
        n = new string[](12);
        (n[0], n[1], n[2], n[3]) = ("join", "requestLeave", "releaseStake", "openRound");
        (n[4], n[5], n[6], n[7]) = ("commitUpdate", "finalizeRound", "claimReward", "contestExclusion");
        (n[8], n[9], n[10], n[11]) = ("slashExcluded", "fundRewardPool", "mintModel", "registry.withdraw");
    }

    // ------------------------------------------------------------------ members

    function join(uint256 nodeSeed, uint256 stakeSeed) external act {
        address node = _pickNode(nodeSeed, NodeFilter.NotMember);
        uint256 stake = 0.8 ether + (stakeSeed % 2.2 ether);
        MemberModel storage m = _members[node];
        touchedNode = node;
        bool expected = m.status == Status.None && memberCount < MAX_PARTICIPANTS && stake >= MIN_STAKE;
        vm.deal(node, node.balance + stake);
        bool ok;
        bytes memory err;
        vm.prank(node);
        try registry.join{value: stake}(fed, keccak256(abi.encode("ml-dsa key", node))) {
            ok = true;
        } catch (bytes memory e) {
            err = e;
        }
        if (_expect("join", expected, ok, err)) {
            m.status = Status.Active;
            m.stake = uint128(stake);
            m.joinedRound = currentRound;
            m.leaveRound = 0;
            m.unbondAt = 0;
            memberCount += 1;
            staked += stake;
        }
    }

    function requestLeave(uint256 nodeSeed) external act {
        address node = _pickNode(nodeSeed, NodeFilter.Active);
        touchedNode = node;
        MemberModel storage m = _members[node];
        bool expected = m.status == Status.Active;
        bool ok;
        bytes memory err;
        vm.prank(node);
        try registry.requestLeave(fed) {
            ok = true;
        } catch (bytes memory e) {
            err = e;
        }
        if (_expect("requestLeave", expected, ok, err)) _startUnbonding(m);
    }

    function releaseStake(uint256 nodeSeed) external act {
        address node = _pickNode(nodeSeed, NodeFilter.Unbonded);
        touchedNode = node;
        MemberModel storage m = _members[node];
        bool expected = m.status == Status.Leaving && block.number >= m.unbondAt;
        bool ok;
        bytes memory err;
        vm.prank(node);
        try registry.releaseStake(fed) {
            ok = true;
        } catch (bytes memory e) {
            err = e;
        }
        if (_expect("releaseStake", expected, ok, err)) {
            uint256 amount = m.stake;
            delete _members[node];
            staked -= amount;
            _credit(node, amount);
        }
    }

    // ------------------------------------------------------------------- rounds

    /// @dev One call in ten comes from a node instead of the coordinator (must revert).
    function openRound(uint256 callerSeed) external act {
        uint32 previous = currentRound;
        bool byCoordinator = callerSeed % 10 != 0;
        bool expected = byCoordinator
            && (previous == 0 || _rounds[previous].finalized || block.number > _rounds[previous].finalizeDeadline);
        bool ok;
        bytes memory err;
        uint32 opened;
        vm.prank(byCoordinator ? Actors.coordinator() : Actors.node(callerSeed / 10));
        try registry.openRound(fed) returns (uint32 round) {
            ok = true;
            opened = round;
        } catch (bytes memory e) {
            err = e;
        }
        if (ok && opened > highestRoundSeen) highestRoundSeen = opened;
        touchedRound = opened;
        if (_expect("openRound", expected, ok, err)) {
            currentRound = previous + 1;
            if (opened != currentRound) _mismatch(string.concat("openRound returned round ", Fmt.u(opened)));
            RoundModel storage r = _rounds[currentRound];
            r.commitDeadline = uint64(block.number) + COMMIT_WINDOW;
            r.finalizeDeadline = r.commitDeadline + FINALIZE_WINDOW;
        }
    }

    /// @dev One commit in eight targets the previous round (must revert).
    function commit(uint256 nodeSeed, uint256 roundSeed) external act {
        address node = _pickNode(nodeSeed, NodeFilter.CanCommit);
        uint32 round = currentRound;
        if (roundSeed % 8 == 0 && round != 0) round -= 1;
        (touchedNode, touchedRound) = (node, round);
        RoundModel storage r = _rounds[round];
        bool expected = _members[node].status == Status.Active && round != 0 && round == currentRound && !r.finalized
            && block.number <= r.commitDeadline && !_parts[round][node].committed;
        bool ok;
        bytes memory err;
        vm.prank(node);
        try registry.commitUpdate(fed, round, keccak256(abi.encode("update", round, node))) {
            ok = true;
        } catch (bytes memory e) {
            err = e;
        }
        if (_expect("commitUpdate", expected, ok, err)) _parts[round][node].committed = true;
    }

    /// @dev Finalise with a subset (`maskSeed`) of the nodes that committed and random weights. `modeSeed`
    /// picks a well-formed call (10 in 16) or a malformed one the registry must refuse: weights summing to
    /// 1 000 001, a duplicate or unsorted contributor, a zero weight, a contributor that did not commit,
    /// or an earlier round. Finalising a round that is already final is also attempted, and must revert.
    function finalize(uint256 maskSeed, uint256 weightSeed, uint256 modeSeed) external act {
        uint256 mode = modeSeed % 16;
        uint32 round = currentRound;
        if (mode == 11 && round > 1) round = uint32(1 + (modeSeed / 16) % (round - 1));
        (address[] memory who, uint64[] memory w, bool wellFormed) = _lists(round, maskSeed, weightSeed, mode);
        RoundModel storage r = _rounds[round];
        bool expected = wellFormed && round != 0 && round == currentRound && !r.finalized
            && block.number <= r.finalizeDeadline && who.length != 0 && who.length <= MAX_PARTICIPANTS;
        bool ok;
        bytes memory err;
        vm.prank(Actors.coordinator());
        try registry.finalizeRound(
            fed,
            round,
            "bafy-round-model",
            keccak256(abi.encode("global", round)),
            keccak256(abi.encode("root", round)),
            who,
            w
        ) {
            ok = true;
        } catch (bytes memory e) {
            err = e;
        }
        touchedRound = round;
        if (ok) {
            finalizations[round] += 1;
            if (finalizations[round] > mostFinalizations) mostFinalizations = finalizations[round];
            _contributors[round] = who;
            _weights[round] = w;
            rewardsReservedSeen += registry.getRound(fed, round).reward;
        }
        if (_expect("finalizeRound", expected, ok, err)) {
            uint256 reward = pool < REWARD_PER_ROUND ? pool : REWARD_PER_ROUND;
            pool -= reward;
            reserved += reward;
            r.finalized = true;
            r.finalizedAt = uint64(block.number);
            r.reward = reward;
            lastFinalized = round;
            finalizedRounds.push(round);
        }
    }

    // --------------------------------------------------------- rewards, slashing

    /// @dev One claim in eight presents lists that do not match the round's record (must revert).
    function claimReward(uint256 nodeSeed, uint256 roundSeed, uint256 tamperSeed) external act {
        (uint32 round, address node) = _pickRoundNode(roundSeed, nodeSeed, RoundFilter.Claimable);
        (touchedNode, touchedRound) = (node, round);
        (address[] memory who, uint64[] memory w) = roundLists(round);
        uint64 weight = _weightIn(who, w, node);
        bool tampered = tamperSeed % 8 == 0 && w.length != 0;
        if (tampered) w[0] += 1;
        RoundModel storage r = _rounds[round];
        Part storage p = _parts[round][node];
        bool expected = r.finalized && !tampered && weight != 0 && !p.claimed;
        bool ok;
        bytes memory err;
        uint256 paid;
        vm.prank(node);
        try registry.claimReward(fed, round, who, w) returns (uint256 amount) {
            ok = true;
            paid = amount;
            rewardsClaimedSeen += amount;
        } catch (bytes memory e) {
            err = e;
        }
        if (_expect("claimReward", expected, ok, err)) {
            uint256 due = (r.reward * weight) / WEIGHT_TOTAL;
            if (paid != due) {
                _mismatch(string.concat("claimReward credited ", Fmt.u(paid), " where the spec says ", Fmt.u(due)));
            }
            p.claimed = true;
            r.claimed += due;
            reserved -= due;
            _credit(node, due);
        }
    }

    function contest(uint256 nodeSeed, uint256 roundSeed) external act {
        (uint32 round, address node) = _pickRoundNode(roundSeed, nodeSeed, RoundFilter.Contestable);
        (touchedNode, touchedRound) = (node, round);
        (address[] memory who, uint64[] memory w) = roundLists(round);
        RoundModel storage r = _rounds[round];
        Part storage p = _parts[round][node];
        bool expected = r.finalized && p.committed && _weightIn(who, w, node) == 0 && !p.contested
            && block.number <= r.finalizedAt + CONTEST_WINDOW;
        bool ok;
        bytes memory err;
        vm.prank(node);
        try registry.contestExclusion(fed, round, "bafy-evidence", who, w) {
            ok = true;
        } catch (bytes memory e) {
            err = e;
        }
        if (_expect("contestExclusion", expected, ok, err)) p.contested = true;
    }

    /// @dev Anyone may slash; the caller is a random actor.
    function slash(uint256 nodeSeed, uint256 roundSeed, uint256 callerSeed) external act {
        (uint32 round, address node) = _pickRoundNode(roundSeed, nodeSeed, RoundFilter.Slashable);
        (touchedNode, touchedRound) = (node, round);
        (address[] memory who, uint64[] memory w) = roundLists(round);
        RoundModel storage r = _rounds[round];
        Part storage p = _parts[round][node];
        MemberModel storage m = _members[node];
        bool expected = r.finalized && block.number > r.finalizedAt + CONTEST_WINDOW && p.committed
            && _weightIn(who, w, node) == 0 && !p.contested && !p.slashed && m.stake != 0;
        bool ok;
        bytes memory err;
        uint256 taken;
        vm.prank(Actors.at(callerSeed));
        try registry.slashExcluded(fed, round, node, who, w) returns (uint256 amount) {
            ok = true;
            taken = amount;
        } catch (bytes memory e) {
            err = e;
        }
        if (_expect("slashExcluded", expected, ok, err)) {
            uint256 due = (uint256(m.stake) * SLASH_BPS) / 10_000;
            if (taken != due) {
                _mismatch(string.concat("slashExcluded took ", Fmt.u(taken), " where the spec says ", Fmt.u(due)));
            }
            p.slashed = true;
            m.stake -= uint128(due);
            pool += due;
            staked -= due;
            if (m.status == Status.Active && m.stake < MIN_STAKE) _startUnbonding(m);
        }
    }

    function fundPool(uint256 funderSeed, uint256 amountSeed) external act {
        address funder = Actors.user(funderSeed);
        uint256 amount = 1 + (amountSeed % 1 ether);
        vm.deal(funder, funder.balance + amount);
        bool ok;
        bytes memory err;
        vm.prank(funder);
        try registry.fundRewardPool{value: amount}(fed) {
            ok = true;
        } catch (bytes memory e) {
            err = e;
        }
        if (_expect("fundRewardPool", true, ok, err)) pool += amount;
    }

    // ------------------------------------------------------------------ minting

    /// @dev Mint the model of the last finalised round to a node or user; half carry a 5 % royalty.
    function mintModel(uint256 toSeed, uint256 royaltySeed) external act {
        if (modelsMinted >= MAX_MODELS) return;
        address to = Actors.holder(toSeed);
        uint96 royaltyBps = royaltySeed % 2 == 0 ? 500 : 0;
        IModelNFT.MintParams memory params = IModelNFT.MintParams({
            manifestCID: "bafy-federated-model",
            weightsDigest: keccak256(abi.encode("weights", lastFinalized)),
            signerKeyDigest: keccak256("coordinator ml-dsa key"),
            federationId: 0,
            round: 0,
            parentTokenId: 0,
            royaltyReceiver: royaltyBps == 0 ? address(0) : Actors.coordinator(),
            royaltyBps: royaltyBps
        });
        bool expected = lastFinalized != 0;
        bool ok;
        bytes memory err;
        uint256 tokenId;
        vm.prank(Actors.coordinator());
        try registry.mintModel(fed, to, params) returns (uint256 id) {
            ok = true;
            tokenId = id;
        } catch (bytes memory e) {
            err = e;
        }
        if (_expect("mintModel", expected, ok, err)) {
            modelsMinted += 1;
            mintedTo[tokenId] = to;
            mintedRound[tokenId] = lastFinalized;
            mintedRoyaltyBps[tokenId] = royaltyBps;
        }
    }

    // ------------------------------------------------------------- withdrawals

    function withdraw(uint256 actorSeed, uint256 amountSeed) external act {
        _withdraw("registry.withdraw", IPullPayments(address(registry)), actorSeed, amountSeed);
    }

    /// @dev Let one or two blocks (12 s each) pass.
    function advance(uint256 blocksSeed) external act {
        uint256 blocks = 1 + (blocksSeed % 2);
        vm.roll(block.number + blocks);
        vm.warp(block.timestamp + 12 * blocks);
    }

    // ---------------------------------------------------------------- helpers

    /// @notice The contributor lists of the round's successful finalisation (empty if none).
    function roundLists(uint32 round) public view returns (address[] memory who, uint64[] memory w) {
        return (_contributors[round], _weights[round]);
    }

    function finalizedRoundCount() external view returns (uint256) {
        return finalizedRounds.length;
    }

    enum NodeFilter {
        NotMember,
        Active,
        Unbonded,
        CanCommit
    }

    enum RoundFilter {
        Claimable,
        Contestable,
        Slashable
    }

    /// @dev Seven picks in eight are a node the action can apply to (by the model), when there is one;
    /// the eighth is any node, so the action is also tried where it must revert.
    function _pickNode(uint256 seed, NodeFilter filter) internal view returns (address) {
        uint256 start = seed >> 3;
        if (seed % 8 != 0) {
            for (uint256 k; k < Actors.NODES; ++k) {
                address node = Actors.node(start + k);
                if (_nodeFits(node, filter)) return node;
            }
        }
        return Actors.node(start);
    }

    function _nodeFits(address node, NodeFilter filter) internal view returns (bool) {
        MemberModel storage m = _members[node];
        if (filter == NodeFilter.NotMember) return m.status == Status.None;
        if (filter == NodeFilter.Active) return m.status == Status.Active;
        if (filter == NodeFilter.Unbonded) return m.status == Status.Leaving && block.number >= m.unbondAt;
        return m.status == Status.Active && currentRound != 0 && !_parts[currentRound][node].committed;
    }

    /// @dev As {_pickNode}, for a (finalised round, node) pair; the eighth pick is any round from 0 to
    /// the current one and any node.
    function _pickRoundNode(uint256 roundSeed, uint256 nodeSeed, RoundFilter filter)
        internal
        view
        returns (uint32, address)
    {
        uint256 n = finalizedRounds.length;
        if (roundSeed % 8 != 0 && n != 0) {
            for (uint256 j; j < n; ++j) {
                uint32 round = finalizedRounds[(roundSeed / 8 + j) % n];
                for (uint256 k; k < Actors.NODES; ++k) {
                    address node = Actors.node(nodeSeed % Actors.NODES + k);
                    if (_pairFits(round, node, filter)) return (round, node);
                }
            }
        }
        return (uint32((roundSeed / 8) % (uint256(currentRound) + 1)), Actors.node(nodeSeed));
    }

    function _pairFits(uint32 round, address node, RoundFilter filter) internal view returns (bool) {
        Part storage p = _parts[round][node];
        bool contributor = _weightIn(_contributors[round], _weights[round], node) != 0;
        if (filter == RoundFilter.Claimable) return contributor && !p.claimed;
        if (!p.committed || contributor || p.contested) return false;
        uint256 deadline = _rounds[round].finalizedAt + CONTEST_WINDOW;
        if (filter == RoundFilter.Contestable) return block.number <= deadline;
        return block.number > deadline && !p.slashed && _members[node].stake != 0;
    }

    function _weightIn(address[] memory who, uint64[] memory w, address node) internal pure returns (uint64) {
        for (uint256 i; i < who.length; ++i) {
            if (who[i] == node) return w[i];
        }
        return 0;
    }

    function _startUnbonding(MemberModel storage m) internal {
        m.status = Status.Leaving;
        m.leaveRound = currentRound;
        m.unbondAt = uint64(block.number) + UNBONDING_BLOCKS;
        memberCount -= 1;
    }

    /// @dev Contributors in address order (= node index order) and weights summing to WEIGHT_TOTAL,
    /// then the malformation `mode` asks for; `wellFormed` is false when one was applied.
    function _lists(uint32 round, uint256 maskSeed, uint256 weightSeed, uint256 mode)
        internal
        view
        returns (address[] memory who, uint64[] memory w, bool wellFormed)
    {
        address outsider;
        address[] memory picked = new address[](Actors.NODES);
        uint256 n;
        for (uint256 i; i < Actors.NODES; ++i) {
            address node = Actors.node(i);
            bool didCommit = _parts[round][node].committed;
            if (!didCommit && outsider == address(0)) outsider = node;
            bool include = didCommit && (((maskSeed >> i) & 1) == 1 || n == 0 && (maskSeed >> 8) % 2 == 0);
            if (include || (mode == 10 && node == outsider && !didCommit)) picked[n++] = node;
        }
        who = new address[](n);
        for (uint256 i; i < n; ++i) {
            who[i] = picked[i];
        }
        w = _split(n, weightSeed);
        wellFormed = !(mode == 10 && outsider != address(0));
        if (mode == 6 && n != 0) {
            w[n - 1] += 1;
            wellFormed = false;
        } else if (mode == 7 && n >= 2) {
            who[1] = who[0];
            wellFormed = false;
        } else if (mode == 8 && n >= 2) {
            (who[0], who[1]) = (who[1], who[0]);
            (w[0], w[1]) = (w[1], w[0]);
            wellFormed = false;
        } else if (mode == 9 && n >= 2) {
            w[0] += w[1];
            w[1] = 0;
            wellFormed = false;
        }
    }

    function _split(uint256 n, uint256 seed) internal pure returns (uint64[] memory w) {
        w = new uint64[](n);
        uint256 remaining = WEIGHT_TOTAL;
        for (uint256 i; i < n; ++i) {
            if (i == n - 1) {
                w[i] = uint64(remaining);
            } else {
                uint256 x = 1 + uint256(keccak256(abi.encode(seed, i))) % (remaining - (n - 1 - i));
                w[i] = uint64(x);
                remaining -= x;
            }
        }
    }

    // ------------------------------------------------------------- invariants
    // The invariant function calls the check* views after every action. Comparisons of single rounds
    // and members with the model run right after each action instead (_afterAction), on what the action
    // touched plus one round and one node in rotation (`steps`), and are reported through `found`.

    function _afterAction() internal override {
        uint32 rotating = highestRoundSeen == 0 ? 0 : uint32(1 + steps % highestRoundSeen);
        uint32[2] memory rounds = [touchedRound, rotating];
        for (uint256 i; i < 2; ++i) {
            _found(4, _checkFinalizedFlag(rounds[i]));
            _found(5, _checkWeights(rounds[i]));
            _found(10, _checkRound(rounds[i]));
        }
        _found(10, _checkMember(touchedNode));
        _found(10, _checkMember(Actors.node(steps)));
    }

    /// @notice Registry ETH balance = stakes + pools + reserved rewards + credits (its `totals()`).
    function checkBalance() external view returns (string memory) {
        (uint256 s, uint256 p, uint256 r, uint256 c) = registry.totals();
        uint256 balance = address(registry).balance;
        if (balance == s + p + r + c) return "";
        return string.concat(
            "balance ",
            Fmt.u(balance),
            " != staked ",
            Fmt.u(s),
            " + pools ",
            Fmt.u(p),
            " + reserved ",
            Fmt.u(r),
            " + credits ",
            Fmt.u(c)
        );
    }

    function checkLedger() external view returns (string memory) {
        return _checkLedger("registry", IPullPayments(address(registry)));
    }

    /// @notice No round was finalised by more than one successful call, and the registry's flag agrees
    /// with the calls made.
    function checkFinalisedOnce() external view returns (string memory) {
        if (mostFinalizations > 1) {
            for (uint32 round = 1; round <= highestRoundSeen; ++round) {
                if (finalizations[round] > 1) {
                    return
                        string.concat("round ", Fmt.u(round), " was finalised ", Fmt.u(finalizations[round]), " times");
                }
            }
        }
        return found[4];
    }

    /// @notice A finalised round's weights, as the registry reports them for every node, equal the
    /// weights that were finalised, node by node, and add up to WEIGHT_TOTAL.
    function checkRoundWeights() external view returns (string memory) {
        return found[5];
    }

    function _checkFinalizedFlag(uint32 round) internal view returns (string memory) {
        if (round != 0 && registry.getRound(fed, round).finalized != (finalizations[round] == 1)) {
            return string.concat("round ", Fmt.u(round), ": finalized flag disagrees with the calls made");
        }
        return "";
    }

    function _checkWeights(uint32 round) internal view returns (string memory) {
        if (finalizations[round] == 0) return "";
        (address[] memory who, uint64[] memory w) = roundLists(round);
        uint256 finalisedSum;
        for (uint256 i; i < w.length; ++i) {
            finalisedSum += w[i];
        }
        if (finalisedSum != WEIGHT_TOTAL) {
            return string.concat("round ", Fmt.u(round), " was finalised with weights summing to ", Fmt.u(finalisedSum));
        }
        uint256 onChainSum;
        for (uint256 i; i < Actors.NODES; ++i) {
            address node = Actors.node(i);
            try registry.contributionWeight(fed, round, node, who, w) returns (uint64 weight) {
                if (weight != _weightIn(who, w, node)) {
                    return string.concat(
                        "round ",
                        Fmt.u(round),
                        ": weight of ",
                        Actors.name(node),
                        " is ",
                        Fmt.u(weight),
                        ", finalised ",
                        Fmt.u(_weightIn(who, w, node))
                    );
                }
                onChainSum += weight;
            } catch {
                return string.concat("round ", Fmt.u(round), ": contributionWeight rejects the finalised lists");
            }
        }
        if (onChainSum != WEIGHT_TOTAL) {
            return string.concat("round ", Fmt.u(round), ": total weight ", Fmt.u(onChainSum));
        }
        return "";
    }

    /// @notice Each of `totals()` equals the sum of what it aggregates: member stakes, the federation's
    /// pool, reserved minus claimed rewards, account credits.
    function checkAggregates() external view returns (string memory) {
        (uint256 s, uint256 p, uint256 r, uint256 c) = registry.totals();
        uint256 stakes;
        uint256 credits;
        for (uint256 i; i < Actors.ALL; ++i) {
            address a = Actors.at(i);
            stakes += registry.getMember(fed, a).stake;
            credits += registry.creditOf(a);
        }
        if (s != stakes) return string.concat("total staked ", Fmt.u(s), " != sum of member stakes ", Fmt.u(stakes));
        uint256 pools = registry.getFederation(fed).rewardPool;
        if (p != pools) return string.concat("total pools ", Fmt.u(p), " != the federation's pool ", Fmt.u(pools));
        if (rewardsClaimedSeen > rewardsReservedSeen || r != rewardsReservedSeen - rewardsClaimedSeen) {
            return string.concat(
                "total reserved ",
                Fmt.u(r),
                " != rewards reserved ",
                Fmt.u(rewardsReservedSeen),
                " - claimed ",
                Fmt.u(rewardsClaimedSeen)
            );
        }
        if (c != credits) return string.concat("total credits ", Fmt.u(c), " != sum of credits ", Fmt.u(credits));
        return "";
    }

    /// @notice The federation record and totals equal the reference model, and so did every member and
    /// round compared after an action.
    function checkModel() external view returns (string memory) {
        IFederationRegistry.Federation memory f = registry.getFederation(fed);
        if (f.memberCount != memberCount) {
            return string.concat("memberCount ", Fmt.u(f.memberCount), " != model ", Fmt.u(memberCount));
        }
        if (f.currentRound != currentRound) {
            return string.concat("currentRound ", Fmt.u(f.currentRound), " != model ", Fmt.u(currentRound));
        }
        if (f.lastFinalizedRound != lastFinalized) return "lastFinalizedRound != model";
        if (f.rewardPool != pool) return string.concat("rewardPool ", Fmt.u(f.rewardPool), " != model ", Fmt.u(pool));
        (uint256 s,, uint256 r,) = registry.totals();
        if (s != staked) return string.concat("total staked ", Fmt.u(s), " != model ", Fmt.u(staked));
        if (r != reserved) return string.concat("total reserved ", Fmt.u(r), " != model ", Fmt.u(reserved));
        return found[10];
    }

    function _checkMember(address node) internal view returns (string memory) {
        if (node == address(0)) return "";
        IFederationRegistry.Member memory got = registry.getMember(fed, node);
        MemberModel storage m = _members[node];
        if (
            uint8(got.status) != uint8(m.status) || got.stake != m.stake || got.unbondAt != m.unbondAt
                || got.joinedRound != m.joinedRound || got.leaveRound != m.leaveRound
        ) {
            return string.concat(
                "member ",
                Actors.name(node),
                ": stake ",
                Fmt.u(got.stake),
                " (model ",
                Fmt.u(m.stake),
                "), status ",
                Fmt.u(uint8(got.status)),
                " (model ",
                Fmt.u(uint8(m.status)),
                ")"
            );
        }
        return "";
    }

    function _checkRound(uint32 round) internal view returns (string memory) {
        if (round == 0) return "";
        IFederationRegistry.Round memory got = registry.getRound(fed, round);
        RoundModel storage m = _rounds[round];
        if (
            got.finalized != m.finalized || got.reward != m.reward || got.finalizedAt != m.finalizedAt
                || got.commitDeadline != m.commitDeadline || got.finalizeDeadline != m.finalizeDeadline
        ) {
            return string.concat(
                "round ",
                Fmt.u(round),
                " record differs from the model (reward ",
                Fmt.u(got.reward),
                ", model ",
                Fmt.u(m.reward),
                ")"
            );
        }
        for (uint256 i; i < Actors.NODES; ++i) {
            address node = Actors.node(i);
            IFederationRegistry.Participation memory p = registry.participationOf(fed, round, node);
            Part storage mp = _parts[round][node];
            if (
                p.rewardClaimed != mp.claimed || p.contested != mp.contested || p.slashed != mp.slashed
                    || (registry.commitmentOf(fed, round, node) != bytes32(0)) != mp.committed
            ) {
                return string.concat(
                    "round ", Fmt.u(round), ": participation of ", Actors.name(node), " differs from the model"
                );
            }
        }
        return "";
    }
}
