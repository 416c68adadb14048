"""ModelMarketplace: listings and sales, licence offers and purchases, contributor revenue sharing,
withdrawals, pausing, re-entrancy and the accounting invariant (totals() == ETH balance)."""

from __future__ import annotations

import brownie
import pytest
from brownie import chain, web3
from conftest import WEIGHT_TOTAL, ZERO, bare_err, digest, err, mint_params, run_round

PRICE = 10**18
LICENSE_PRICE = 10**17
DURATION = 30 * 24 * 3600
TERMS = "bafkreiterms"
KEM = digest("licensee/mlkem")
EXTRA = 3 * 10**16
BPS = 10_000
REVENUE_SHARE_BPS = 3_000  # fed_config() default

CREDIT_SALE = 1
CREDIT_ROYALTY = 2
CREDIT_LICENSE = 3
CREDIT_REFUND = 4
CREDIT_CONTRIBUTOR = 5

ZERO_DIGEST = "0x" + "00" * 32


# ------------------------------------------------------------------------------------- helpers


def assert_books_balance(market) -> None:
    """The marketplace owes exactly what it holds."""
    credits, unclaimed = market.totals()
    assert credits + unclaimed == market.balance()


def credits_in(tx) -> list[tuple[str, int, int]]:
    """(account, amount, reason) of every RevenueCredited event of `tx`, in order."""
    if "RevenueCredited" not in tx.events:
        return []
    return [(e["account"], e["amount"], e["reason"]) for e in tx.events["RevenueCredited"]]


def last_block_time() -> int:
    return chain[-1].timestamp


def sleep_past(timestamp: int) -> None:
    """Mine a block whose timestamp is after `timestamp`."""
    chain.sleep(max(timestamp - last_block_time(), 0) + 10)
    chain.mine()
    assert last_block_time() > timestamp


def set_next_block_time(timestamp: int) -> None:
    """Make the next mined block carry exactly `timestamp`."""
    web3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])


def final_round_contributions(registry, nft, token_id) -> tuple[list, list]:
    """Contributors and weights of `token_id`'s final round, read from the registry's
    RoundFinalized event the way a client would; empty for a model outside a federation."""
    federation_id, round_ = nft.federationOf(token_id)
    if federation_id == 0:
        return [], []
    for log in registry.events.get_sequence(0, event_type="RoundFinalized"):
        if log.args.federationId == federation_id and log.args.round == round_:
            return list(log.args.contributors), list(log.args.weights)
    raise AssertionError(f"no RoundFinalized event for federation {federation_id} round {round_}")


def buy_license(
    market, token_id: int, offer_id: int, account, value: int = LICENSE_PRICE, max_price=None
):
    """buyLicense with KEM; max price defaults to LICENSE_PRICE."""
    return market.buyLicense(
        token_id,
        offer_id,
        KEM,
        LICENSE_PRICE if max_price is None else max_price,
        {"from": account, "value": value},
    )


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(autouse=True)
def books_balance_after_every_test(market):
    """Whatever a test did, the marketplace still owes exactly what it holds."""
    yield
    assert_books_balance(market)


@pytest.fixture(scope="module")
def seller(accounts, minted, nft):
    """Owner of the `minted` token (5 % royalty to the publisher)."""
    assert nft.ownerOf(minted) == accounts[2]
    return accounts[2]


@pytest.fixture(scope="module")
def fed_owner(accounts):
    return accounts[4]


@pytest.fixture(scope="module")
def buyer(accounts):
    return accounts[5]


@pytest.fixture(scope="module")
def stranger(accounts):
    return accounts[6]


@pytest.fixture(scope="module")
def licensee(accounts):
    return accounts[7]


@pytest.fixture(scope="module")
def licensee2(accounts):
    return accounts[8]


@pytest.fixture(scope="module")
def actor_caller(accounts):
    """EOA that drives `contract_account` (it deployed it)."""
    return accounts[9]


@pytest.fixture(scope="module")
def claim(market, nft, registry):
    """claim(token_id, account[, lists]): claimContributorRevenue with the final round's lists."""

    def _claim(token_id: int, account, lists: tuple[list, list] | None = None):
        contributors, weights = (
            lists if lists is not None else final_round_contributions(registry, nft, token_id)
        )
        return market.claimContributorRevenue(token_id, contributors, weights, {"from": account})

    return _claim


@pytest.fixture
def listed(market, nft, minted, seller):
    """`minted` approved to the marketplace and listed at PRICE."""
    nft.approve(market, minted, {"from": seller})
    market.list(minted, PRICE, {"from": seller})
    return minted


@pytest.fixture
def second_listed(market, nft, publisher, seller):
    """Another token of the seller, listed at PRICE (no royalty)."""
    token_id = nft.mint(seller, mint_params("second"), {"from": publisher}).return_value
    nft.approve(market, token_id, {"from": seller})
    market.list(token_id, PRICE, {"from": seller})
    return token_id


@pytest.fixture
def offer(market, minted, seller):
    """Offer 0 on `minted`: LICENSE_PRICE for DURATION, unlimited seats, never expires."""
    return market.createLicenseOffer(
        minted, LICENSE_PRICE, DURATION, 0, 0, TERMS, {"from": seller}
    ).return_value


@pytest.fixture
def fed_offer(market, fed_model, fed_owner):
    """Offer 0 on the federation model `fed_model`."""
    return market.createLicenseOffer(
        fed_model, PRICE, DURATION, 0, 0, TERMS, {"from": fed_owner}
    ).return_value


@pytest.fixture
def actor_credit(market, minted, offer, contract_account, actor_caller):
    """`contract_account` holds a licence on `minted` and EXTRA wei of refund credit."""
    data = market.buyLicense.encode_input(minted, offer, KEM, LICENSE_PRICE)
    value = LICENSE_PRICE + EXTRA
    contract_account.execute(market, data, value, {"from": actor_caller, "value": value})
    assert market.creditOf(contract_account) == EXTRA
    return EXTRA


# ---------------------------------------------------------------------------------- deployment


def test_deployment_wires_nft_registry_and_owner(market, nft, registry, owner):
    assert market.modelNFT() == nft
    assert market.federationRegistry() == registry
    assert market.owner() == owner
    assert market.paused() is False
    assert market.BPS() == BPS
    assert market.WEIGHT_TOTAL() == WEIGHT_TOTAL
    assert market.MAX_TERMS_CID_LENGTH() == 128
    reasons = (
        market.CREDIT_SALE(),
        market.CREDIT_ROYALTY(),
        market.CREDIT_LICENSE(),
        market.CREDIT_REFUND(),
        market.CREDIT_CONTRIBUTOR(),
    )
    assert reasons == (
        CREDIT_SALE,
        CREDIT_ROYALTY,
        CREDIT_LICENSE,
        CREDIT_REFUND,
        CREDIT_CONTRIBUTOR,
    )
    assert tuple(market.totals()) == (0, 0)
    assert market.balance() == 0


