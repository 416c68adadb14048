"""Smoke test of the whole product path on whichever chain Brownie runs: deploy → mint → list →
buy → license. `make test` runs it on Anvil (with the rest of the suite) and again on Ganache 7.9
(`--network ganache-cli`), so both supported local chains are exercised."""

import pytest
from brownie import chain, network, web3
from conftest import digest, mint_params


@pytest.fixture(scope="module", autouse=True)
def priced_gas_on_ganache():
    """Ganache 7 has a base fee and never mines Brownie's default zero-priced transactions."""
    if "ganache" not in web3.client_version.lower():
        yield
        return
    network.gas_price("10 gwei")
    yield
    network.gas_price(False)


def test_deploy_mint_list_buy_license(owner, nft, registry, market, publisher, accounts):
    seller, buyer, licensee = accounts[5], accounts[6], accounts[7]

    # Prepare: the publisher mints a model to the seller with a 2.5 % royalty.
    tx = nft.mint(
        seller,
        mint_params("smoke", royalty_receiver=publisher.address, royalty_bps=250),
        {"from": publisher},
    )
    token = tx.return_value
    assert nft.tokenURI(token) == "ipfs://bafkreismoke"
    assert nft.provenance(token).dict()["weightsDigest"] == digest("smoke/weights")

    # Execute: list, buy, then the new owner offers a licence that a third account buys.
    nft.approve(market, token, {"from": seller})
    market.list(token, 10**18, {"from": seller})
    market.buy(token, 10**18, {"from": buyer, "value": 10**18})
    market.createLicenseOffer(token, 10**17, 3600, 10, 0, "bafkreiterms", {"from": buyer})
    tx = market.buyLicense(token, 0, digest("kem"), 10**17, {"from": licensee, "value": 10**17})

    # Assert
    assert nft.ownerOf(token) == buyer
    assert market.creditOf(seller) == 10**18 - 25 * 10**15
    assert market.creditOf(publisher) == 25 * 10**15
    assert market.creditOf(buyer) == 10**17
    assert market.hasValidLicense(token, licensee)
    assert tx.events["LicensePurchased"]["kemKeyDigest"] == digest("kem")
    chain.sleep(3601)
    chain.mine()
    assert not market.hasValidLicense(token, licensee)
    before = buyer.balance()
    tx = market.withdraw(10**17, {"from": buyer})
    assert buyer.balance() == before + 10**17 - tx.gas_used * tx.gas_price
    assert market.balance() == sum(market.totals())
    assert registry.address != nft.address
