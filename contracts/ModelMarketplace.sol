// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC2981} from "@openzeppelin/contracts/interfaces/IERC2981.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IModelMarketplace} from "./interfaces/IModelMarketplace.sol";
import {IModelNFT} from "./interfaces/IModelNFT.sol";
import {IFederationRegistry} from "./interfaces/IFederationRegistry.sol";

/// @title ModelMarketplace
/// @notice Sells model NFTs at a fixed price and sells time-limited licences to use them. Sales pay the
/// ERC-2981 royalty receiver and the seller. Licence revenue of a model that came out of a federation
/// is split: the federation's `revenueShareBps` goes to the contributors of the model's final round in
/// proportion to their recorded weights, the rest to the offer's creator. Every payee is credited and
/// withdraws with {withdraw}; contributors claim their share per token with {claimContributorRevenue}.
/// @dev IMPORTANT: a licence is a record on this contract. Whoever serves the model (the owner's key
/// service, an integrator) must check {hasValidLicense}; a key already delivered cannot be taken back.
contract ModelMarketplace is IModelMarketplace, Ownable2Step, Pausable, ReentrancyGuard {
    uint16 public constant BPS = 10_000;
    uint64 public constant WEIGHT_TOTAL = 1_000_000;
    uint256 public constant MAX_TERMS_CID_LENGTH = 128;
    /// @notice Longest period one licence purchase may add (100 years), so expiries never overflow.
    uint64 public constant MAX_LICENSE_DURATION = 100 * 365 days;

    /// @dev Reasons carried by {RevenueCredited}.
    uint8 public constant CREDIT_SALE = 1;
    uint8 public constant CREDIT_ROYALTY = 2;
    uint8 public constant CREDIT_LICENSE = 3;
    uint8 public constant CREDIT_REFUND = 4;
    uint8 public constant CREDIT_CONTRIBUTOR = 5;

    IModelNFT public immutable modelNFT;
    IFederationRegistry public immutable federationRegistry;

    mapping(uint256 tokenId => Listing) private _listings;
    // slither-disable-next-line uninitialized-state (written through a storage reference, offers.push)
    mapping(uint256 tokenId => LicenseOffer[]) private _offers;
    mapping(uint256 tokenId => mapping(address account => License)) private _licenses;
    mapping(uint256 tokenId => uint256 total) private _contributorRevenue;
    mapping(uint256 tokenId => mapping(address contributor => uint256 claimed)) private _contributorClaimed;
    mapping(address account => uint256 amount) private _credits;
    /// @dev Aggregates packed in one slot (uint96 holds more wei than all ETH in existence).
    struct Totals {
        uint96 credits;
        uint96 contributorUnclaimed;
        uint64 licenseCount;
    }

    Totals private _totals;

    /// @param initialOwner Account allowed to pause and unpause.
    /// @param nft The model NFT contract.
    /// @param registry The federation registry (source of contribution weights and revenue shares).
    constructor(address initialOwner, IModelNFT nft, IFederationRegistry registry) Ownable(initialOwner) {
        modelNFT = nft;
        federationRegistry = registry;
    }

    /// @notice Stop listing, buying and licensing. Withdrawals and claims stay open.
    /// @dev Requirements: caller is the owner. Emits a {Paused} event.
    function pause() external onlyOwner {
        _pause();
    }

    /// @notice Undo {pause}. Emits an {Unpaused} event.
    function unpause() external onlyOwner {
        _unpause();
    }

    // ------------------------------------------------------------------ sales

    /// @notice List `tokenId` for sale at `price` wei. The token stays with the caller until sold.
    /// @dev Requirements: not paused; caller owns the token; the marketplace is approved for it (or for
    /// all the caller's tokens); non-zero price. Relisting replaces the price. Emits a {Listed} event.
    function list(uint256 tokenId, uint128 price) external whenNotPaused {
        IERC721 nft = IERC721(address(modelNFT));
        address owner = nft.ownerOf(tokenId);
        if (owner != msg.sender) revert MarketplaceNotTokenOwner(tokenId, msg.sender);
        if (nft.getApproved(tokenId) != address(this) && !nft.isApprovedForAll(owner, address(this))) {
            revert MarketplaceNotApproved(tokenId);
        }
        if (price == 0) revert MarketplaceZeroPrice();
        _listings[tokenId] = Listing({seller: msg.sender, price: price});
        emit Listed(tokenId, msg.sender, price);
    }

    /// @notice Withdraw a listing.
    /// @dev Requirements: caller is the listing's seller or the token's current owner.
    /// Emits a {ListingCancelled} event.
    function cancelListing(uint256 tokenId) external {
        Listing memory listing = _listings[tokenId];
        if (listing.seller == address(0)) revert MarketplaceNotListed(tokenId);
        if (listing.seller != msg.sender && IERC721(address(modelNFT)).ownerOf(tokenId) != msg.sender) {
            revert MarketplaceNotTokenOwner(tokenId, msg.sender);
        }
        delete _listings[tokenId];
        emit ListingCancelled(tokenId, listing.seller);
    }

    /// @notice Buy a listed token. `maxPrice` is the most the buyer accepts, so a price raised in the
    /// same block cannot take more; ETH above the price is credited back to the buyer.
    /// @dev Requirements: not paused; listed; the seller still owns the token; caller is not the
    /// seller; price ≤ `maxPrice`; ETH sent ≥ price; a contract buyer must accept ERC-721 tokens. Emits {Sold} and {RevenueCredited} events.
    function buy(uint256 tokenId, uint256 maxPrice) external payable whenNotPaused nonReentrant {
        Listing memory listing = _listings[tokenId];
        if (listing.seller == address(0)) revert MarketplaceNotListed(tokenId);
        IERC721 nft = IERC721(address(modelNFT));
        address owner = nft.ownerOf(tokenId);
        if (owner != listing.seller) revert MarketplaceStaleListing(tokenId, listing.seller, owner);
        if (msg.sender == listing.seller) revert MarketplaceBuyerIsSeller(tokenId, msg.sender);
        if (listing.price > maxPrice) revert MarketplacePriceAboveLimit(listing.price, maxPrice);
        if (msg.value < listing.price) revert MarketplaceInsufficientPayment(msg.value, listing.price);

        delete _listings[tokenId];
        (address royaltyReceiver, uint256 royalty) = IERC2981(address(modelNFT)).royaltyInfo(tokenId, listing.price);
        if (royalty > listing.price) royalty = listing.price;
        if (royalty != 0) _credit(royaltyReceiver, royalty, CREDIT_ROYALTY);
        _credit(listing.seller, listing.price - royalty, CREDIT_SALE);
        if (msg.value > listing.price) _credit(msg.sender, msg.value - listing.price, CREDIT_REFUND);
        emit Sold(tokenId, listing.seller, msg.sender, listing.price, royaltyReceiver, royalty);

        nft.safeTransferFrom(listing.seller, msg.sender, tokenId);
    }

    // --------------------------------------------------------------- licences

    /// @notice Offer licences to use `tokenId`.
    /// @param price Wei per purchase (one `duration`).
    /// @param duration Seconds each purchase adds.
    /// @param maxSeats Most grants (0 = unlimited).
    /// @param expiresAt Unix time after which the offer cannot be bought (0 = never).
    /// @param termsCID IPFS CID of the licence terms.
    /// @dev Requirements: not paused; caller owns the token; non-zero price; duration in
    /// 1..MAX_LICENSE_DURATION; `expiresAt` 0 or
    /// in the future; terms CID 1..MAX_TERMS_CID_LENGTH bytes. Emits a {LicenseOfferCreated} event.
    /// @return offerId Index of the offer for this token.
    function createLicenseOffer(
        uint256 tokenId,
        uint128 price,
        uint64 duration,
        uint32 maxSeats,
        uint64 expiresAt,
        string calldata termsCID
    ) external whenNotPaused returns (uint32 offerId) {
        if (IERC721(address(modelNFT)).ownerOf(tokenId) != msg.sender) {
            revert MarketplaceNotTokenOwner(tokenId, msg.sender);
        }
        if (price == 0) revert MarketplaceInvalidOffer("price");
        if (duration == 0 || duration > MAX_LICENSE_DURATION) revert MarketplaceInvalidOffer("duration");
        if (expiresAt != 0 && expiresAt <= block.timestamp) revert MarketplaceInvalidOffer("expiresAt");
        uint256 termsLength = bytes(termsCID).length;
        if (termsLength == 0 || termsLength > MAX_TERMS_CID_LENGTH) revert MarketplaceInvalidOffer("termsCID");
        LicenseOffer[] storage offers = _offers[tokenId];
        offerId = uint32(offers.length);
        offers.push(
            LicenseOffer({
                creator: msg.sender,
                duration: duration,
                maxSeats: maxSeats,
                seatsUsed: 0,
                price: price,
                expiresAt: expiresAt,
                active: true,
                termsCID: termsCID
            })
        );
        emit LicenseOfferCreated(tokenId, offerId, msg.sender, price, duration, maxSeats, expiresAt, termsCID);
    }

    /// @notice Pause or resume sales of one licence offer. Existing licences are not affected.
    /// @dev Requirements: caller owns the token; the offer exists. Emits a {LicenseOfferStatusChanged} event.
    function setLicenseOfferActive(uint256 tokenId, uint32 offerId, bool active) external {
        if (IERC721(address(modelNFT)).ownerOf(tokenId) != msg.sender) {
            revert MarketplaceNotTokenOwner(tokenId, msg.sender);
        }
        LicenseOffer storage offer = _offer(tokenId, offerId);
        offer.active = active;
        emit LicenseOfferStatusChanged(tokenId, offerId, active);
    }

    /// @notice Buy (or renew) a licence under an offer. Buying while a licence is still valid extends
    /// it by `duration` from its current expiry (a renewal); otherwise the licence runs from now. A
    /// renewal under the same offer uses no seat.
    /// @param kemKeyDigest sha256 of the buyer's ML-KEM-768 public key, to which the model's content key
    /// will be wrapped; it is carried in the {LicensePurchased} event.
    /// @param maxPrice Most the buyer accepts; ETH above the price is credited back.
    /// @dev Requirements: not paused; the offer exists, is active, has not expired, its creator still
    /// owns the token and a seat is left (new grants); ETH sent ≥ price ≤ `maxPrice`; non-zero key digest.
    /// Emits {LicensePurchased} and {RevenueCredited} (and {ContributorRevenueAdded}) events.
    /// @return licenseId Global id of this purchase, bound into the delivered key.
    function buyLicense(uint256 tokenId, uint32 offerId, bytes32 kemKeyDigest, uint256 maxPrice)
        external
        payable
        whenNotPaused
        nonReentrant
        returns (uint64 licenseId)
    {
        if (kemKeyDigest == bytes32(0)) revert MarketplaceZeroKemKeyDigest();
        LicenseOffer storage offer = _purchasableOffer(tokenId, offerId);
        uint256 price = offer.price;
        if (price > maxPrice) revert MarketplacePriceAboveLimit(price, maxPrice);
        if (msg.value < price) revert MarketplaceInsufficientPayment(msg.value, price);

        License storage lic = _licenses[tokenId][msg.sender];
        bool renewal = lic.expiresAt > block.timestamp;
        if (!renewal || lic.offerId != offerId) {
            if (offer.maxSeats != 0 && offer.seatsUsed >= offer.maxSeats) {
                revert MarketplaceNoSeatsLeft(tokenId, offerId, offer.maxSeats);
            }
            offer.seatsUsed += 1;
        }
        uint64 expiresAt = (renewal ? lic.expiresAt : uint64(block.timestamp)) + offer.duration;
        licenseId = ++_totals.licenseCount;
        lic.expiresAt = expiresAt;
        lic.offerId = offerId;
        lic.licenseId = licenseId;
        lic.keyDelivered = false;

        _shareLicenseRevenue(tokenId, offer.creator, price);
        if (msg.value > price) _credit(msg.sender, msg.value - price, CREDIT_REFUND);
        emit LicensePurchased(licenseId, tokenId, msg.sender, offerId, kemKeyDigest, expiresAt, price, renewal);
    }

    /// @notice Credit the caller's share of the contributor revenue of `tokenId` accrued so far:
    /// `total * weight / WEIGHT_TOTAL - already claimed`, using its weight in the model's final round.
    /// @param contributors The final round's contributors, as emitted in the registry's {RoundFinalized}.
    /// @param weights The final round's weights, as emitted in {RoundFinalized}.
    /// @dev Requirements: the lists match the registry's record; the caller contributed to the model's
    /// final round and has something new to claim. Emits {ContributorRevenueClaimed} and
    /// {RevenueCredited} events.
    function claimContributorRevenue(uint256 tokenId, address[] calldata contributors, uint64[] calldata weights)
        external
        returns (uint256 amount)
    {
        (uint64 federationId, uint32 round) = modelNFT.federationOf(tokenId);
        uint64 weight = federationId == 0
            ? 0
            : federationRegistry.contributionWeight(federationId, round, msg.sender, contributors, weights);
        uint256 entitled = (_contributorRevenue[tokenId] * weight) / WEIGHT_TOTAL;
        uint256 claimed = _contributorClaimed[tokenId][msg.sender];
        if (entitled <= claimed) revert MarketplaceNothingToClaim(tokenId, msg.sender);
        amount = entitled - claimed;
        _contributorClaimed[tokenId][msg.sender] = entitled;
        _totals.contributorUnclaimed -= uint96(amount);
        _credit(msg.sender, amount, CREDIT_CONTRIBUTOR);
        emit ContributorRevenueClaimed(tokenId, msg.sender, amount);
    }

    // ----------------------------------------------------------- key delivery

    /// @notice Record where licensee `licensee` finds the model's content key for licence `licenseId`:
    /// the IPFS CID of a signed record wrapping the key to the ML-KEM key given in {buyLicense}.
    /// @dev Called by the token owner's key service, once per licence purchase. The licence must be the
    /// licensee's current one on the token and unexpired: expiry stops new deliveries. A delivered key
    /// cannot be taken back; integrators must still check {hasValidLicense}.
    /// Requirements: caller owns `tokenId`; licence current and valid; no key delivered for it yet;
    /// `wrappedKeyCID` non-empty and at most `MAX_TERMS_CID_LENGTH` bytes. Emits {KeyDelivered}.
    /// @param tokenId The licensed model.
    /// @param licensee The licence holder.
    /// @param licenseId The licence purchase the key was wrapped for (bound into the wrapped key).
    /// @param wrappedKeyCID CID of the signed wrapped-key record on IPFS.
    function deliverKey(uint256 tokenId, address licensee, uint64 licenseId, string calldata wrappedKeyCID)
        external
        whenNotPaused
    {
        if (IERC721(address(modelNFT)).ownerOf(tokenId) != msg.sender) {
            revert MarketplaceNotTokenOwner(tokenId, msg.sender);
        }
        uint256 length = bytes(wrappedKeyCID).length;
        if (length == 0 || length > MAX_TERMS_CID_LENGTH) revert MarketplaceInvalidCid();
        License storage lic = _licenses[tokenId][licensee];
        if (lic.licenseId != licenseId || lic.expiresAt <= block.timestamp) {
            revert MarketplaceNoSuchLicense(tokenId, licensee, licenseId);
        }
        if (lic.keyDelivered) revert MarketplaceKeyAlreadyDelivered(tokenId, licensee, licenseId);
        lic.keyDelivered = true;
        emit KeyDelivered(licenseId, tokenId, licensee, wrappedKeyCID);
    }

    // ------------------------------------------------------------ withdrawals

    /// @notice Send the caller `amount` of its credited ETH.
    /// @dev Requirements: 0 < `amount` ≤ credit; the receiver accepts ETH. Emits a {Withdrawal} event.
    function withdraw(uint256 amount) external nonReentrant {
        uint256 available = _credits[msg.sender];
        if (amount == 0 || amount > available) revert MarketplaceInsufficientCredit(msg.sender, amount, available);
        _credits[msg.sender] = available - amount;
        _totals.credits -= uint96(amount);
        emit Withdrawal(msg.sender, amount);
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert MarketplaceTransferFailed(msg.sender, amount);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IModelMarketplace
    function hasValidLicense(uint256 tokenId, address account) external view returns (bool) {
        return _licenses[tokenId][account].expiresAt > block.timestamp;
    }

    function licenseOf(uint256 tokenId, address account) external view returns (License memory) {
        return _licenses[tokenId][account];
    }

    function listingOf(uint256 tokenId) external view returns (Listing memory) {
        return _listings[tokenId];
    }

    function offerCount(uint256 tokenId) external view returns (uint256) {
        return _offers[tokenId].length;
    }

    function getOffer(uint256 tokenId, uint32 offerId) external view returns (LicenseOffer memory) {
        return _offer(tokenId, offerId);
    }

    function licenseCount() external view returns (uint64) {
        return _totals.licenseCount;
    }

    function creditOf(address account) external view returns (uint256) {
        return _credits[account];
    }

    /// @notice Contributor revenue accrued for `tokenId` (all time) and what `contributor` claimed of it.
    function contributorRevenue(uint256 tokenId, address contributor)
        external
        view
        returns (uint256 total, uint256 claimed)
    {
        return (_contributorRevenue[tokenId], _contributorClaimed[tokenId][contributor]);
    }

    /// @notice Everything the contract owes: its ETH balance equals the sum.
    function totals() external view returns (uint256 credits, uint256 contributorUnclaimed) {
        return (_totals.credits, _totals.contributorUnclaimed);
    }

    // --------------------------------------------------------------- internal

    function _offer(uint256 tokenId, uint32 offerId) private view returns (LicenseOffer storage) {
        LicenseOffer[] storage offers = _offers[tokenId];
        if (offerId >= offers.length) revert MarketplaceUnknownOffer(tokenId, offerId);
        return offers[offerId];
    }

    /// @dev The offer, if it can be bought now.
    function _purchasableOffer(uint256 tokenId, uint32 offerId) private view returns (LicenseOffer storage offer) {
        offer = _offer(tokenId, offerId);
        if (!offer.active) revert MarketplaceOfferInactive(tokenId, offerId);
        if (offer.expiresAt != 0 && block.timestamp > offer.expiresAt) {
            revert MarketplaceOfferExpired(tokenId, offerId, offer.expiresAt);
        }
        address owner = IERC721(address(modelNFT)).ownerOf(tokenId);
        if (owner != offer.creator) revert MarketplaceStaleOffer(tokenId, offerId, offer.creator, owner);
    }

    /// @dev Splits a licence payment between the token's contributors (if any) and the offer's creator.
    function _shareLicenseRevenue(uint256 tokenId, address creator, uint256 price) private {
        uint256 contributorShare = _contributorShare(tokenId, price);
        if (contributorShare != 0) {
            uint256 total = _contributorRevenue[tokenId] + contributorShare;
            _contributorRevenue[tokenId] = total;
            _totals.contributorUnclaimed += uint96(contributorShare);
            emit ContributorRevenueAdded(tokenId, contributorShare, total);
        }
        _credit(creator, price - contributorShare, CREDIT_LICENSE);
    }

    function _contributorShare(uint256 tokenId, uint256 price) private view returns (uint256) {
        // slither-disable-next-line unused-return (only the federation id is needed, not the round)
        (uint64 federationId,) = modelNFT.federationOf(tokenId);
        if (federationId == 0) return 0;
        return (price * federationRegistry.revenueShareBps(federationId)) / BPS;
    }

    function _credit(address account, uint256 amount, uint8 reason) private {
        if (amount == 0) return;
        _credits[account] += amount;
        _totals.credits += uint96(amount);
        emit RevenueCredited(account, amount, reason);
    }
}
