// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice The Foundry cheatcodes this suite uses, declared by hand: CI is offline, so there is no
/// forge-std (and no `forge install`). Forge answers calls to this address itself.
interface Vm {
    function prank(address sender) external;
    function startPrank(address sender) external;
    function stopPrank() external;
    function deal(address account, uint256 newBalance) external;
    function warp(uint256 timestamp) external;
    function roll(uint256 blockNumber) external;
    function assume(bool condition) external pure;
    function expectRevert(bytes4 selector) external;
    function expectRevert(bytes calldata revertData) external;
    function label(address account, string calldata name) external;
    function writeLine(string calldata path, string calldata data) external;
}

/// @dev Where forge listens for cheatcodes: address(bytes20(keccak256("hevm cheat code"))).
address constant CHEATCODE_ADDRESS = address(uint160(uint256(keccak256("hevm cheat code"))));

/// @dev Forge prints `log(...)` calls made to this address (the Hardhat console ABI).
address constant CONSOLE_ADDRESS = 0x000000000000000000636F6e736F6c652e6c6f67;

abstract contract UsesCheats {
    Vm internal constant vm = Vm(CHEATCODE_ADDRESS);

    function _log(string memory text) internal view {
        (bool ignored,) = CONSOLE_ADDRESS.staticcall(abi.encodeWithSignature("log(string)", text));
        ignored;
    }
}

/// @notice The fixed cast: six training nodes (addresses increase with the index, so a prefix of
/// nodes is already in the registry's required contributor order), four users, the federation's
/// coordinator and a publisher of direct (non-federation) models. All plain accounts (no code).
library Actors {
    uint256 internal constant NODES = 6;
    uint256 internal constant USERS = 4;
    /// nodes, users, coordinator, publisher
    uint256 internal constant ALL = NODES + USERS + 2;

    function node(uint256 i) internal pure returns (address) {
        return address(uint160(0x10000 + (i % NODES)));
    }

    function user(uint256 i) internal pure returns (address) {
        return address(uint160(0x20000 + (i % USERS)));
    }

    function coordinator() internal pure returns (address) {
        return address(uint160(0x30000));
    }

    function publisher() internal pure returns (address) {
        return address(uint160(0x30001));
    }

    /// @dev Any actor: 0..5 nodes, 6..9 users, 10 coordinator, 11 publisher.
    function at(uint256 i) internal pure returns (address) {
        i %= ALL;
        if (i < NODES) return node(i);
        if (i < NODES + USERS) return user(i - NODES);
        return i == NODES + USERS ? coordinator() : publisher();
    }

    /// @dev Accounts that may hold and trade tokens and licences: nodes and users.
    function holder(uint256 i) internal pure returns (address) {
        i %= NODES + USERS;
        return i < NODES ? node(i) : user(i - NODES);
    }

    function name(address a) internal pure returns (string memory) {
        uint160 v = uint160(a);
        if (v >= 0x10000 && v < 0x10000 + NODES) return string.concat("node", Fmt.u(v - 0x10000));
        if (v >= 0x20000 && v < 0x20000 + USERS) return string.concat("user", Fmt.u(v - 0x20000));
        if (a == coordinator()) return "coordinator";
        if (a == publisher()) return "publisher";
        return Fmt.hexAddress(a);
    }
}

/// @notice Number and byte formatting for failure messages.
library Fmt {
    function u(uint256 value) internal pure returns (string memory) {
        if (value == 0) return "0";
        uint256 digits;
        for (uint256 v = value; v != 0; v /= 10) {
            ++digits;
        }
        bytes memory out = new bytes(digits);
        for (uint256 v = value; v != 0; v /= 10) {
            out[--digits] = bytes1(uint8(48 + (v % 10)));
        }
        return string(out);
    }

    function hexBytes(bytes memory data, uint256 maxLength) internal pure returns (string memory) {
        uint256 n = data.length < maxLength ? data.length : maxLength;
        bytes memory out = new bytes(2 + 2 * n);
        out[0] = "0";
        out[1] = "x";
        bytes16 symbols = "0123456789abcdef";
        for (uint256 i; i < n; ++i) {
            out[2 + 2 * i] = symbols[uint8(data[i]) >> 4];
            out[3 + 2 * i] = symbols[uint8(data[i]) & 0x0f];
        }
        return string(out);
    }

    function hexAddress(address a) internal pure returns (string memory) {
        return hexBytes(abi.encodePacked(a), 20);
    }

    /// @dev "Panic(0x11)" for a compiler panic, else the 4-byte selector of the revert data.
    function revertReason(bytes memory err) internal pure returns (string memory) {
        if (err.length == 0) return "empty revert";
        if (err.length == 36 && bytes4(err) == bytes4(keccak256("Panic(uint256)"))) {
            uint256 code;
            assembly {
                code := mload(add(err, 36))
            }
            return string.concat("Panic(", u(code), ")");
        }
        return string.concat("error ", hexBytes(err, 4));
    }
}
