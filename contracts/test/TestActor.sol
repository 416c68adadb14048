// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";

/// @title TestActor
/// @notice TEST ONLY — never deployed by scripts/deploy.py. A contract account for the test suite that
/// calls other contracts and misbehaves on demand: it can refuse ETH, refuse ERC-721 tokens, or call
/// back into a target (re-entrancy) when it receives either.
contract TestActor is IERC721Receiver {
    bool public acceptEth = true;
    bool public acceptTokens = true;
    address public reenterTarget;
    bytes public reenterData;
    bool public bubbleReentryRevert = true;
    uint256 public reentryAttempts;

    error TestActorRefusesEth();

    /// @notice Configure how the actor reacts to incoming ETH and tokens.
    function configure(bool acceptEth_, bool acceptTokens_, address target, bytes calldata data, bool bubble)
        external
    {
        acceptEth = acceptEth_;
        acceptTokens = acceptTokens_;
        reenterTarget = target;
        reenterData = data;
        bubbleReentryRevert = bubble;
    }

    /// @notice Call `target` with `data` and `value`, bubbling up any revert unchanged.
    function execute(address target, bytes calldata data, uint256 value) external payable returns (bytes memory) {
        return Address.functionCallWithValue(target, data, value);
    }

    receive() external payable {
        if (!acceptEth) revert TestActorRefusesEth();
        _reenter();
    }

    function onERC721Received(address, address, uint256, bytes calldata) external returns (bytes4) {
        if (!acceptTokens) return bytes4(0);
        _reenter();
        return IERC721Receiver.onERC721Received.selector;
    }

    function _reenter() private {
        if (reenterTarget == address(0)) return;
        reentryAttempts += 1;
        if (bubbleReentryRevert) {
            Address.functionCall(reenterTarget, reenterData);
        } else {
            // Outcome deliberately ignored: the test checks the state afterwards.
            (bool ok,) = reenterTarget.call(reenterData);
            ok;
        }
    }
}
