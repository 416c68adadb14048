// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IModelMarketplace
/// @notice Fixed-price sales of model NFTs and time-limited licences paid in ETH, with licence revenue
/// shared with the nodes that trained the model. All proceeds are credited and withdrawn (pull payments).
interface IModelMarketplace {
    /// @notice A fixed-price listing; the NFT stays with the seller until sold.
    struct Listing {
        address seller;
        uint128 price;
    }

    /// @notice Terms of a licence offer made by the token's owner.
    /// @param creator Owner of the token when the offer was made; the offer lapses if the token changes hands.
    /// @param price Wei per licence period.
    /// @param duration Seconds one purchase adds to the licence.
    /// @param maxSeats Most licence grants under this offer (0 = unlimited); renewals before expiry use no seat.
    /// @param seatsUsed Grants made so far.
    /// @param expiresAt Unix time after which the offer cannot be bought (0 = never).
    /// @param active Whether the offer can be bought.
    /// @param termsCID IPFS CID of the licence terms document.
    struct LicenseOffer {
        address creator;
        uint64 duration;
        uint32 maxSeats;
        uint32 seatsUsed;
        uint128 price;
        uint64 expiresAt;
        bool active;
        string termsCID;
    }

    /// @notice A licensee's licence on a token.
    struct License {
        uint64 expiresAt;
        uint32 offerId;
        uint64 licenseId;
        /// @dev Whether a wrapped content key was delivered for `licenseId` (reset by a new purchase).
        bool keyDelivered;
    }

    error MarketplaceNotTokenOwner(uint256 tokenId, address account);
    error MarketplaceNotApproved(uint256 tokenId);
    error MarketplaceZeroPrice();
    error MarketplaceNotListed(uint256 tokenId);
    /// @notice The listing's seller no longer owns the token.
    error MarketplaceStaleListing(uint256 tokenId, address seller, address owner);
    error MarketplaceBuyerIsSeller(uint256 tokenId, address account);
    /// @notice The price is above what the buyer accepted.
    error MarketplacePriceAboveLimit(uint256 price, uint256 maxPrice);
    /// @notice The ETH sent does not cover the price.
    error MarketplaceInsufficientPayment(uint256 sent, uint256 required);
    error MarketplaceUnknownOffer(uint256 tokenId, uint256 offerId);
    error MarketplaceOfferInactive(uint256 tokenId, uint256 offerId);
    error MarketplaceOfferExpired(uint256 tokenId, uint256 offerId, uint64 expiredAt);
    /// @notice The offer's creator no longer owns the token.
    error MarketplaceStaleOffer(uint256 tokenId, uint256 offerId, address creator, address owner);
    error MarketplaceNoSeatsLeft(uint256 tokenId, uint256 offerId, uint32 maxSeats);
    error MarketplaceInvalidOffer(string field);
    error MarketplaceZeroKemKeyDigest();
    error MarketplaceInsufficientCredit(address account, uint256 requested, uint256 available);
    error MarketplaceNothingToClaim(uint256 tokenId, address account);
    error MarketplaceTransferFailed(address to, uint256 amount);
    /// @notice `licenseId` is not the licensee's current licence on the token, or it has expired.
    error MarketplaceNoSuchLicense(uint256 tokenId, address licensee, uint64 licenseId);
    error MarketplaceKeyAlreadyDelivered(uint256 tokenId, address licensee, uint64 licenseId);
    error MarketplaceInvalidCid();

    event Listed(uint256 indexed tokenId, address indexed seller, uint256 price);
    event ListingCancelled(uint256 indexed tokenId, address indexed seller);
    event Sold(
        uint256 indexed tokenId,
        address indexed seller,
        address indexed buyer,
        uint256 price,
        address royaltyReceiver,
        uint256 royalty
    );
    event LicenseOfferCreated(
        uint256 indexed tokenId,
        uint32 indexed offerId,
        address indexed creator,
        uint256 price,
        uint64 duration,
        uint32 maxSeats,
        uint64 expiresAt,
        string termsCID
    );
    event LicenseOfferStatusChanged(uint256 indexed tokenId, uint32 indexed offerId, bool active);
    event LicensePurchased(
        uint64 indexed licenseId,
        uint256 indexed tokenId,
        address indexed licensee,
        uint32 offerId,
        bytes32 kemKeyDigest,
        uint64 expiresAt,
        uint256 price,
        bool renewal
    );
    event RevenueCredited(address indexed account, uint256 amount, uint8 reason);
    event ContributorRevenueAdded(uint256 indexed tokenId, uint256 amount, uint256 total);
    event ContributorRevenueClaimed(uint256 indexed tokenId, address indexed contributor, uint256 amount);
    event Withdrawal(address indexed account, uint256 amount);
    /// @notice The token owner's key service pinned `wrappedKeyCID`: the model's content key wrapped to
    /// the ML-KEM key named in licence `licenseId`.
    event KeyDelivered(
        uint64 indexed licenseId, uint256 indexed tokenId, address indexed licensee, string wrappedKeyCID
    );

    function hasValidLicense(uint256 tokenId, address account) external view returns (bool);
}