def test_views_are_empty_for_untouched_token(market, minted, licensee):
    assert tuple(market.listingOf(minted)) == (ZERO, 0)
    assert market.offerCount(minted) == 0
    assert tuple(market.licenseOf(minted, licensee)) == (0, 0, 0, False)
    assert market.hasValidLicense(minted, licensee) is False
    assert market.licenseCount() == 0
    assert market.creditOf(licensee) == 0
    assert tuple(market.contributorRevenue(minted, licensee)) == (0, 0)
    with brownie.reverts(err("MarketplaceUnknownOffer", minted, 0)):
        market.getOffer(minted, 0)


# ----------------------------------------------------------------------------------------- list


def test_list_reverts_when_caller_is_not_owner(market, nft, minted, seller, stranger):
    nft.approve(market, minted, {"from": seller})
    with brownie.reverts(err("MarketplaceNotTokenOwner", minted, stranger)):
        market.list(minted, PRICE, {"from": stranger})


def test_list_reverts_when_marketplace_not_approved(market, minted, seller):
    with brownie.reverts(err("MarketplaceNotApproved", minted)):
        market.list(minted, PRICE, {"from": seller})


def test_list_reverts_when_approval_is_for_another_operator(market, nft, minted, seller, stranger):
    nft.approve(stranger, minted, {"from": seller})
    with brownie.reverts(err("MarketplaceNotApproved", minted)):
        market.list(minted, PRICE, {"from": seller})


def test_list_reverts_for_nonexistent_token(market, nft, seller):
    unknown = nft.totalMinted() + 1
    with brownie.reverts(err("ERC721NonexistentToken", unknown)):
        market.list(unknown, PRICE, {"from": seller})


def test_list_with_token_approval_records_listing_and_emits_event(market, nft, minted, seller):
    # Prepare
    nft.approve(market, minted, {"from": seller})

    # Execute
    tx = market.list(minted, PRICE, {"from": seller})

    # Assert
    assert tuple(market.listingOf(minted)) == (seller, PRICE)
    assert tx.events["Listed"]["tokenId"] == minted
    assert tx.events["Listed"]["seller"] == seller
    assert tx.events["Listed"]["price"] == PRICE
    assert nft.ownerOf(minted) == seller  # the token stays with the seller


def test_list_with_approval_for_all(market, nft, minted, seller):
    nft.setApprovalForAll(market, True, {"from": seller})
    tx = market.list(minted, PRICE, {"from": seller})
    assert tuple(market.listingOf(minted)) == (seller, PRICE)
    assert tx.events["Listed"]["price"] == PRICE


def test_list_reverts_for_zero_price(market, nft, minted, seller):
    nft.approve(market, minted, {"from": seller})
    with brownie.reverts(bare_err("MarketplaceZeroPrice")):
        market.list(minted, 0, {"from": seller})


def test_relist_replaces_price(market, listed, seller):
    tx = market.list(listed, 2 * PRICE, {"from": seller})
    assert tuple(market.listingOf(listed)) == (seller, 2 * PRICE)
    assert tx.events["Listed"]["price"] == 2 * PRICE


# -------------------------------------------------------------------------------- cancelListing


def test_cancel_listing_by_seller(market, listed, seller, buyer):
    # Execute
    tx = market.cancelListing(listed, {"from": seller})

    # Assert
    assert tuple(market.listingOf(listed)) == (ZERO, 0)
    assert tx.events["ListingCancelled"]["tokenId"] == listed
    assert tx.events["ListingCancelled"]["seller"] == seller
    with brownie.reverts(err("MarketplaceNotListed", listed)):
        market.buy(listed, PRICE, {"from": buyer, "value": PRICE})


def test_cancel_listing_by_new_owner_after_transfer(market, nft, listed, seller, stranger):
    # Prepare: the seller gives the token away, leaving a stale listing
    nft.transferFrom(seller, stranger, listed, {"from": seller})

    # Execute
    tx = market.cancelListing(listed, {"from": stranger})

    # Assert: the event names the listing's seller
    assert tuple(market.listingOf(listed)) == (ZERO, 0)
    assert tx.events["ListingCancelled"]["seller"] == seller


def test_cancel_listing_reverts_for_stranger(market, listed, seller, stranger):
    with brownie.reverts(err("MarketplaceNotTokenOwner", listed, stranger)):
        market.cancelListing(listed, {"from": stranger})
    assert tuple(market.listingOf(listed)) == (seller, PRICE)


def test_cancel_listing_reverts_when_not_listed(market, minted, seller):
    with brownie.reverts(err("MarketplaceNotListed", minted)):
        market.cancelListing(minted, {"from": seller})


# ------------------------------------------------------------------------------------------ buy


def test_buy_moves_token_and_credits_seller_royalty_and_refund(
    market, nft, listed, seller, buyer, publisher
):
    # Prepare
    receiver, royalty = nft.royaltyInfo(listed, PRICE)
    assert receiver == publisher
    assert royalty == PRICE * 500 // BPS
    buyer_balance = buyer.balance()
    sent = PRICE + EXTRA

    # Execute
    tx = market.buy(listed, PRICE, {"from": buyer, "value": sent})

    # Assert: the token moved, the listing is gone
    assert nft.ownerOf(listed) == buyer
    assert tuple(market.listingOf(listed)) == (ZERO, 0)
    # Assert: payees credited, nothing paid out yet
    assert market.creditOf(publisher) == royalty
    assert market.creditOf(seller) == PRICE - royalty
    assert market.creditOf(buyer) == EXTRA
    assert buyer.balance() == buyer_balance - sent - tx.gas_used * tx.gas_price
    assert market.balance() == sent
    # Assert: events
    sold = tx.events["Sold"]
    assert (sold["tokenId"], sold["seller"], sold["buyer"]) == (listed, seller, buyer)
    assert (sold["price"], sold["royaltyReceiver"], sold["royalty"]) == (PRICE, publisher, royalty)
    assert credits_in(tx) == [
        (publisher.address, royalty, CREDIT_ROYALTY),
        (seller.address, PRICE - royalty, CREDIT_SALE),
        (buyer.address, EXTRA, CREDIT_REFUND),
    ]
    transfer = tx.events["Transfer"]
    assert (transfer["from"], transfer["to"], transfer["tokenId"]) == (seller, buyer, listed)
    assert_books_balance(market)


def test_buy_without_royalty_credits_full_price_and_no_refund(
    market, nft, second_listed, seller, buyer
):
    assert tuple(nft.royaltyInfo(second_listed, PRICE)) == (ZERO, 0)

    tx = market.buy(second_listed, PRICE, {"from": buyer, "value": PRICE})

    assert nft.ownerOf(second_listed) == buyer
    assert credits_in(tx) == [(seller.address, PRICE, CREDIT_SALE)]
    assert tx.events["Sold"]["royaltyReceiver"] == ZERO
    assert tx.events["Sold"]["royalty"] == 0
    assert market.creditOf(buyer) == 0
    assert_books_balance(market)


def test_buy_reverts_when_not_listed(market, minted, buyer):
    with brownie.reverts(err("MarketplaceNotListed", minted)):
        market.buy(minted, PRICE, {"from": buyer, "value": PRICE})


