// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IModelNFT
/// @notice ERC-721 model tokens whose provenance (signed IPFS manifest, weights digest, signer key,
/// federation round and parent model) is fixed at mint.
interface IModelNFT {
    /// @notice Immutable provenance of a model token, readable in one call.
    /// @param manifestCID IPFS CID of the signed JSON manifest (`tokenURI` is `ipfs://<manifestCID>`).
    /// @param weightsDigest sha256 of the weights file the manifest describes.
    /// @param signerKeyDigest sha256 of the ML-DSA-65 public key that signed the manifest.
    /// @param federationId Federation the model came out of, 0 when published outside a federation.
    /// @param round Final federation round of the model, 0 when `federationId` is 0.
    /// @param parentTokenId Token this model was derived from, 0 for none.
    /// @param minter Account (publisher or federation registry) that minted the token.
    /// @param mintedAt Block timestamp of the mint.
    struct Provenance {
        string manifestCID;
        bytes32 weightsDigest;
        bytes32 signerKeyDigest;
        uint64 federationId;
        uint32 round;
        uint64 mintedAt;
        uint64 parentTokenId;
        address minter;
    }

    /// @notice What a minter supplies for a new token.
    struct MintParams {
        string manifestCID;
        bytes32 weightsDigest;
        bytes32 signerKeyDigest;
        uint64 federationId;
        uint32 round;
        uint256 parentTokenId;
        address royaltyReceiver;
        uint96 royaltyBps;
    }

    /// @notice `account` is not an authorised minter.
    error ModelNFTUnauthorizedMinter(address account);
    /// @notice Only the federation registry may mint tokens that name a federation.
    error ModelNFTFederationMintNotAuthorized(address account, uint64 federationId);
    /// @notice The manifest CID is empty or longer than the limit.
    error ModelNFTInvalidManifestCID(uint256 length);
    /// @notice A zero weights or signer-key digest was given.
    error ModelNFTZeroDigest();
    /// @notice The parent token does not exist.
    error ModelNFTUnknownParent(uint256 parentTokenId);
    /// @notice Royalty above the contract's cap.
    error ModelNFTRoyaltyTooHigh(uint96 royaltyBps, uint96 maxBps);
    /// @notice A federation id without a round, or a round without a federation id.
    error ModelNFTInvalidFederationRound(uint64 federationId, uint32 round);
    /// @notice The zero address was given where an account is required.
    error ModelNFTZeroAddress();

    /// @notice A minter was authorised or de-authorised.
    event MinterUpdated(address indexed account, bool allowed);
    /// @notice The federation registry allowed to mint federation models was set.
    event FederationRegistryUpdated(address indexed registry);
    /// @notice A model token was minted with its provenance.
    event ModelMinted(
        uint256 indexed tokenId,
        address indexed to,
        uint64 indexed federationId,
        uint32 round,
        string manifestCID,
        bytes32 weightsDigest,
        bytes32 signerKeyDigest,
        uint256 parentTokenId
    );

    function mint(address to, MintParams calldata params) external returns (uint256 tokenId);

    function provenance(uint256 tokenId) external view returns (Provenance memory);

    function federationOf(uint256 tokenId) external view returns (uint64 federationId, uint32 round);

    function isMinter(address account) external view returns (bool);

    function totalMinted() external view returns (uint256);
}
