// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IModelNFT} from "./interfaces/IModelNFT.sol";

/// @title ModelNFT
/// @notice One ERC-721 token per published model. The token records, immutably, the IPFS CID of the
/// model's signed manifest, the digest of its weights, the digest of the ML-DSA key that signed the
/// manifest, the federation round it came out of and its parent model.
/// @dev IMPORTANT: ERC-2981 royalties are signalled, not enforced. The fqai marketplace pays them;
/// other venues may not.
contract ModelNFT is ERC721, ERC2981, Ownable2Step, IModelNFT {
    /// @notice Highest royalty a minter may set, in basis points (10 %).
    uint96 public constant MAX_ROYALTY_BPS = 1_000;
    /// @notice Longest manifest CID accepted, in bytes.
    uint256 public constant MAX_CID_LENGTH = 128;

    uint256 private _nextTokenId = 1;
    address private _federationRegistry;
    mapping(address account => bool allowed) private _minters;
    mapping(uint256 tokenId => Provenance) private _provenance;

    /// @param initialOwner Account that manages minters (later the DAO or a multisig).
    constructor(address initialOwner) ERC721("fqai Model", "FQAIM") Ownable(initialOwner) {}

    /// @notice Authorise or de-authorise a publisher to mint models outside a federation.
    /// @dev Requirements: caller is the owner; `account` is not zero.
    /// Emits a {MinterUpdated} event.
    function setMinter(address account, bool allowed) external onlyOwner {
        if (account == address(0)) revert ModelNFTZeroAddress();
        _minters[account] = allowed;
        emit MinterUpdated(account, allowed);
    }

    /// @notice Set the federation registry, the only minter allowed to name a federation in provenance.
    /// @dev Requirements: caller is the owner; `registry` is not zero. The registry also becomes a minter.
    /// Emits {FederationRegistryUpdated} and {MinterUpdated} events.
    function setFederationRegistry(address registry) external onlyOwner {
        if (registry == address(0)) revert ModelNFTZeroAddress();
        address previous = _federationRegistry;
        if (previous != address(0)) {
            _minters[previous] = false;
            emit MinterUpdated(previous, false);
        }
        _federationRegistry = registry;
        _minters[registry] = true;
        emit FederationRegistryUpdated(registry);
        emit MinterUpdated(registry, true);
    }

    /// @notice Mint a model token to `to` with its provenance.
    /// @dev Requirements:
    /// - caller is an authorised minter; only the federation registry may set `federationId`;
    /// - the manifest CID is 1..MAX_CID_LENGTH bytes, both digests are non-zero;
    /// - the parent token, when given, exists; royalty is at most MAX_ROYALTY_BPS;
    /// - `to` accepts ERC-721 tokens if it is a contract.
    /// Emits a {ModelMinted} event (and ERC-721 {Transfer}).
    /// @return tokenId The new token's id (ids start at 1).
    function mint(address to, MintParams calldata params) external returns (uint256 tokenId) {
        if (!_minters[msg.sender]) revert ModelNFTUnauthorizedMinter(msg.sender);
        if (params.federationId != 0 && msg.sender != _federationRegistry) {
            revert ModelNFTFederationMintNotAuthorized(msg.sender, params.federationId);
        }
        if ((params.federationId == 0) != (params.round == 0)) {
            revert ModelNFTInvalidFederationRound(params.federationId, params.round);
        }
        uint256 cidLength = bytes(params.manifestCID).length;
        if (cidLength == 0 || cidLength > MAX_CID_LENGTH) revert ModelNFTInvalidManifestCID(cidLength);
        if (params.weightsDigest == bytes32(0) || params.signerKeyDigest == bytes32(0)) revert ModelNFTZeroDigest();
        if (params.parentTokenId != 0 && _ownerOf(params.parentTokenId) == address(0)) {
            revert ModelNFTUnknownParent(params.parentTokenId);
        }
        if (params.royaltyBps > MAX_ROYALTY_BPS) revert ModelNFTRoyaltyTooHigh(params.royaltyBps, MAX_ROYALTY_BPS);

        tokenId = _nextTokenId++;
        _provenance[tokenId] = Provenance({
            manifestCID: params.manifestCID,
            weightsDigest: params.weightsDigest,
            signerKeyDigest: params.signerKeyDigest,
            federationId: params.federationId,
            round: params.round,
            mintedAt: uint64(block.timestamp),
            // An existing parent id is below `_nextTokenId`, which never reaches 2^64.
            parentTokenId: uint64(params.parentTokenId),
            minter: msg.sender
        });
        if (params.royaltyBps != 0) {
            if (params.royaltyReceiver == address(0)) revert ModelNFTZeroAddress();
            _setTokenRoyalty(tokenId, params.royaltyReceiver, params.royaltyBps);
        }
        emit ModelMinted(
            tokenId,
            to,
            params.federationId,
            params.round,
            params.manifestCID,
            params.weightsDigest,
            params.signerKeyDigest,
            params.parentTokenId
        );
        _safeMint(to, tokenId);
    }

    /// @notice Full provenance of `tokenId`. Reverts for a token that does not exist.
    function provenance(uint256 tokenId) external view returns (Provenance memory) {
        _requireOwned(tokenId);
        return _provenance[tokenId];
    }

    /// @notice Federation id and round of `tokenId` (both 0 outside a federation), in one storage read.
    function federationOf(uint256 tokenId) external view returns (uint64 federationId, uint32 round) {
        _requireOwned(tokenId);
        Provenance storage p = _provenance[tokenId];
        return (p.federationId, p.round);
    }

    /// @notice Whether `account` may mint.
    function isMinter(address account) external view returns (bool) {
        return _minters[account];
    }

    /// @notice The federation registry allowed to mint federation models.
    function federationRegistry() external view returns (address) {
        return _federationRegistry;
    }

    /// @notice Number of tokens minted so far (tokens are never burned).
    function totalMinted() external view returns (uint256) {
        return _nextTokenId - 1;
    }

    /// @notice `ipfs://<manifest CID>`.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        return string.concat("ipfs://", _provenance[tokenId].manifestCID);
    }

    /// @inheritdoc ERC721
    function supportsInterface(bytes4 interfaceId) public view override(ERC721, ERC2981) returns (bool) {
        return interfaceId == type(IModelNFT).interfaceId || super.supportsInterface(interfaceId);
    }
}