def test_buy_reverts_for_stale_listing_after_seller_transferred_token(
    market, nft, listed, seller, stranger, buyer
):
    nft.transferFrom(seller, stranger, listed, {"from": seller})
    with brownie.reverts(err("MarketplaceStaleListing", listed, seller, stranger)):
        market.buy(listed, PRICE, {"from": buyer, "value": PRICE})
    assert nft.ownerOf(listed) == stranger
    assert market.balance() == 0


def test_buy_reverts_when_seller_revoked_approval(market, nft, listed, seller, buyer):
    nft.approve(ZERO, listed, {"from": seller})
    with brownie.reverts(err("ERC721InsufficientApproval", market, listed)):
        market.buy(listed, PRICE, {"from": buyer, "value": PRICE})
    assert nft.ownerOf(listed) == seller
    assert tuple(market.listingOf(listed)) == (seller, PRICE)


def test_buy_reverts_when_buyer_is_seller(market, listed, seller):
    with brownie.reverts(err("MarketplaceBuyerIsSeller", listed, seller)):
        market.buy(listed, PRICE, {"from": seller, "value": PRICE})


def test_buy_reverts_when_price_above_max_price(market, listed, seller, buyer):
    # Prepare: the seller raises the price before the buyer's transaction lands (front-running)
    market.list(listed, 2 * PRICE, {"from": seller})

    # Execute / Assert: the buyer sent enough ETH but capped the price
    with brownie.reverts(err("MarketplacePriceAboveLimit", 2 * PRICE, PRICE)):
        market.buy(listed, PRICE, {"from": buyer, "value": 2 * PRICE})
    assert market.balance() == 0


def test_buy_reverts_when_payment_insufficient(market, listed, buyer):
    with brownie.reverts(err("MarketplaceInsufficientPayment", PRICE - 1, PRICE)):
        market.buy(listed, PRICE, {"from": buyer, "value": PRICE - 1})


def test_buy_reverts_when_contract_buyer_rejects_token(
    market, nft, listed, seller, contract_account, actor_caller
):
    # Prepare
    contract_account.configure(True, False, ZERO, b"", True, {"from": actor_caller})
    data = market.buy.encode_input(listed, PRICE)

    # Execute / Assert
    with brownie.reverts(err("ERC721InvalidReceiver", contract_account)):
        contract_account.execute(market, data, PRICE, {"from": actor_caller, "value": PRICE})

    # Assert: nothing changed
    assert nft.ownerOf(listed) == seller
    assert tuple(market.listingOf(listed)) == (seller, PRICE)
    assert market.creditOf(seller) == 0
    assert market.creditOf(contract_account) == 0
    assert market.balance() == 0
    assert tuple(market.totals()) == (0, 0)


def test_buy_by_contract_that_accepts_tokens(market, nft, listed, contract_account, actor_caller):
    data = market.buy.encode_input(listed, PRICE)
    contract_account.execute(market, data, PRICE, {"from": actor_caller, "value": PRICE})
    assert nft.ownerOf(listed) == contract_account
    assert_books_balance(market)


@pytest.mark.parametrize("reentry", ["buy", "withdraw"])
def test_buy_reverts_when_buyer_reenters_from_token_receipt(
    market, nft, listed, second_listed, seller, contract_account, actor_caller, reentry
):
    # Prepare: on receipt of the token the buyer tries to buy another token, or to withdraw the
    # refund it was just credited
    reenter = {
        "buy": market.buy.encode_input(second_listed, PRICE),
        "withdraw": market.withdraw.encode_input(EXTRA),
    }[reentry]
    contract_account.configure(True, True, market, reenter, True, {"from": actor_caller})
    data = market.buy.encode_input(listed, PRICE)
    sent = PRICE + EXTRA

    # Execute / Assert
    with brownie.reverts(bare_err("ReentrancyGuardReentrantCall")):
        contract_account.execute(market, data, sent, {"from": actor_caller, "value": sent})

    # Assert: nothing moved
    assert nft.ownerOf(listed) == seller
    assert nft.ownerOf(second_listed) == seller
    assert tuple(market.listingOf(listed)) == (seller, PRICE)
    assert tuple(market.listingOf(second_listed)) == (seller, PRICE)
    assert market.creditOf(contract_account) == 0
    assert market.balance() == 0
    assert contract_account.balance() == 0


def test_buy_succeeds_without_reentry_when_buyer_swallows_reentry_failure(
    market, nft, listed, contract_account, actor_caller
):
    # Prepare: the buyer tries to withdraw its refund on receipt but ignores the failure
    reenter = market.withdraw.encode_input(EXTRA)
    contract_account.configure(True, True, market, reenter, False, {"from": actor_caller})
    data = market.buy.encode_input(listed, PRICE)
    sent = PRICE + EXTRA

    # Execute
    tx = contract_account.execute(market, data, sent, {"from": actor_caller, "value": sent})

    # Assert: the re-entrant withdrawal was attempted and did nothing
    assert contract_account.reentryAttempts() == 1
    assert "Withdrawal" not in tx.events
    assert nft.ownerOf(listed) == contract_account
    assert market.creditOf(contract_account) == EXTRA
    assert contract_account.balance() == 0
    assert market.balance() == sent
    assert_books_balance(market)


# --------------------------------------------------------------------------- createLicenseOffer


def test_create_license_offer_records_offer_and_emits_event(market, minted, seller):
    # Prepare
    expires_at = last_block_time() + 3600

    # Execute
    tx = market.createLicenseOffer(
        minted, LICENSE_PRICE, DURATION, 5, expires_at, TERMS, {"from": seller}
    )

    # Assert
    assert tx.return_value == 0
    assert market.offerCount(minted) == 1
    assert market.getOffer(minted, 0).dict() == {
        "creator": seller.address,
        "duration": DURATION,
        "maxSeats": 5,
        "seatsUsed": 0,
        "price": LICENSE_PRICE,
        "expiresAt": expires_at,
        "active": True,
        "termsCID": TERMS,
    }
    event = tx.events["LicenseOfferCreated"]
    assert (event["tokenId"], event["offerId"], event["creator"]) == (minted, 0, seller)
    assert (event["price"], event["duration"], event["maxSeats"]) == (LICENSE_PRICE, DURATION, 5)
    assert (event["expiresAt"], event["termsCID"]) == (expires_at, TERMS)


def test_create_license_offer_assigns_increasing_ids(market, minted, seller, offer):
    tx = market.createLicenseOffer(minted, 1, 1, 0, 0, "t", {"from": seller})
    assert (offer, tx.return_value) == (0, 1)
    assert tx.events["LicenseOfferCreated"]["offerId"] == 1
    assert market.offerCount(minted) == 2


def test_create_license_offer_accepts_the_longest_duration(market, minted, seller):
    longest = market.MAX_LICENSE_DURATION()
    assert longest == 100 * 365 * 86400
    market.createLicenseOffer(minted, 1, longest, 0, 0, TERMS, {"from": seller})
    assert market.getOffer(minted, 0).dict()["duration"] == longest


