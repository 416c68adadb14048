// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ModelMarketplace} from "../../../contracts/ModelMarketplace.sol";
import {ModelNFT} from "../../../contracts/ModelNFT.sol";
import {IModelMarketplace} from "../../../contracts/interfaces/IModelMarketplace.sol";
import {IModelNFT} from "../../../contracts/interfaces/IModelNFT.sol";
import {Actors, Fmt} from "../utils/Cheats.sol";
import {FederationHandler} from "./FederationHandler.sol";
import {HandlerBase, IPullPayments} from "./HandlerBase.sol";

/// @notice Drives ModelMarketplace: list, cancel, buy, create and pause licence offers, buy and renew
/// licences, deliver keys, claim contributor revenue, move tokens outside the market, withdraw, and let
/// time pass. Two direct models (one with a 10 % royalty) are minted at the start; federation models
/// appear as FederationHandler.mintModel mints them.
contract MarketHandler is HandlerBase {
    uint96 public constant DIRECT_ROYALTY_BPS = 1_000;
    uint256 public constant MAX_OFFERS_PER_TOKEN = 10;

    struct TokenModel {
        address owner;
        bool fromFederation;
        uint32 round;
        address royaltyReceiver;
        uint96 royaltyBps;
        address listedBy;
        uint128 listPrice;
        uint256 contributorTotal;
    }

    struct OfferModel {
        address creator;
        uint64 duration;
        uint32 maxSeats;
        uint32 seatsUsed;
        uint128 price;
        uint64 expiresAt;
        bool active;
    }

    struct LicenceModel {
        uint64 expiresAt;
        uint32 offerId;
        uint64 licenseId;
        bool keyDelivered;
    }

    /// @dev One licence purchase being modelled (keeps buyLicense under the stack limit).
    struct Purchase {
        uint256 tokenId;
        uint32 offerId;
        address buyer;
        uint256 price;
        uint256 value;
        uint256 maxPrice;
        bool renewal;
        bool takesSeat;
        bool expected;
    }

    ModelMarketplace public immutable market;
    ModelNFT public immutable nft;
    FederationHandler public immutable federation;

    uint256 public tokenCount;
    mapping(uint256 tokenId => TokenModel) internal _tokens;
    mapping(uint256 tokenId => OfferModel[]) internal _offers;
    mapping(uint256 tokenId => mapping(address account => LicenceModel)) internal _licences;
    mapping(uint256 tokenId => mapping(address contributor => uint256)) internal _contributorClaimed;
    uint64 public licenseCount;
    uint256 public contributorUnclaimed;

    /// @dev Observed, not predicted: the highest expiry seen per licence, whether any purchase moved
    /// an expiry back, and seats taken per offer (purchases that were not a same-offer renewal).
    mapping(uint256 tokenId => mapping(address account => uint64)) public lastSeenExpiry;
    bool public expiryWentBack;
    string public expiryNote;
    mapping(uint256 tokenId => mapping(uint32 offerId => uint256)) public seatsTaken;

    /// @dev What the last action touched; checked after it, with one more token / account in rotation.
    uint256 public touchedToken;
    address public touchedAccount;
    uint32 public touchedOffer;

    constructor(ModelMarketplace market_, ModelNFT nft_, FederationHandler federation_) {
        market = market_;
        nft = nft_;
        federation = federation_;
        for (uint256 i; i < Actors.ALL; ++i) {
            vm.prank(Actors.at(i));
            nft_.setApprovalForAll(address(market_), true);
        }
        _mintDirect(Actors.user(0), DIRECT_ROYALTY_BPS);
        _mintDirect(Actors.user(1), 0);
    }

    /// @notice The actions the fuzzer calls, an action listed k times being called k times as often.
    function actions() external pure returns (bytes4[] memory out) {
        bytes4[11] memory selectors = [
            this.list.selector,
            this.cancelListing.selector,
            this.buy.selector,
            this.transfer.selector,
            this.createOffer.selector,
            this.setOfferActive.selector,
            this.buyLicense.selector,
            this.deliverKey.selector,
            this.claimContributorRevenue.selector,
            this.withdraw.selector,
            this.passTime.selector
        ];
        uint8[11] memory weights = [2, 1, 2, 1, 2, 1, 4, 2, 2, 2, 2];
        out = new bytes4[](21);
        uint256 n;
        for (uint256 i; i < 11; ++i) {
            for (uint256 k; k < weights[i]; ++k) {
                out[n++] = selectors[i];
            }
        }
    }

    function _actionNames() internal pure override returns (string[] memory n) {
        n = new string[](10);
        (n[0], n[1], n[2], n[3], n[4]) = ("list", "cancelListing", "buy", "nft.transferFrom", "createLicenseOffer");
        (n[5], n[6], n[7]) = ("setLicenseOfferActive", "buyLicense", "deliverKey");
        (n[8], n[9]) = ("claimContributorRevenue", "market.withdraw");
    }

    // ------------------------------------------------------------------- sales

    /// @dev The owner lists (price 0 in ~1/20 calls, which must revert); one call in nine comes from
    /// someone else (must revert).
    function list(uint256 tokenSeed, uint256 priceSeed, uint256 callerSeed) external act {
        (uint256 id, TokenModel storage t) = _pickToken(tokenSeed);
        uint128 price = uint128(priceSeed % 2 ether) / 0.1 ether == 0 ? 0 : uint128(priceSeed % 2 ether);
        address caller = callerSeed % 9 == 0 ? Actors.holder(callerSeed / 9) : t.owner;
        touchedAccount = caller;
        bool expected = caller == t.owner && price != 0;
        bool ok;
        bytes memory err;
        vm.prank(caller);
        try market.list(id, price) {
            ok = true;
        } catch (bytes memory e) {
            err = e;
        }
        if (_expect("list", expected, ok, err)) {
            t.listedBy = caller;
            t.listPrice = price;
        }
    }

    function cancelListing(uint256 tokenSeed) external act {
        (uint256 id, TokenModel storage t) = _pickTokenWhere(tokenSeed, TokenFilter.Listed);
        bool expected = t.listedBy != address(0);
        bool ok;
        bytes memory err;
        vm.prank(t.owner);
        try market.cancelListing(id) {
            ok = true;
        } catch (bytes memory e) {
            err = e;
        }
        if (_expect("cancelListing", expected, ok, err)) {
            t.listedBy = address(0);
            t.listPrice = 0;
        }
    }

    /// @dev `paySeed` picks exact payment, an excess (refunded), a limit below the price or an
    /// underpayment (both must revert).
    function buy(uint256 tokenSeed, uint256 buyerSeed, uint256 paySeed) external act {
        (uint256 id, TokenModel storage t) = _pickTokenWhere(tokenSeed, TokenFilter.ForSale);
        address buyer = Actors.holder(buyerSeed);
        if (buyer == t.listedBy && buyerSeed % 8 != 0) buyer = Actors.holder(buyerSeed % 10 + 1);
        touchedAccount = buyer;
        uint256 price = t.listPrice;
        uint256 mode = paySeed % 10;
        uint256 maxPrice = (mode == 0 && price != 0) ? price - 1 : price;
        uint256 value = (mode == 1 && price != 0) ? price - 1 : price + (mode < 6 ? 0 : (paySeed >> 8) % 1 ether);
        address seller = t.listedBy;
        bool expected =
            seller != address(0) && t.owner == seller && buyer != seller && maxPrice >= price && value >= price;
        vm.deal(buyer, buyer.balance + value);
        bool ok;
        bytes memory err;
        vm.prank(buyer);
        try market.buy{value: value}(id, maxPrice) {
            ok = true;
        } catch (bytes memory e) {
            err = e;
        }
        if (_expect("buy", expected, ok, err)) {
            uint256 royalty = (price * t.royaltyBps) / 10_000;
            if (royalty != 0) _credit(t.royaltyReceiver, royalty);
            _credit(seller, price - royalty);
            if (value > price) _credit(buyer, value - price);
            t.owner = buyer;
            t.listedBy = address(0);
            t.listPrice = 0;
        }
    }

    /// @dev Moves a token outside the market, so listings and offers by the previous owner go stale.
    function transfer(uint256 tokenSeed, uint256 toSeed) external act {
        (uint256 id, TokenModel storage t) = _pickToken(tokenSeed);
        address from = t.owner;
        address to = Actors.holder(toSeed);
        if (to == from) to = Actors.holder(toSeed % 10 + 1);
        touchedAccount = to;
        bool ok;
        bytes memory err;
        vm.prank(from);
        try nft.transferFrom(from, to, id) {
            ok = true;
        } catch (bytes memory e) {
            err = e;
        }
        if (_expect("nft.transferFrom", true, ok, err)) t.owner = to;
    }

    // ----------------------------------------------------------------- licences

    /// @dev Offers of 1, 7 or 30 days, 0..3 seats (0 = unlimited), a third of them expiring.
    function createOffer(uint256 tokenSeed, uint256 termsSeed, uint256 callerSeed) external act {
        (uint256 id, TokenModel storage t) = _pickTokenWhere(tokenSeed, TokenFilter.NoLiveOffer);
        if (_offers[id].length >= MAX_OFFERS_PER_TOKEN) return;
        OfferModel memory o;
        o.creator = callerSeed % 9 == 0 ? Actors.holder(callerSeed / 9) : t.owner;
        o.price = uint128(1 + termsSeed % 0.5 ether);
        uint256 pick = (termsSeed >> 64) % 3;
        o.duration = pick == 0 ? 1 days : (pick == 1 ? 7 days : 30 days);
        o.maxSeats = uint32((termsSeed >> 72) % 4);
        o.expiresAt = (termsSeed >> 80) % 3 == 0 ? uint64(block.timestamp + 1 + (termsSeed >> 88) % 20 days) : 0;
        o.active = true;
        bool expected = o.creator == t.owner;
        bool ok;
        bytes memory err;
        uint32 offerId;
        vm.prank(o.creator);
        try market.createLicenseOffer(id, o.price, o.duration, o.maxSeats, o.expiresAt, "bafy-terms") returns (
            uint32 oid
        ) {
            ok = true;
            offerId = oid;
        } catch (bytes memory e) {
            err = e;
        }
        touchedOffer = uint32(_offers[id].length);
        if (_expect("createLicenseOffer", expected, ok, err)) {
            if (offerId != _offers[id].length) _mismatch("createLicenseOffer returned the wrong offer id");
            _offers[id].push(o);
        }
    }

    function setOfferActive(uint256 tokenSeed, uint256 offerSeed, bool active) external act {
        (uint256 id, TokenModel storage t) = _pickTokenWhere(tokenSeed, TokenFilter.HasOffers);
        uint256 n = _offers[id].length;
        uint32 offerId = uint32(offerSeed % (n + 1));
        touchedOffer = offerId;
        bool ok;
        bytes memory err;
        vm.prank(t.owner);
        try market.setLicenseOfferActive(id, offerId, active) {
            ok = true;
        } catch (bytes memory e) {
            err = e;
        }
        if (_expect("setLicenseOfferActive", offerId < n, ok, err)) _offers[id][offerId].active = active;
    }

    /// @dev Buy or renew a licence; `paySeed` as in {buy}. Offer ids run one past the last (unknown).
    function buyLicense(uint256 tokenSeed, uint256 offerSeed, uint256 buyerSeed, uint256 paySeed) external act {
        Purchase memory p = _purchase(tokenSeed, offerSeed, buyerSeed, paySeed);
        (touchedAccount, touchedOffer) = (p.buyer, p.offerId);
        IModelMarketplace.License memory before = market.licenseOf(p.tokenId, p.buyer);
        bool ok;
        bytes memory err;
        uint64 licenseId;
        vm.deal(p.buyer, p.buyer.balance + p.value);
        vm.prank(p.buyer);
        try market.buyLicense{value: p.value}(
            p.tokenId, p.offerId, keccak256(abi.encode("ml-kem key", p.buyer)), p.maxPrice
        ) returns (
            uint64 lid
        ) {
            ok = true;
            licenseId = lid;
        } catch (bytes memory e) {
            err = e;
        }
        if (ok) _observeLicence(p, before);
        if (_expect("buyLicense", p.expected, ok, err)) _applyPurchase(p, licenseId);
    }

    /// @dev The owner records a delivered key for a licensee's current licence; one call in six names
    /// a licence id that is not the current one, one in six comes from another account (both revert
    /// unless they happen to be right).
    function deliverKey(uint256 tokenSeed, uint256 licenseeSeed, uint256 probeSeed) external act {
        (uint256 id, address licensee) = _pickLicence(tokenSeed, licenseeSeed);
        TokenModel storage t = _tokens[id];
        touchedAccount = licensee;
        LicenceModel storage l = _licences[id][licensee];
        uint64 licenseId = probeSeed % 6 == 0 ? l.licenseId + 1 : l.licenseId;
        address caller = probeSeed % 6 == 1 ? Actors.holder(probeSeed / 6) : t.owner;
        bool expected =
            caller == t.owner && licenseId == l.licenseId && l.expiresAt > block.timestamp && !l.keyDelivered;
        bool ok;
        bytes memory err;
        vm.prank(caller);
        try market.deliverKey(id, licensee, licenseId, "bafy-wrapped-key") {
            ok = true;
        } catch (bytes memory e) {
            err = e;
        }
        if (_expect("deliverKey", expected, ok, err)) l.keyDelivered = true;
    }

    /// @dev A node claims its share of a token's contributor revenue (nothing for direct models).
    function claimContributorRevenue(uint256 tokenSeed, uint256 nodeSeed) external act {
        (uint256 id, address node) = _pickClaim(tokenSeed, nodeSeed);
        TokenModel storage t = _tokens[id];
        touchedAccount = node;
        (address[] memory who, uint64[] memory w) = federation.roundLists(t.round);
        uint256 weight = t.fromFederation ? _weightIn(who, w, node) : 0;
        uint256 entitled = (t.contributorTotal * weight) / WEIGHT_TOTAL;
        uint256 claimed = _contributorClaimed[id][node];
        bool ok;
        bytes memory err;
        uint256 paid;
        vm.prank(node);
        try market.claimContributorRevenue(id, who, w) returns (uint256 amount) {
            ok = true;
            paid = amount;
        } catch (bytes memory e) {
            err = e;
        }
        if (_expect("claimContributorRevenue", entitled > claimed, ok, err)) {
            if (paid != entitled - claimed) {
                _mismatch(
                    string.concat("claimContributorRevenue paid ", Fmt.u(paid), ", spec ", Fmt.u(entitled - claimed))
                );
            }
            _contributorClaimed[id][node] = entitled;
            contributorUnclaimed -= entitled - claimed;
            _credit(node, entitled - claimed);
        }
    }

    function withdraw(uint256 actorSeed, uint256 amountSeed) external act {
        _withdraw("market.withdraw", IPullPayments(address(market)), actorSeed, amountSeed);
    }

    /// @dev Let up to three days (and one block) pass, so licences and offers expire.
    function passTime(uint256 secondsSeed) external act {
        vm.warp(block.timestamp + 1 + (secondsSeed % 3 days));
        vm.roll(block.number + 1);
    }

    // ---------------------------------------------------------------- helpers

    function _mintDirect(address to, uint96 royaltyBps) internal {
        IModelNFT.MintParams memory params = IModelNFT.MintParams({
            manifestCID: "bafy-direct-model",
            weightsDigest: keccak256(abi.encode("direct weights", to)),
            signerKeyDigest: keccak256("publisher ml-dsa key"),
            federationId: 0,
            round: 0,
            parentTokenId: 0,
            royaltyReceiver: royaltyBps == 0 ? address(0) : Actors.publisher(),
            royaltyBps: royaltyBps
        });
        vm.prank(Actors.publisher());
        uint256 id = nft.mint(to, params);
        tokenCount = id;
        TokenModel storage t = _tokens[id];
        t.owner = to;
        t.royaltyBps = royaltyBps;
        t.royaltyReceiver = royaltyBps == 0 ? address(0) : Actors.publisher();
    }

    /// @dev Takes in federation models minted since the last action.
    function _sync() internal {
        uint256 total = nft.totalMinted();
        while (tokenCount < total) {
            uint256 id = ++tokenCount;
            TokenModel storage t = _tokens[id];
            t.owner = federation.mintedTo(id);
            t.fromFederation = true;
            t.round = federation.mintedRound(id);
            t.royaltyBps = federation.mintedRoyaltyBps(id);
            t.royaltyReceiver = t.royaltyBps == 0 ? address(0) : Actors.coordinator();
        }
    }

    function _pickToken(uint256 seed) internal returns (uint256 id, TokenModel storage t) {
        _sync();
        id = 1 + seed % tokenCount;
        t = _tokens[id];
        touchedToken = id;
    }

    enum TokenFilter {
        ForSale,
        Listed,
        HasOffers,
        LiveOffer,
        NoLiveOffer
    }

    /// @dev Seven picks in eight are a token the action can apply to (by the model), when there is
    /// one; the eighth is any token, so the action is also tried where it must revert.
    function _pickTokenWhere(uint256 seed, TokenFilter filter) internal returns (uint256 id, TokenModel storage t) {
        (id, t) = _pickToken(seed);
        if (seed % 8 == 0) return (id, t);
        for (uint256 k; k < tokenCount; ++k) {
            uint256 candidate = 1 + (seed / 8 + k) % tokenCount;
            TokenModel storage c = _tokens[candidate];
            if (_tokenFits(candidate, c, filter)) {
                touchedToken = candidate;
                return (candidate, c);
            }
        }
    }

    function _tokenFits(uint256 id, TokenModel storage t, TokenFilter filter) internal view returns (bool) {
        if (filter == TokenFilter.ForSale) return t.listedBy != address(0) && t.listedBy == t.owner;
        if (filter == TokenFilter.Listed) return t.listedBy != address(0);
        uint256 n = _offers[id].length;
        if (filter == TokenFilter.HasOffers) return n != 0;
        bool live;
        for (uint32 o; o < n && !live; ++o) {
            live = _purchasable(id, o);
        }
        return filter == TokenFilter.LiveOffer ? live : !live && n < MAX_OFFERS_PER_TOKEN;
    }

    function _purchasable(uint256 id, uint32 offerId) internal view returns (bool) {
        if (offerId >= _offers[id].length) return false;
        OfferModel storage o = _offers[id][offerId];
        return o.active && (o.expiresAt == 0 || block.timestamp <= o.expiresAt) && o.creator == _tokens[id].owner
            && (o.maxSeats == 0 || o.seatsUsed < o.maxSeats);
    }

    /// @dev A (token, licensee) pair with a valid licence whose key is not delivered, seven times in eight.
    function _pickLicence(uint256 tokenSeed, uint256 licenseeSeed) internal returns (uint256, address) {
        (uint256 id,) = _pickToken(tokenSeed);
        address licensee = Actors.holder(licenseeSeed);
        if (tokenSeed % 8 == 0) return (id, licensee);
        for (uint256 k; k < tokenCount; ++k) {
            uint256 candidate = 1 + (tokenSeed / 8 + k) % tokenCount;
            for (uint256 j; j < Actors.NODES + Actors.USERS; ++j) {
                address a = Actors.holder(licenseeSeed % 10 + j);
                LicenceModel storage l = _licences[candidate][a];
                if (l.expiresAt > block.timestamp && !l.keyDelivered) {
                    touchedToken = candidate;
                    return (candidate, a);
                }
            }
        }
        return (id, licensee);
    }

    /// @dev A (federation token, contributor) pair with revenue to claim, seven times in eight.
    function _pickClaim(uint256 tokenSeed, uint256 nodeSeed) internal returns (uint256, address) {
        (uint256 id,) = _pickToken(tokenSeed);
        address node = Actors.node(nodeSeed);
        if (tokenSeed % 8 == 0) return (id, node);
        for (uint256 k; k < tokenCount; ++k) {
            uint256 candidate = 1 + (tokenSeed / 8 + k) % tokenCount;
            TokenModel storage t = _tokens[candidate];
            if (!t.fromFederation || t.contributorTotal == 0) continue;
            (address[] memory who, uint64[] memory w) = federation.roundLists(t.round);
            for (uint256 j; j < who.length; ++j) {
                if ((t.contributorTotal * w[j]) / WEIGHT_TOTAL > _contributorClaimed[candidate][who[j]]) {
                    touchedToken = candidate;
                    return (candidate, who[j]);
                }
            }
        }
        return (id, node);
    }

    function _purchase(uint256 tokenSeed, uint256 offerSeed, uint256 buyerSeed, uint256 paySeed)
        internal
        returns (Purchase memory p)
    {
        (uint256 id, TokenModel storage t) = _pickTokenWhere(tokenSeed, TokenFilter.LiveOffer);
        p.tokenId = id;
        p.buyer = Actors.holder(buyerSeed);
        uint256 n = _offers[id].length;
        p.offerId = uint32(offerSeed % (n + 1));
        for (uint256 k; k < n && offerSeed % 8 != 0 && !_purchasable(id, p.offerId); ++k) {
            p.offerId = uint32((offerSeed % n + k + 1) % n);
        }
        LicenceModel storage l = _licences[id][p.buyer];
        p.renewal = l.expiresAt > block.timestamp;
        p.takesSeat = !(p.renewal && l.offerId == p.offerId);
        bool offerOk;
        if (p.offerId < n) {
            OfferModel storage o = _offers[id][p.offerId];
            p.price = o.price;
            offerOk = o.active && (o.expiresAt == 0 || block.timestamp <= o.expiresAt) && t.owner == o.creator
                && (!p.takesSeat || o.maxSeats == 0 || o.seatsUsed < o.maxSeats);
        }
        uint256 mode = paySeed % 10;
        p.maxPrice = (mode == 0 && p.price != 0) ? p.price - 1 : p.price;
        p.value = (mode == 1 && p.price != 0) ? p.price - 1 : p.price + (mode < 6 ? 0 : (paySeed >> 8) % 0.1 ether);
        p.expected = offerOk && p.maxPrice >= p.price && p.value >= p.price;
    }

    /// @dev What the purchase did on chain, whatever the model expected.
    function _observeLicence(Purchase memory p, IModelMarketplace.License memory before) internal {
        uint64 seen = lastSeenExpiry[p.tokenId][p.buyer];
        uint64 nowExpiry = market.licenseOf(p.tokenId, p.buyer).expiresAt;
        if (nowExpiry < seen && !expiryWentBack) {
            expiryWentBack = true;
            expiryNote = string.concat(
                "licence of ",
                Actors.name(p.buyer),
                " on token ",
                Fmt.u(p.tokenId),
                " went from ",
                Fmt.u(seen),
                " to ",
                Fmt.u(nowExpiry)
            );
        }
        if (nowExpiry > seen) lastSeenExpiry[p.tokenId][p.buyer] = nowExpiry;
        bool sameOfferRenewal = before.expiresAt > block.timestamp && before.offerId == p.offerId;
        if (!sameOfferRenewal) seatsTaken[p.tokenId][p.offerId] += 1;
    }

    function _applyPurchase(Purchase memory p, uint64 licenseId) internal {
        TokenModel storage t = _tokens[p.tokenId];
        OfferModel storage o = _offers[p.tokenId][p.offerId];
        LicenceModel storage l = _licences[p.tokenId][p.buyer];
        if (p.takesSeat) o.seatsUsed += 1;
        licenseCount += 1;
        if (licenseId != licenseCount) _mismatch("buyLicense returned the wrong licence id");
        l.expiresAt = (p.renewal ? l.expiresAt : uint64(block.timestamp)) + o.duration;
        l.offerId = p.offerId;
        l.licenseId = licenseCount;
        l.keyDelivered = false;
        uint256 share = t.fromFederation ? (p.price * federation.REVENUE_SHARE_BPS()) / 10_000 : 0;
        t.contributorTotal += share;
        contributorUnclaimed += share;
        _credit(o.creator, p.price - share);
        if (p.value > p.price) _credit(p.buyer, p.value - p.price);
    }

    function _weightIn(address[] memory who, uint64[] memory w, address node) internal pure returns (uint64) {
        for (uint256 i; i < who.length; ++i) {
            if (who[i] == node) return w[i];
        }
        return 0;
    }

    // ------------------------------------------------------------- invariants
    // The invariant function calls the check* views after every action. Comparisons of single tokens,
    // offers and licences with the model run right after each action instead (_afterAction), on what
    // the action touched plus one token, offer and account in rotation (`steps`), reported by `found`.

    function _afterAction() internal override {
        uint256[2] memory ids = [touchedToken, tokenCount == 0 ? 0 : 1 + steps % tokenCount];
        address[2] memory accounts = [touchedAccount, Actors.holder(steps)];
        for (uint256 k; k < 2; ++k) {
            uint256 id = ids[k];
            if (id == 0) continue;
            uint256 n = _offers[id].length;
            uint32[2] memory offerIds = [touchedOffer, n == 0 ? 0 : uint32(steps % n)];
            for (uint256 j; j < 2; ++j) {
                if (offerIds[j] < n) {
                    _found(7, _checkSeats(id, offerIds[j]));
                    _found(11, _checkOffer(id, offerIds[j]));
                }
                if (accounts[j] != address(0)) {
                    _found(6, _checkExpiry(id, accounts[j]));
                    _found(11, _checkLicence(id, accounts[j]));
                }
            }
            _found(11, _checkToken(id));
        }
    }

    /// @notice Marketplace ETH balance = credits + unclaimed contributor revenue (its `totals()`).
    function checkBalance() external view returns (string memory) {
        (uint256 c, uint256 u) = market.totals();
        uint256 balance = address(market).balance;
        if (balance == c + u) return "";
        return string.concat(
            "balance ", Fmt.u(balance), " != credits ", Fmt.u(c), " + unclaimed contributor revenue ", Fmt.u(u)
        );
    }

    function checkLedger() external view returns (string memory) {
        return _checkLedger("marketplace", IPullPayments(address(market)));
    }

    /// @notice No purchase moved a licence's expiry back, and no licence compared after an action was
    /// below the highest expiry seen for it.
    function checkExpiryMonotonic() external view returns (string memory) {
        if (expiryWentBack) return expiryNote;
        return found[6];
    }

    /// @notice Seats taken under an offer never exceed its limit, and its counter says how many.
    function checkSeats() external view returns (string memory) {
        return found[7];
    }

    /// @notice Each of `totals()` equals the sum of what it aggregates: account credits, and revenue
    /// accrued to federation models minus what their contributors claimed.
    function checkAggregates() external view returns (string memory) {
        (uint256 c, uint256 u) = market.totals();
        uint256 credits;
        for (uint256 i; i < Actors.ALL; ++i) {
            credits += market.creditOf(Actors.at(i));
        }
        if (c != credits) return string.concat("total credits ", Fmt.u(c), " != sum of credits ", Fmt.u(credits));
        uint256 unclaimed;
        for (uint256 id = 1; id <= tokenCount; ++id) {
            if (!_tokens[id].fromFederation) continue;
            (address[] memory who,) = federation.roundLists(_tokens[id].round);
            (uint256 total,) = market.contributorRevenue(id, address(0));
            uint256 claimedSum;
            for (uint256 i; i < who.length; ++i) {
                (, uint256 claimed) = market.contributorRevenue(id, who[i]);
                claimedSum += claimed;
            }
            if (claimedSum > total) {
                return
                    string.concat(
                        "token ", Fmt.u(id), ": contributors claimed ", Fmt.u(claimedSum), " of ", Fmt.u(total)
                    );
            }
            unclaimed += total - claimedSum;
        }
        if (u != unclaimed) {
            return string.concat("total unclaimed ", Fmt.u(u), " != accrued minus claimed ", Fmt.u(unclaimed));
        }
        return "";
    }

    /// @notice The licence count and unclaimed revenue equal the reference model, and so did every
    /// token, offer and licence compared after an action.
    function checkModel() external view returns (string memory) {
        if (market.licenseCount() != licenseCount) return "licenseCount differs from the model";
        (, uint256 u) = market.totals();
        if (u != contributorUnclaimed) {
            return string.concat("unclaimed contributor revenue ", Fmt.u(u), " != model ", Fmt.u(contributorUnclaimed));
        }
        return found[11];
    }

    function _checkExpiry(uint256 id, address a) internal view returns (string memory) {
        uint64 expiry = market.licenseOf(id, a).expiresAt;
        if (expiry >= lastSeenExpiry[id][a]) return "";
        return string.concat("licence of ", Actors.name(a), " on token ", Fmt.u(id), " moved back to ", Fmt.u(expiry));
    }

    function _checkSeats(uint256 id, uint32 o) internal view returns (string memory) {
        IModelMarketplace.LicenseOffer memory got = market.getOffer(id, o);
        uint256 taken = seatsTaken[id][o];
        if (got.maxSeats != 0 && taken > got.maxSeats) {
            return string.concat(
                "token ", Fmt.u(id), " offer ", Fmt.u(o), ": ", Fmt.u(taken), " seats taken of ", Fmt.u(got.maxSeats)
            );
        }
        if (got.seatsUsed != taken) {
            return string.concat(
                "token ", Fmt.u(id), " offer ", Fmt.u(o), ": seatsUsed ", Fmt.u(got.seatsUsed), ", taken ", Fmt.u(taken)
            );
        }
        return "";
    }

    function _checkOffer(uint256 id, uint32 o) internal view returns (string memory) {
        IModelMarketplace.LicenseOffer memory got = market.getOffer(id, o);
        OfferModel storage m = _offers[id][o];
        if (
            got.creator != m.creator || got.price != m.price || got.duration != m.duration || got.maxSeats != m.maxSeats
                || got.seatsUsed != m.seatsUsed || got.expiresAt != m.expiresAt || got.active != m.active
        ) {
            return string.concat("token ", Fmt.u(id), " offer ", Fmt.u(o), " differs from the model");
        }
        return "";
    }

    function _checkLicence(uint256 id, address a) internal view returns (string memory) {
        IModelMarketplace.License memory got = market.licenseOf(id, a);
        LicenceModel storage m = _licences[id][a];
        if (
            got.expiresAt != m.expiresAt || got.offerId != m.offerId || got.licenseId != m.licenseId
                || got.keyDelivered != m.keyDelivered
        ) {
            return string.concat(
                "licence of ",
                Actors.name(a),
                " on token ",
                Fmt.u(id),
                ": expires ",
                Fmt.u(got.expiresAt),
                " (model ",
                Fmt.u(m.expiresAt),
                "), licence id ",
                Fmt.u(got.licenseId),
                " (model ",
                Fmt.u(m.licenseId),
                ")"
            );
        }
        if (market.hasValidLicense(id, a) != (m.expiresAt > block.timestamp)) {
            return
                string.concat("hasValidLicense of ", Actors.name(a), " on token ", Fmt.u(id), " differs from the model");
        }
        (, uint256 claimed) = market.contributorRevenue(id, a);
        if (claimed != _contributorClaimed[id][a]) {
            return
                string.concat("token ", Fmt.u(id), ": revenue claimed by ", Actors.name(a), " differs from the model");
        }
        return "";
    }

    function _checkToken(uint256 id) internal view returns (string memory) {
        TokenModel storage t = _tokens[id];
        if (nft.ownerOf(id) != t.owner) return string.concat("token ", Fmt.u(id), ": owner differs from the model");
        IModelMarketplace.Listing memory listing = market.listingOf(id);
        if (listing.seller != t.listedBy || listing.price != t.listPrice) {
            return string.concat("token ", Fmt.u(id), ": listing differs from the model");
        }
        if (market.offerCount(id) != _offers[id].length) {
            return string.concat("token ", Fmt.u(id), ": offer count differs");
        }
        (uint256 total,) = market.contributorRevenue(id, address(0));
        if (total != t.contributorTotal) {
            return string.concat(
                "token ", Fmt.u(id), ": contributor revenue ", Fmt.u(total), " != model ", Fmt.u(t.contributorTotal)
            );
        }
        return "";
    }
}
