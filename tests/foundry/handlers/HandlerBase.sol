// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Actors, Fmt, UsesCheats} from "../utils/Cheats.sol";

/// @dev The pull-payment surface shared by the registry and the marketplace.
interface IPullPayments {
    function withdraw(uint256 amount) external;
    function creditOf(address account) external view returns (uint256);
}

/// @notice What both handlers share: each action is a call the fuzzer makes with random seeds; the
/// handler turns the seeds into an actor and arguments, predicts from its reference model whether the
/// call must succeed or revert, makes the call (never reverting itself), and, when it succeeded as
/// predicted, applies the specified effects to the model. A call that succeeds where the spec says it
/// must revert (or the reverse) is recorded as a mismatch, which an invariant reports.
///
/// The ledger is the model of the contract's pull payments: what each account was credited by spec,
/// what it asked to withdraw, and the ETH it actually received.
abstract contract HandlerBase is UsesCheats {
    uint64 internal constant WEIGHT_TOTAL = 1_000_000;

    /// @dev Actions taken so far in this run; picks the entity the invariants re-check in rotation.
    uint256 public steps;
    uint256 public mismatches;
    string public firstMismatch;
    /// @dev action name -> calls that succeeded as predicted / reverted as predicted
    mapping(string action => uint256 count) public succeeded;
    mapping(string action => uint256 count) public rejected;

    mapping(address account => uint256 amount) public credited;
    mapping(address account => uint256 amount) public requested;
    mapping(address account => uint256 amount) public paidOut;

    /// @dev First violation found by the checks that run right after each action (while the slots
    /// the action touched are still warm), by invariant number; the invariant function reports them.
    mapping(uint256 invariantNumber => string violation) public found;

    modifier act() {
        steps += 1;
        _;
        _afterAction();
    }

    /// @dev Compares what the action touched, and one more entity in rotation, with the model.
    function _afterAction() internal virtual;

    function _found(uint256 invariantNumber, string memory violation) internal {
        if (bytes(violation).length != 0 && bytes(found[invariantNumber]).length == 0) {
            found[invariantNumber] = string.concat(violation, " [after action ", Fmt.u(steps), "]");
        }
    }

    /// @dev The action names passed to {_expect}, for {stats}.
    function _actionNames() internal pure virtual returns (string[] memory);

    /// @notice "name=succeeded/rejected ..." for every action of this run: calls that succeeded as
    /// specified, and calls that reverted as specified.
    function stats() external view returns (string memory line) {
        string[] memory names = _actionNames();
        for (uint256 i; i < names.length; ++i) {
            line = string.concat(
                line, i == 0 ? "" : " ", names[i], "=", Fmt.u(succeeded[names[i]]), "/", Fmt.u(rejected[names[i]])
            );
        }
    }

    /// @notice Forget the counts of the set-up actions, so `stats` shows what the fuzzer's calls did.
    function resetStats() external {
        string[] memory names = _actionNames();
        for (uint256 i; i < names.length; ++i) {
            delete succeeded[names[i]];
            delete rejected[names[i]];
        }
    }

    /// @dev Compares the call's outcome with the prediction; true when the model should apply effects.
    function _expect(string memory action, bool expected, bool ok, bytes memory err) internal returns (bool) {
        if (ok == expected) {
            if (ok) succeeded[action] += 1;
            else rejected[action] += 1;
            return ok;
        }
        _mismatch(
            ok
                ? string.concat(action, " succeeded where the spec requires a revert")
                : string.concat(action, " reverted (", Fmt.revertReason(err), ") where the spec requires success")
        );
        return false;
    }

    function _mismatch(string memory what) internal {
        mismatches += 1;
        if (bytes(firstMismatch).length == 0) {
            firstMismatch = string.concat(what, " [block ", Fmt.u(block.number), "]");
        }
    }

    function _credit(address account, uint256 amount) internal {
        credited[account] += amount;
    }

    function _modelCredit(address account) internal view returns (uint256) {
        return credited[account] - requested[account];
    }

    /// @dev Withdraw part of the actor's credit; one call in eight asks for one wei more than the
    /// model's credit, which must revert.
    function _withdraw(string memory action, IPullPayments target, uint256 actorSeed, uint256 amountSeed) internal {
        address actor = Actors.at(actorSeed);
        // Seven calls in eight go to an account with something to withdraw, when there is one.
        for (uint256 k; k < Actors.ALL && actorSeed % 8 != 0 && _modelCredit(actor) == 0; ++k) {
            actor = Actors.at(actorSeed % Actors.ALL + k + 1);
        }
        uint256 credit = _modelCredit(actor);
        uint256 amount = (credit == 0 || amountSeed % 8 == 0) ? credit + 1 : 1 + (amountSeed >> 3) % credit;
        bool expected = amount <= credit;
        uint256 balanceBefore = actor.balance;
        bool ok;
        bytes memory err;
        vm.prank(actor);
        try target.withdraw(amount) {
            ok = true;
        } catch (bytes memory e) {
            err = e;
        }
        paidOut[actor] += actor.balance - balanceBefore;
        if (_expect(action, expected, ok, err)) requested[actor] += amount;
    }

    /// @dev "" when every account's withdrawals were paid exactly and never exceeded its credits,
    /// and the contract's credit for it is what the model says; else the first violation.
    function _checkLedger(string memory label, IPullPayments target) internal view returns (string memory) {
        for (uint256 i; i < Actors.ALL; ++i) {
            address a = Actors.at(i);
            if (paidOut[a] > credited[a]) {
                return string.concat(
                    label,
                    ": ",
                    Actors.name(a),
                    " received ",
                    Fmt.u(paidOut[a]),
                    " wei but was credited ",
                    Fmt.u(credited[a])
                );
            }
            if (paidOut[a] != requested[a]) {
                return string.concat(
                    label,
                    ": ",
                    Actors.name(a),
                    " received ",
                    Fmt.u(paidOut[a]),
                    " wei for withdrawals of ",
                    Fmt.u(requested[a])
                );
            }
            uint256 onChain = target.creditOf(a);
            if (onChain != credited[a] - requested[a]) {
                return string.concat(
                    label,
                    ": credit of ",
                    Actors.name(a),
                    " is ",
                    Fmt.u(onChain),
                    ", credited minus withdrawn is ",
                    Fmt.u(credited[a] - requested[a])
                );
            }
        }
        return "";
    }
}