def test_create_license_offer_accepts_terms_cid_of_max_length(market, minted, seller):
    terms = "t" * 128
    market.createLicenseOffer(minted, 1, 1, 0, 0, terms, {"from": seller})
    assert market.getOffer(minted, 0).dict()["termsCID"] == terms


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("price", {"price": 0}),
        ("duration", {"duration": 0}),
        ("duration", {"duration": 100 * 365 * 86400 + 1}),
        ("expiresAt", {"expires_in": -1}),
        ("expiresAt", {"expires_in": 0}),
        ("termsCID", {"terms": ""}),
        ("termsCID", {"terms": "t" * 129}),
    ],
    ids=[
        "zero_price",
        "zero_duration",
        "duration_over_100_years",
        "expiry_past",
        "expiry_now",
        "empty_terms",
        "long_terms",
    ],
)
def test_create_license_offer_reverts_for_invalid_field(market, minted, seller, field, overrides):
    # expiresAt relative to the latest block: the offer's block is at least that late.
    expires_at = 0
    if "expires_in" in overrides:
        expires_at = last_block_time() + overrides["expires_in"]
    args = (
        overrides.get("price", LICENSE_PRICE),
        overrides.get("duration", DURATION),
        0,
        expires_at,
        overrides.get("terms", TERMS),
    )
    with brownie.reverts(err("MarketplaceInvalidOffer", field)):
        market.createLicenseOffer(minted, *args, {"from": seller})
    assert market.offerCount(minted) == 0


def test_create_license_offer_reverts_when_caller_is_not_owner(market, minted, stranger):
    with brownie.reverts(err("MarketplaceNotTokenOwner", minted, stranger)):
        market.createLicenseOffer(minted, LICENSE_PRICE, DURATION, 0, 0, TERMS, {"from": stranger})


def test_create_license_offer_reverts_for_nonexistent_token(market, nft, seller):
    unknown = nft.totalMinted() + 1
    with brownie.reverts(err("ERC721NonexistentToken", unknown)):
        market.createLicenseOffer(unknown, LICENSE_PRICE, DURATION, 0, 0, TERMS, {"from": seller})


# ------------------------------------------------------------------------- setLicenseOfferActive


def test_set_license_offer_inactive_blocks_purchases_until_reactivated(
    market, minted, offer, seller, licensee
):
    # Execute: deactivate
    tx = market.setLicenseOfferActive(minted, offer, False, {"from": seller})

    # Assert
    event = tx.events["LicenseOfferStatusChanged"]
    assert (event["tokenId"], event["offerId"], event["active"]) == (minted, offer, False)
    assert market.getOffer(minted, offer).dict()["active"] is False
    with brownie.reverts(err("MarketplaceOfferInactive", minted, offer)):
        buy_license(market, minted, offer, licensee)

    # Execute: reactivate
    tx = market.setLicenseOfferActive(minted, offer, True, {"from": seller})

    # Assert
    assert tx.events["LicenseOfferStatusChanged"]["active"] is True
    assert market.getOffer(minted, offer).dict()["active"] is True
    buy_license(market, minted, offer, licensee)
    assert market.hasValidLicense(minted, licensee)


def test_deactivating_offer_keeps_existing_licences(market, minted, offer, seller, licensee):
    buy_license(market, minted, offer, licensee)
    market.setLicenseOfferActive(minted, offer, False, {"from": seller})
    assert market.hasValidLicense(minted, licensee)


def test_set_license_offer_active_reverts_when_caller_is_not_owner(market, minted, offer, stranger):
    with brownie.reverts(err("MarketplaceNotTokenOwner", minted, stranger)):
        market.setLicenseOfferActive(minted, offer, False, {"from": stranger})


def test_set_license_offer_active_reverts_for_unknown_offer(market, minted, offer, seller):
    with brownie.reverts(err("MarketplaceUnknownOffer", minted, offer + 1)):
        market.setLicenseOfferActive(minted, offer + 1, False, {"from": seller})


# ----------------------------------------------------------------------------------- buyLicense


def test_buy_license_grants_new_licence(market, minted, offer, seller, licensee):
    # Execute
    tx = buy_license(market, minted, offer, licensee)

    # Assert: the licence runs from now for one duration
    expiry = tx.timestamp + DURATION
    assert tx.return_value == 1
    assert market.licenseCount() == 1
    assert market.licenseOf(minted, licensee).dict() == {
        "expiresAt": expiry,
        "offerId": offer,
        "licenseId": 1,
        "keyDelivered": False,
    }
    assert market.hasValidLicense(minted, licensee) is True
    assert market.getOffer(minted, offer).dict()["seatsUsed"] == 1
    # Assert: a non-federation model pays the whole price to the offer's creator
    assert market.creditOf(seller) == LICENSE_PRICE
    assert credits_in(tx) == [(seller.address, LICENSE_PRICE, CREDIT_LICENSE)]
    assert "ContributorRevenueAdded" not in tx.events
    expected_event = {
        "licenseId": 1,
        "tokenId": minted,
        "licensee": licensee.address,
        "offerId": offer,
        "kemKeyDigest": KEM,
        "expiresAt": expiry,
        "price": LICENSE_PRICE,
        "renewal": False,
    }
    event = tx.events["LicensePurchased"]
    assert {name: event[name] for name in expected_event} == expected_event
    assert_books_balance(market)


def test_buy_license_renewal_before_expiry_extends_from_old_expiry_without_seat(
    market, minted, offer, licensee
):
    # Prepare
    first_expiry = buy_license(market, minted, offer, licensee).timestamp + DURATION

    # Execute
    tx = buy_license(market, minted, offer, licensee)

    # Assert
    assert tx.return_value == 2
    assert tx.events["LicensePurchased"]["renewal"] is True
    assert tx.events["LicensePurchased"]["expiresAt"] == first_expiry + DURATION
    assert tx.events["LicensePurchased"]["licenseId"] == 2
    assert market.licenseOf(minted, licensee).dict() == {
        "expiresAt": first_expiry + DURATION,
        "offerId": offer,
        "licenseId": 2,
        "keyDelivered": False,
    }
    assert market.getOffer(minted, offer).dict()["seatsUsed"] == 1
    assert_books_balance(market)


def test_buy_license_after_expiry_starts_from_now_and_uses_seat(market, minted, offer, licensee):
    # Prepare
    first_expiry = buy_license(market, minted, offer, licensee).timestamp + DURATION
    sleep_past(first_expiry)
    assert market.hasValidLicense(minted, licensee) is False

    # Execute
    tx = buy_license(market, minted, offer, licensee)

    # Assert
    assert tx.events["LicensePurchased"]["renewal"] is False
    assert tx.events["LicensePurchased"]["expiresAt"] == tx.timestamp + DURATION
    assert market.licenseOf(minted, licensee).dict()["expiresAt"] == tx.timestamp + DURATION
    assert market.getOffer(minted, offer).dict()["seatsUsed"] == 2
    assert market.hasValidLicense(minted, licensee) is True


