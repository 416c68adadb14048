// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {FederationRegistry} from "../../contracts/FederationRegistry.sol";
import {ModelMarketplace} from "../../contracts/ModelMarketplace.sol";
import {ModelNFT} from "../../contracts/ModelNFT.sol";
import {IFederationRegistry} from "../../contracts/interfaces/IFederationRegistry.sol";
import {IModelNFT} from "../../contracts/interfaces/IModelNFT.sol";
import {FederationHandler} from "./handlers/FederationHandler.sol";
import {MarketHandler} from "./handlers/MarketHandler.sol";
import {Actors, UsesCheats} from "./utils/Cheats.sol";

/// @notice Invariant campaign over the three contracts together. Forge calls random sequences of the
/// two handlers' actions (see their `actions()`); after every call `invariant_protocol` checks the
/// named invariants below, in order, and fails with the name of the first one violated.
contract ProtocolInvariants is UsesCheats {
    string internal constant ACTION_LOG = "build/forge/invariant-actions.log";

    /// @dev Forge reads the campaign's targets from these two functions (the shape forge expects).
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    ModelNFT internal nft;
    FederationRegistry internal registry;
    ModelMarketplace internal market;
    FederationHandler internal federation;
    MarketHandler internal marketHandler;

    address[] private _targets;
    FuzzSelector[] private _selectors;

    function setUp() public {
        nft = new ModelNFT(address(this));
        registry = new FederationRegistry(address(this), IModelNFT(address(nft)));
        market = new ModelMarketplace(address(this), IModelNFT(address(nft)), IFederationRegistry(address(registry)));
        nft.setFederationRegistry(address(registry));
        nft.setMinter(Actors.publisher(), true);
        federation = new FederationHandler(registry, IModelNFT(address(nft)));
        marketHandler = new MarketHandler(market, nft, federation);
        // A head start, through the handlers so their models see it: four nodes join, round 1 opens,
        // and both direct models get a licence offer.
        for (uint256 i; i < 4; ++i) {
            federation.join(1, 0.5 ether);
        }
        federation.openRound(1);
        marketHandler.createOffer(0, 0, 1);
        marketHandler.createOffer(1, 1 << 64, 1);
        federation.resetStats();
        marketHandler.resetStats();
        _target(address(federation), federation.actions());
        _target(address(marketHandler), marketHandler.actions());
    }

    function targetContracts() public view returns (address[] memory) {
        return _targets;
    }

    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _selectors;
    }

    function _target(address handler, bytes4[] memory selectors) internal {
        _targets.push(handler);
        FuzzSelector storage s = _selectors.push();
        s.addr = handler;
        for (uint256 i; i < selectors.length; ++i) {
            s.selectors.push(selectors[i]);
        }
    }

    /// @notice The invariants, in the order they are checked (the first violated one is reported).
    function invariant_protocol() public view {
        _holds("I1 registry ETH balance = stakes + pools + reserved rewards + credits", federation.checkBalance());
        _holds("I2 marketplace ETH balance = credits + unclaimed contributor revenue", marketHandler.checkBalance());
        _holds("I3 no account withdraws more than it was credited (registry)", federation.checkLedger());
        _holds("I3 no account withdraws more than it was credited (marketplace)", marketHandler.checkLedger());
        _holds("I4 a round is finalised at most once", federation.checkFinalisedOnce());
        _holds("I5 a round's total contribution weight is what was finalised", federation.checkRoundWeights());
        _holds("I6 a licence's expiry never moves backwards", marketHandler.checkExpiryMonotonic());
        _holds("I7 licence seats never exceed the offer's limit", marketHandler.checkSeats());
        _holds("I8 registry aggregates equal the sum of their parts", federation.checkAggregates());
        _holds("I9 marketplace aggregates equal the sum of their parts", marketHandler.checkAggregates());
        _holds("I10 registry state matches the reference model", federation.checkModel());
        _holds("I11 marketplace state matches the reference model", marketHandler.checkModel());
        _holds("I12 every call succeeds or reverts as specified", _calls());
    }

    function _calls() internal view returns (string memory) {
        if (federation.mismatches() != 0) return federation.firstMismatch();
        if (marketHandler.mismatches() != 0) return marketHandler.firstMismatch();
        return "";
    }

    function _holds(string memory name, string memory failure) internal pure {
        if (bytes(failure).length != 0) revert(string.concat("INVARIANT VIOLATED [", name, "]: ", failure));
    }

    /// @notice After each run, append the run's per-action outcome counts to ACTION_LOG (read by
    /// scripts/security/security_report.py), so a report shows that every action was exercised.
    function afterInvariant() public {
        vm.writeLine(ACTION_LOG, string.concat(federation.stats(), " ", marketHandler.stats()));
    }
}