def test_buy_license_under_other_offer_while_valid_extends_and_uses_its_seat(
    market, minted, offer, seller, licensee
):
    # Prepare
    other_duration = 7 * 24 * 3600
    other = market.createLicenseOffer(
        minted, LICENSE_PRICE, other_duration, 1, 0, TERMS, {"from": seller}
    ).return_value
    first_expiry = buy_license(market, minted, offer, licensee).timestamp + DURATION

    # Execute
    tx = buy_license(market, minted, other, licensee)

    # Assert
    assert tx.events["LicensePurchased"]["renewal"] is True
    assert tx.events["LicensePurchased"]["offerId"] == other
    assert tx.events["LicensePurchased"]["expiresAt"] == first_expiry + other_duration
    assert market.licenseOf(minted, licensee).dict()["offerId"] == other
    assert market.getOffer(minted, other).dict()["seatsUsed"] == 1
    assert market.getOffer(minted, offer).dict()["seatsUsed"] == 1


def test_buy_license_reverts_when_no_seat_left(market, minted, seller, licensee, licensee2, buyer):
    # Prepare: two seats, both taken
    limited = market.createLicenseOffer(
        minted, LICENSE_PRICE, DURATION, 2, 0, TERMS, {"from": seller}
    ).return_value
    buy_license(market, minted, limited, licensee)
    buy_license(market, minted, limited, licensee2)

    # Execute / Assert: a third licensee is refused
    with brownie.reverts(err("MarketplaceNoSeatsLeft", minted, limited, 2)):
        buy_license(market, minted, limited, buyer)

    # Assert: a renewal needs no seat
    tx = buy_license(market, minted, limited, licensee)
    assert tx.events["LicensePurchased"]["renewal"] is True
    assert market.getOffer(minted, limited).dict()["seatsUsed"] == 2

    # Assert: after expiry, buying again needs a seat
    sleep_past(market.licenseOf(minted, licensee).dict()["expiresAt"])
    with brownie.reverts(err("MarketplaceNoSeatsLeft", minted, limited, 2)):
        buy_license(market, minted, limited, licensee)


def test_buy_license_reverts_for_expired_offer(market, minted, seller, licensee):
    # Prepare
    expires_at = last_block_time() + 1000
    short = market.createLicenseOffer(
        minted, LICENSE_PRICE, DURATION, 0, expires_at, TERMS, {"from": seller}
    ).return_value
    buy_license(market, minted, short, licensee)  # purchasable before it expires
    sleep_past(expires_at)

    # Execute / Assert
    with brownie.reverts(err("MarketplaceOfferExpired", minted, short, expires_at)):
        buy_license(market, minted, short, licensee)


def test_offer_is_purchasable_up_to_and_including_its_expiry_second(
    market, minted, seller, licensee, licensee2
):
    # Prepare
    expires_at = last_block_time() + 1000
    short = market.createLicenseOffer(
        minted, LICENSE_PRICE, DURATION, 0, expires_at, TERMS, {"from": seller}
    ).return_value

    # Execute / Assert: at expiresAt the offer still sells
    set_next_block_time(expires_at)
    tx = buy_license(market, minted, short, licensee)
    assert tx.timestamp == expires_at

    # Execute / Assert: one second later it does not
    set_next_block_time(expires_at + 1)
    with brownie.reverts(err("MarketplaceOfferExpired", minted, short, expires_at)):
        buy_license(market, minted, short, licensee2)


@pytest.mark.parametrize(
    ("seconds_before_expiry", "renewal"), [(1, True), (0, False)], ids=["last_second", "at_expiry"]
)
def test_buy_license_is_renewal_only_while_licence_still_valid(
    market, minted, offer, licensee, seconds_before_expiry, renewal
):
    # Prepare
    first_expiry = buy_license(market, minted, offer, licensee).timestamp + DURATION
    set_next_block_time(first_expiry - seconds_before_expiry)

    # Execute
    tx = buy_license(market, minted, offer, licensee)

    # Assert: a licence is valid while expiresAt > now, so at expiresAt it is a new grant
    assert tx.timestamp == first_expiry - seconds_before_expiry
    start = first_expiry if renewal else tx.timestamp
    assert tx.events["LicensePurchased"]["renewal"] is renewal
    assert tx.events["LicensePurchased"]["expiresAt"] == start + DURATION
    assert market.getOffer(minted, offer).dict()["seatsUsed"] == (1 if renewal else 2)


def test_buy_license_reverts_for_unknown_offer(market, minted, offer, licensee):
    with brownie.reverts(err("MarketplaceUnknownOffer", minted, offer + 1)):
        buy_license(market, minted, offer + 1, licensee)


def test_buy_license_reverts_for_stale_offer_after_token_changed_owner(
    market, nft, minted, offer, seller, stranger, licensee
):
    nft.transferFrom(seller, stranger, minted, {"from": seller})
    with brownie.reverts(err("MarketplaceStaleOffer", minted, offer, seller, stranger)):
        buy_license(market, minted, offer, licensee)


def test_buy_license_reverts_for_zero_kem_key_digest(market, minted, offer, licensee):
    with brownie.reverts(bare_err("MarketplaceZeroKemKeyDigest")):
        market.buyLicense(
            minted, offer, ZERO_DIGEST, LICENSE_PRICE, {"from": licensee, "value": LICENSE_PRICE}
        )


def test_buy_license_reverts_when_price_above_max_price(market, minted, offer, licensee):
    with brownie.reverts(err("MarketplacePriceAboveLimit", LICENSE_PRICE, LICENSE_PRICE - 1)):
        buy_license(market, minted, offer, licensee, max_price=LICENSE_PRICE - 1)


def test_buy_license_reverts_when_payment_insufficient(market, minted, offer, licensee):
    with brownie.reverts(err("MarketplaceInsufficientPayment", LICENSE_PRICE - 1, LICENSE_PRICE)):
        buy_license(market, minted, offer, licensee, value=LICENSE_PRICE - 1)
    assert market.hasValidLicense(minted, licensee) is False


def test_buy_license_credits_excess_to_buyer(market, minted, offer, seller, licensee):
    tx = buy_license(market, minted, offer, licensee, value=LICENSE_PRICE + EXTRA)
    assert market.creditOf(licensee) == EXTRA
    assert market.creditOf(seller) == LICENSE_PRICE
    assert credits_in(tx) == [
        (seller.address, LICENSE_PRICE, CREDIT_LICENSE),
        (licensee.address, EXTRA, CREDIT_REFUND),
    ]
    assert market.balance() == LICENSE_PRICE + EXTRA
    assert_books_balance(market)


def test_has_valid_license_until_expiry(market, minted, offer, licensee, licensee2):
    # Prepare
    expiry = buy_license(market, minted, offer, licensee).timestamp + DURATION

    # Assert: valid shortly before expiry, for the licensee only
    chain.sleep(DURATION - 600)
    chain.mine()
    assert last_block_time() < expiry
    assert market.hasValidLicense(minted, licensee) is True
    assert market.hasValidLicense(minted, licensee2) is False

    # Assert: invalid after expiry; the record stays
    sleep_past(expiry)
    assert market.hasValidLicense(minted, licensee) is False
    assert market.licenseOf(minted, licensee).dict()["expiresAt"] == expiry


def test_licence_count_counts_every_purchase(market, minted, offer, licensee, licensee2):
    ids = [
        buy_license(market, minted, offer, account).return_value
        for account in (licensee, licensee2, licensee)
    ]
    assert ids == [1, 2, 3]
    assert market.licenseCount() == 3


# ------------------------------------------------------------------------------ revenue sharing


def test_federation_licence_revenue_is_split_between_creator_and_contributors(
    market, fed_model, fed_offer, fed_owner, licensee
):
    # Execute
    tx = buy_license(market, fed_model, fed_offer, licensee, value=PRICE, max_price=PRICE)

    # Assert
    pool = PRICE * REVENUE_SHARE_BPS // BPS
    assert market.creditOf(fed_owner) == PRICE - pool
    assert credits_in(tx) == [(fed_owner.address, PRICE - pool, CREDIT_LICENSE)]
    added = tx.events["ContributorRevenueAdded"]
    assert (added["tokenId"], added["amount"], added["total"]) == (fed_model, pool, pool)
    assert tuple(market.contributorRevenue(fed_model, licensee)) == (pool, 0)
    assert tuple(market.totals()) == (PRICE - pool, pool)
    assert_books_balance(market)


def test_each_contributor_claims_pool_times_weight(
    market, registry, nft, federation, fed_model, fed_offer, nodes, licensee, claim
):
    # Prepare
    buy_license(market, fed_model, fed_offer, licensee, value=PRICE, max_price=PRICE)
    pool = PRICE * REVENUE_SHARE_BPS // BPS
    fed_id, round_ = nft.federationOf(fed_model)
    assert fed_id == federation
    contributors, weights = final_round_contributions(registry, nft, fed_model)
    assert contributors == [node.address for node in nodes]

    for node in nodes:
        weight = registry.contributionWeight(fed_id, round_, node, contributors, weights)
        assert weight == WEIGHT_TOTAL // 4
        expected = pool * weight // WEIGHT_TOTAL

        # Execute
        tx = claim(fed_model, node)

        # Assert
        assert tx.return_value == expected
        claimed = tx.events["ContributorRevenueClaimed"]
        assert (claimed["tokenId"], claimed["contributor"], claimed["amount"]) == (
            fed_model,
            node,
            expected,
        )
        assert credits_in(tx) == [(node.address, expected, CREDIT_CONTRIBUTOR)]
        assert market.creditOf(node) == expected
        assert tuple(market.contributorRevenue(fed_model, node)) == (pool, expected)
        assert_books_balance(market)

    # Assert: four equal weights divide the pool exactly
    assert market.totals()[1] == 0


def test_claiming_twice_without_new_revenue_reverts(
    market, fed_model, fed_offer, nodes, licensee, claim
):
    buy_license(market, fed_model, fed_offer, licensee, value=PRICE, max_price=PRICE)
    claim(fed_model, nodes[0])
    with brownie.reverts(err("MarketplaceNothingToClaim", fed_model, nodes[0])):
        claim(fed_model, nodes[0])


def test_claim_before_any_revenue_reverts(fed_model, nodes, claim):
    with brownie.reverts(err("MarketplaceNothingToClaim", fed_model, nodes[0])):
        claim(fed_model, nodes[0])


def test_non_contributor_has_nothing_to_claim(
    market, fed_model, fed_offer, fed_owner, coordinator, licensee, claim
):
    buy_license(market, fed_model, fed_offer, licensee, value=PRICE, max_price=PRICE)
    for account in (licensee, fed_owner, coordinator):
        with brownie.reverts(err("MarketplaceNothingToClaim", fed_model, account)):
            claim(fed_model, account)


@pytest.mark.parametrize("forgery", ["inflated_weight", "caller_only", "empty"])
def test_claim_with_lists_not_matching_the_round_reverts(
    market, registry, nft, federation, fed_model, fed_offer, nodes, licensee, claim, forgery
):
    # Prepare: revenue to claim, and a contributor list that differs from the recorded one
    buy_license(market, fed_model, fed_offer, licensee, value=PRICE, max_price=PRICE)
    contributors, _ = final_round_contributions(registry, nft, fed_model)
    lists = {
        "inflated_weight": (contributors, [WEIGHT_TOTAL - 3, 1, 1, 1]),
        "caller_only": ([nodes[0].address], [WEIGHT_TOTAL]),
        "empty": ([], []),
    }[forgery]
    round_ = nft.federationOf(fed_model)[1]

    # Execute / Assert
    with brownie.reverts(err("FederationContributionsMismatch", federation, round_)):
        claim(fed_model, nodes[0], lists)
    assert market.creditOf(nodes[0]) == 0
    assert tuple(market.contributorRevenue(fed_model, nodes[0]))[1] == 0


def test_claim_after_further_sales_pays_only_new_revenue(
    market, fed_model, fed_offer, fed_owner, nodes, licensee, licensee2, claim
):
    # Prepare: one sale, claimed
    buy_license(market, fed_model, fed_offer, licensee, value=PRICE, max_price=PRICE)
    pool = PRICE * REVENUE_SHARE_BPS // BPS
    first = claim(fed_model, nodes[0]).return_value

    # Execute: a second sale at a lower price (the owner makes a cheaper offer), then claim again
    cheaper = market.createLicenseOffer(
        fed_model, PRICE // 2, DURATION, 0, 0, TERMS, {"from": fed_owner}
    ).return_value
    tx = market.buyLicense(
        fed_model, cheaper, KEM, PRICE // 2, {"from": licensee2, "value": PRICE // 2}
    )
    second_pool = (PRICE // 2) * REVENUE_SHARE_BPS // BPS
    assert tx.events["ContributorRevenueAdded"]["amount"] == second_pool
    assert tx.events["ContributorRevenueAdded"]["total"] == pool + second_pool
    second = claim(fed_model, nodes[0]).return_value

    # Assert
    assert first == pool // 4
    assert second == (pool + second_pool) // 4 - first
    assert market.creditOf(nodes[0]) == first + second
    assert tuple(market.contributorRevenue(fed_model, nodes[0])) == (
        pool + second_pool,
        first + second,
    )
    # Another contributor who had not claimed yet gets both sales at once.
    assert claim(fed_model, nodes[1]).return_value == (pool + second_pool) // 4
    assert_books_balance(market)


def test_contributor_rounding_dust_stays_accounted(
    market, fed_model, fed_owner, nodes, licensee, claim
):
    # Prepare: a price whose pool does not split evenly
    price = 1_000_013
    odd = market.createLicenseOffer(
        fed_model, price, DURATION, 0, 0, TERMS, {"from": fed_owner}
    ).return_value
    market.buyLicense(fed_model, odd, KEM, price, {"from": licensee, "value": price})
    pool = price * REVENUE_SHARE_BPS // BPS

    # Execute
    paid = [claim(fed_model, node).return_value for node in nodes]

    # Assert: each gets the floor of its share; the remainder stays owed and funded
    assert paid == [pool * (WEIGHT_TOTAL // 4) // WEIGHT_TOTAL] * 4
    assert market.totals()[1] == pool - sum(paid)
    assert pool - sum(paid) > 0
    assert_books_balance(market)


def test_unequal_weights_pay_proportionally_and_only_final_round_contributors(
    market, registry, nft, federation, coordinator, nodes, fed_owner, licensee, claim
):
    # Prepare: round 2 with three contributors of unequal weight, and a model minted from it
    weights = [100_000, 300_000, 600_000]
    run_round(registry, federation, coordinator, nodes[:3], weights=weights)
    token_id = registry.mintModel(
        federation, fed_owner, mint_params("fedmodel2"), {"from": coordinator}
    ).return_value
    assert tuple(nft.federationOf(token_id)) == (federation, 2)
    offer_id = market.createLicenseOffer(
        token_id, PRICE, DURATION, 0, 0, TERMS, {"from": fed_owner}
    ).return_value
    buy_license(market, token_id, offer_id, licensee, value=PRICE, max_price=PRICE)
    pool = PRICE * REVENUE_SHARE_BPS // BPS

    # Execute / Assert
    for node, weight in zip(nodes[:3], weights, strict=True):
        assert claim(token_id, node).return_value == pool * weight // WEIGHT_TOTAL
    # nodes[3] contributed to round 1 only, not to this model's round
    with brownie.reverts(err("MarketplaceNothingToClaim", token_id, nodes[3])):
        claim(token_id, nodes[3])
    assert market.totals()[1] == 0
    assert_books_balance(market)


def test_non_federation_model_pays_creator_everything_and_nothing_to_claim(
    market, minted, offer, seller, nodes, licensee, claim
):
    tx = buy_license(market, minted, offer, licensee)
    assert market.creditOf(seller) == LICENSE_PRICE
    assert "ContributorRevenueAdded" not in tx.events
    assert tuple(market.totals()) == (LICENSE_PRICE, 0)
    with brownie.reverts(err("MarketplaceNothingToClaim", minted, nodes[0])):
        claim(minted, nodes[0])


def test_claim_reverts_for_nonexistent_token(nft, nodes, claim):
    unknown = nft.totalMinted() + 1
    with brownie.reverts(err("ERC721NonexistentToken", unknown)):
        claim(unknown, nodes[0], ([], []))


# ------------------------------------------------------------------------------------- withdraw


def test_withdraw_part_of_credit(market, listed, seller, buyer):
    # Prepare
    market.buy(listed, PRICE, {"from": buyer, "value": PRICE})
    credit = market.creditOf(seller)
    amount = credit // 3
    balance = seller.balance()

    # Execute
    tx = market.withdraw(amount, {"from": seller})

    # Assert
    assert tx.events["Withdrawal"]["account"] == seller
    assert tx.events["Withdrawal"]["amount"] == amount
    assert market.creditOf(seller) == credit - amount
    assert seller.balance() == balance + amount - tx.gas_used * tx.gas_price
    assert_books_balance(market)


def test_withdraw_all_credit(market, listed, seller, buyer, publisher):
    # Prepare
    market.buy(listed, PRICE, {"from": buyer, "value": PRICE})
    credit = market.creditOf(seller)
    market_balance = market.balance()
    balance = seller.balance()

    # Execute
    tx = market.withdraw(credit, {"from": seller})

    # Assert
    assert tx.events["Withdrawal"]["amount"] == credit
    assert market.creditOf(seller) == 0
    assert seller.balance() == balance + credit - tx.gas_used * tx.gas_price
    assert market.balance() == market_balance - credit
    # Only the royalty is still owed.
    assert market.balance() == market.creditOf(publisher)
    assert_books_balance(market)


WRAPPED = "bafkreiwrappedkeyrecordforlicence"


def test_deliver_key_records_delivery_and_emits_event(market, minted, offer, seller, licensee):
    license_id = buy_license(market, minted, offer, licensee).return_value

    tx = market.deliverKey(minted, licensee, license_id, WRAPPED, {"from": seller})

    event = tx.events["KeyDelivered"]
    assert (event["licenseId"], event["tokenId"], event["licensee"], event["wrappedKeyCID"]) == (
        license_id,
        minted,
        licensee.address,
        WRAPPED,
    )
    assert market.licenseOf(minted, licensee).dict()["keyDelivered"] is True


def test_deliver_key_only_once_per_licence(market, minted, offer, seller, licensee):
    license_id = buy_license(market, minted, offer, licensee).return_value
    market.deliverKey(minted, licensee, license_id, WRAPPED, {"from": seller})

    with brownie.reverts(err("MarketplaceKeyAlreadyDelivered", minted, licensee, license_id)):
        market.deliverKey(minted, licensee, license_id, WRAPPED, {"from": seller})


def test_renewal_is_a_new_licence_that_may_get_its_own_key(market, minted, offer, seller, licensee):
    first = buy_license(market, minted, offer, licensee).return_value
    market.deliverKey(minted, licensee, first, WRAPPED, {"from": seller})
    second = buy_license(market, minted, offer, licensee).return_value

    assert market.licenseOf(minted, licensee).dict()["keyDelivered"] is False
    with brownie.reverts(err("MarketplaceNoSuchLicense", minted, licensee, first)):
        market.deliverKey(minted, licensee, first, WRAPPED, {"from": seller})
    market.deliverKey(minted, licensee, second, WRAPPED + "2", {"from": seller})


def test_deliver_key_reverts_for_caller_not_owning_the_token(
    market, minted, offer, licensee, stranger
):
    license_id = buy_license(market, minted, offer, licensee).return_value
    with brownie.reverts(err("MarketplaceNotTokenOwner", minted, stranger)):
        market.deliverKey(minted, licensee, license_id, WRAPPED, {"from": stranger})


def test_deliver_key_reverts_for_unknown_or_expired_licence(
    market, minted, offer, seller, licensee, licensee2
):
    with brownie.reverts(err("MarketplaceNoSuchLicense", minted, licensee2, 1)):
        market.deliverKey(minted, licensee2, 1, WRAPPED, {"from": seller})
    license_id = buy_license(market, minted, offer, licensee).return_value
    sleep_past(market.licenseOf(minted, licensee).dict()["expiresAt"])
    with brownie.reverts(err("MarketplaceNoSuchLicense", minted, licensee, license_id)):
        market.deliverKey(minted, licensee, license_id, WRAPPED, {"from": seller})


def test_deliver_key_reverts_for_empty_or_oversized_cid(market, minted, offer, seller, licensee):
    license_id = buy_license(market, minted, offer, licensee).return_value
    for cid in ("", "b" * 129):
        with brownie.reverts(bare_err("MarketplaceInvalidCid")):
            market.deliverKey(minted, licensee, license_id, cid, {"from": seller})
    market.deliverKey(minted, licensee, license_id, "b" * 128, {"from": seller})


def test_deliver_key_reverts_while_paused(market, minted, offer, seller, licensee, owner):
    license_id = buy_license(market, minted, offer, licensee).return_value
    market.pause({"from": owner})
    with brownie.reverts(bare_err("EnforcedPause")):
        market.deliverKey(minted, licensee, license_id, WRAPPED, {"from": seller})
    market.unpause({"from": owner})


def test_withdraw_reverts_for_zero_amount(market, minted, offer, licensee):
    buy_license(market, minted, offer, licensee, value=LICENSE_PRICE + EXTRA)
    with brownie.reverts(err("MarketplaceInsufficientCredit", licensee, 0, EXTRA)):
        market.withdraw(0, {"from": licensee})


def test_withdraw_reverts_for_more_than_credited(market, minted, offer, licensee):
    buy_license(market, minted, offer, licensee, value=LICENSE_PRICE + EXTRA)
    with brownie.reverts(err("MarketplaceInsufficientCredit", licensee, EXTRA + 1, EXTRA)):
        market.withdraw(EXTRA + 1, {"from": licensee})
    assert market.creditOf(licensee) == EXTRA
    assert_books_balance(market)


def test_withdraw_reverts_without_credit(market, stranger):
    with brownie.reverts(err("MarketplaceInsufficientCredit", stranger, 1, 0)):
        market.withdraw(1, {"from": stranger})


def test_withdraw_to_receiver_rejecting_eth_reverts_and_keeps_credit(
    market, contract_account, actor_caller, actor_credit
):
    # Prepare
    contract_account.configure(False, True, ZERO, b"", True, {"from": actor_caller})
    market_balance = market.balance()

    # Execute / Assert
    data = market.withdraw.encode_input(actor_credit)
    with brownie.reverts(err("MarketplaceTransferFailed", contract_account, actor_credit)):
        contract_account.execute(market, data, 0, {"from": actor_caller})
    assert market.creditOf(contract_account) == actor_credit
    assert market.balance() == market_balance
    assert contract_account.balance() == 0
    assert_books_balance(market)


def test_withdraw_reentered_from_receive_fails_and_keeps_balance(
    market, contract_account, actor_caller, actor_credit
):
    # Prepare: on receipt of ETH the actor withdraws again (and bubbles the failure)
    half = actor_credit // 2
    reenter = market.withdraw.encode_input(half)
    contract_account.configure(True, True, market, reenter, True, {"from": actor_caller})
    market_balance = market.balance()

    # Execute / Assert: the guarded re-entry makes the payout fail
    data = market.withdraw.encode_input(half)
    with brownie.reverts(err("MarketplaceTransferFailed", contract_account, half)):
        contract_account.execute(market, data, 0, {"from": actor_caller})
    assert market.creditOf(contract_account) == actor_credit
    assert market.balance() == market_balance
    assert contract_account.balance() == 0
    assert_books_balance(market)


def test_withdraw_reentry_swallowed_pays_only_once(
    market, contract_account, actor_caller, actor_credit
):
    # Prepare: the actor tries to withdraw again on receipt but ignores the failure
    half = actor_credit // 2
    reenter = market.withdraw.encode_input(half)
    contract_account.configure(True, True, market, reenter, False, {"from": actor_caller})
    market_balance = market.balance()

    # Execute
    data = market.withdraw.encode_input(half)
    tx = contract_account.execute(market, data, 0, {"from": actor_caller})

    # Assert
    assert contract_account.reentryAttempts() == 1
    assert len(tx.events["Withdrawal"]) == 1
    assert contract_account.balance() == half
    assert market.creditOf(contract_account) == actor_credit - half
    assert market.balance() == market_balance - half
    assert_books_balance(market)


# ---------------------------------------------------------------------------------------- pause


def test_pause_and_unpause_by_owner(market, owner):
    tx = market.pause({"from": owner})
    assert market.paused() is True
    assert tx.events["Paused"]["account"] == owner

    tx = market.unpause({"from": owner})
    assert market.paused() is False
    assert tx.events["Unpaused"]["account"] == owner


def test_pause_reverts_when_caller_is_not_owner(market, stranger):
    with brownie.reverts(err("OwnableUnauthorizedAccount", stranger)):
        market.pause({"from": stranger})
    assert market.paused() is False


def test_unpause_reverts_when_caller_is_not_owner(market, owner, stranger):
    market.pause({"from": owner})
    with brownie.reverts(err("OwnableUnauthorizedAccount", stranger)):
        market.unpause({"from": stranger})
    assert market.paused() is True


def test_pause_reverts_when_already_paused_and_unpause_when_not_paused(market, owner):
    with brownie.reverts(bare_err("ExpectedPause")):
        market.unpause({"from": owner})
    market.pause({"from": owner})
    with brownie.reverts(bare_err("EnforcedPause")):
        market.pause({"from": owner})


@pytest.mark.parametrize("action", ["list", "buy", "createLicenseOffer", "buyLicense"])
def test_pause_blocks_trading(
    market, owner, listed, second_listed, offer, seller, buyer, licensee, action
):
    # Prepare: every action below would succeed unpaused
    calls = {
        "list": lambda: market.list(second_listed, 2 * PRICE, {"from": seller}),
        "buy": lambda: market.buy(listed, PRICE, {"from": buyer, "value": PRICE}),
        "createLicenseOffer": lambda: market.createLicenseOffer(
            listed, LICENSE_PRICE, DURATION, 0, 0, TERMS, {"from": seller}
        ),
        "buyLicense": lambda: buy_license(market, listed, offer, licensee),
    }
    market.pause({"from": owner})

    # Execute / Assert
    with brownie.reverts(bare_err("EnforcedPause")):
        calls[action]()

    # Assert: the same call goes through once unpaused
    market.unpause({"from": owner})
    calls[action]()


def test_withdraw_and_claims_work_while_paused(
    market, owner, fed_model, fed_offer, fed_owner, nodes, licensee, claim
):
    # Prepare
    buy_license(market, fed_model, fed_offer, licensee, value=PRICE, max_price=PRICE)
    market.pause({"from": owner})

    node_balance = nodes[0].balance()

    # Execute
    amount = claim(fed_model, nodes[0]).return_value
    tx = market.withdraw(amount, {"from": nodes[0]})
    market.withdraw(market.creditOf(fed_owner), {"from": fed_owner})

    # Assert
    assert amount > 0
    assert nodes[0].balance() == node_balance + amount - tx.gas_used * tx.gas_price
    assert market.creditOf(nodes[0]) == 0
    assert market.creditOf(fed_owner) == 0
    assert_books_balance(market)


def test_cancel_listing_and_offer_status_work_while_paused(market, owner, listed, offer, seller):
    market.pause({"from": owner})
    market.cancelListing(listed, {"from": seller})
    market.setLicenseOfferActive(listed, offer, False, {"from": seller})
    assert tuple(market.listingOf(listed)) == (ZERO, 0)
    assert market.getOffer(listed, offer).dict()["active"] is False


# --------------------------------------------------------------------------------- Ownable2Step


def test_market_ownership_transfer_moves_pause_right(market, owner, accounts):
    new_owner = accounts[14]
    market.transferOwnership(new_owner, {"from": owner})
    assert market.owner() == owner
    market.acceptOwnership({"from": new_owner})
    assert market.owner() == new_owner
    with brownie.reverts(err("OwnableUnauthorizedAccount", owner)):
        market.pause({"from": owner})
    market.pause({"from": new_owner})
    assert market.paused() is True
