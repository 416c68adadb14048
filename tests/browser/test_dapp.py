"""The web dApp in a real browser (Debian's Chromium through Playwright) against Anvil with the
contracts deployed, a js-ipfs node and the built frontend served on 127.0.0.1.

Checks: the catalogue lists freshly minted models; the provenance badge passes for an honest
token and fails, naming the check, for a tampered manifest; licence purchase with transaction
states and the expiry in local time; a rejected transaction shows the decoded custom error; buy;
wrong-network banner; no console errors and no serious/critical axe-core violations on every page.
Screenshots go to reports/browser/.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from fqai.chain.deployment import MARKETPLACE, MODEL_NFT, REGISTRY
from fqai.chain.registry import FederationConfig, FederationRegistry, MintParams, to_bytes32
from fqai.encoding import b64encode
from fqai.federation import task
from fqai.ipfs.client import IpfsClient
from fqai.jcs import canonicalize
from fqai.manifest.model import ModelSpec
from fqai.trust.publish import publish_artifact
from fqai.weights import save_weights
from tests.python.conftest import make_tensors

from .fixtures_common import axe, open_page, serve_dapp, shot
from .helpers import FRONTEND
from .injected_wallet import WALLET_NAME, TestWallet

OFFER_PRICE = 10**16
LIST_PRICE = 2 * 10**16
LICENSE_DAYS = 30
KEM_DIGEST = "0x" + "ab" * 32
QUANTUM_MODEL = "quantum:qubits=4"
HOSTILE_TEXT = '<img src=x onerror="window.__fqaiXss=1"><script>window.__fqaiXss=2</script>'


@dataclass(frozen=True)
class Market:
    base_url: str
    honest: int  # token with a licence offer
    tampered: int  # token whose manifest was altered after signing
    for_sale: int  # token listed for sale
    hostile: int  # signed manifest and licence offer carrying HTML/script in their text fields
    quantum: int  # a hybrid quantum classifier's manifest (circuit in OpenQASM 3)
    model_name: str
    chain: object
    ipfs: IpfsClient


def _mint(chain, publisher, manifest_cid: str, weights_digest: str, signer_digest: str) -> int:
    params = (
        manifest_cid,
        to_bytes32(weights_digest),
        to_bytes32(signer_digest),
        0,
        0,
        0,
        publisher.address,
        0,
    )
    result = publisher.transact(MODEL_NFT, "mint", publisher.address, params)
    return int(publisher.receipt_events(result, MODEL_NFT, "ModelMinted")[0]["tokenId"])


@pytest.fixture(scope="module")
def market(
    deployed_chain, ipfs_node, identity, tmp_path_factory, built_frontend
) -> Iterator[Market]:
    with IpfsClient(ipfs_node.api_address, timeout=20, retries=1, backoff=0.1) as ipfs_client:
        yield from _market(
            deployed_chain, ipfs_node, ipfs_client, identity, tmp_path_factory, built_frontend
        )


def _market(deployed_chain, ipfs_node, ipfs_client, identity, tmp_path_factory, built_frontend):
    weights = tmp_path_factory.mktemp("dapp") / "weights.safetensors"
    save_weights(make_tensors(5), weights)
    owner, publisher = deployed_chain.client(0), deployed_chain.client(1)
    owner.transact(MODEL_NFT, "setMinter", publisher.address, True)
    name = "digits-mlp"

    def publish(metrics):
        return publish_artifact(
            ipfs_client,
            identity,
            weights,
            kind="published-model",
            federation_id=0,
            round=0,
            model=ModelSpec(name=name, params={"task": "image-classification", "hidden": 16}),
            metrics=metrics,
        )

    honest = publish({"accuracy": 0.91, "loss": 0.27})
    sha = honest.manifest.weights.sha256
    signer = identity.public.mldsa_key_digest
    honest_id = _mint(deployed_chain, publisher, honest.manifest_cid, sha, signer)

    # Same signature, better-looking metrics: a forged manifest whose bytes match its own CID.
    forged = canonicalize(
        {
            "manifest": {**honest.manifest.to_json(), "metrics": {"accuracy": 0.999}},
            "signature": {"algorithm": "ML-DSA-65", "value": b64encode(honest.signed.signature)},
        }
    )
    tampered_id = _mint(deployed_chain, publisher, ipfs_client.add_bytes(forged), sha, signer)

    for_sale = publish({"accuracy": 0.88})
    sale_id = _mint(deployed_chain, publisher, for_sale.manifest_cid, sha, signer)

    # Text written by strangers: a signed, honest manifest whose task is markup, and an offer whose
    # terms "CID" is markup. Both must be rendered as text.
    hostile = publish_artifact(
        ipfs_client,
        identity,
        weights,
        kind="published-model",
        federation_id=0,
        round=0,
        model=ModelSpec(name="hostile-model", params={"task": HOSTILE_TEXT}),
        metrics={"accuracy": 0.5},
    )
    hostile_id = _mint(
        deployed_chain, publisher, hostile.manifest_cid, hostile.manifest.weights.sha256, signer
    )
    publisher.transact(
        MARKETPLACE, "createLicenseOffer", hostile_id, OFFER_PRICE, 86400, 0, 0, HOSTILE_TEXT
    )

    qweights = weights.parent / "quantum.safetensors"
    qnet = task.build_model("breast_cancer", model=QUANTUM_MODEL)
    save_weights(task.get_weights(qnet), qweights)
    quantum = publish_artifact(
        ipfs_client,
        identity,
        qweights,
        kind="published-model",
        federation_id=0,
        round=0,
        model=ModelSpec(
            name=task.model_name("breast_cancer", QUANTUM_MODEL),
            params=task.model_params("breast_cancer", QUANTUM_MODEL, 0),
        ),
        metrics={"accuracy": 0.93},
    )
    quantum_id = _mint(
        deployed_chain, publisher, quantum.manifest_cid, quantum.manifest.weights.sha256, signer
    )

    market_address = publisher.contract(MARKETPLACE).address
    terms_cid = ipfs_client.add_bytes(b"Licence terms: research use, no redistribution.\n")
    publisher.transact(
        MARKETPLACE,
        "createLicenseOffer",
        honest_id,
        OFFER_PRICE,
        LICENSE_DAYS * 86400,
        0,
        0,
        terms_cid,
    )
    publisher.transact(MODEL_NFT, "approve", market_address, sale_id)
    publisher.transact(MARKETPLACE, "list", sale_id, LIST_PRICE)

    with serve_dapp(deployed_chain, ipfs_node, built_frontend) as url:
        yield Market(
            url,
            honest_id,
            tampered_id,
            sale_id,
            hostile_id,
            quantum_id,
            name,
            deployed_chain,
            ipfs_client,
        )


def _use_dev_account(page, index: int) -> str:
    page.select_option("#dev-account", index=index)
    address = page.eval_on_selector("#dev-account", "s => s.value")
    page.get_by_role("button", name="Use dev account").click()
    page.get_by_test_id("account").wait_for()
    return address


def test_catalogue_lists_minted_models_with_provenance_badges(page, market: Market) -> None:
    open_page(page, market.base_url)

    honest = page.locator(f"[data-testid=model-card][data-token-id='{market.honest}']")
    tampered = page.locator(f"[data-testid=model-card][data-token-id='{market.tampered}']")
    honest.locator("[data-testid=badge][data-state=pass]").wait_for()
    tampered.locator("[data-testid=badge][data-state=fail]").wait_for()

    assert market.model_name in honest.inner_text()
    assert "image-classification" in honest.inner_text()
    assert "accuracy 0.91" in honest.inner_text()
    assert "0.01 ETH" in honest.inner_text()  # cheapest licence offer
    assert "signature" in tampered.get_by_test_id("badge").inner_text()
    assert "0.999" not in tampered.inner_text()  # forged metrics are never shown
    sale = page.locator(f"[data-testid=model-card][data-token-id='{market.for_sale}']")
    sale.locator("[data-testid=badge][data-state=pass]").wait_for()
    assert "0.02 ETH" in sale.inner_text()
    shot(page, "catalogue")
    axe(page, "catalogue")


def test_model_page_verifies_provenance_in_the_browser(page, market: Market) -> None:
    open_page(page, f"{market.base_url}#/model/{market.honest}")

    page.locator("[data-testid=badge][data-state=pass]").wait_for()
    checks = page.get_by_test_id("check")
    statuses = {
        checks.nth(i).get_attribute("data-check"): checks.nth(i).get_attribute("data-status")
        for i in range(checks.count())
    }
    assert statuses == {
        name: "pass"
        for name in (
            "manifest CID",
            "manifest fetch",
            "manifest format",
            "signer key",
            "signature",
            "signer trust",
            "token weights digest",
            "token federation round",
        )
    }
    assert page.get_by_role("heading", level=1).inner_text().startswith(market.model_name)
    assert "accuracy" in page.locator("section[aria-labelledby=h-metrics]").inner_text()
    shot(page, "model-verified")
    axe(page, "model-verified")


@pytest.mark.attack(
    "forged-metrics-in-browser",
    actor="a seller",
    attack="better metrics in a manifest re-published under the same signature and minted",
    control="in-browser ML-DSA-65 check; manifest data shown only when every check passed",
)
def test_tampered_manifest_fails_and_names_the_check(page, market: Market) -> None:
    open_page(page, f"{market.base_url}#/model/{market.tampered}")

    page.locator("[data-testid=badge][data-state=fail]").wait_for()
    failed = page.locator("[data-testid=check][data-status=fail]")
    assert failed.count() == 1
    assert failed.get_attribute("data-check") == "signature"
    assert "does not verify" in failed.inner_text()
    # the earlier checks passed: the bytes are what the CID names, only the signature is wrong
    assert page.locator("[data-testid=check][data-status=pass]").count() == 4
    assert "0.999" not in page.locator("main").inner_text()
    shot(page, "model-tampered")
    axe(page, "model-tampered")


def test_license_flow_shows_states_and_local_expiry(page, market: Market) -> None:
    open_page(page, f"{market.base_url}#/model/{market.honest}")
    page.locator("[data-testid=badge][data-state=pass]").wait_for()
    buyer = _use_dev_account(page, 3)
    assert page.get_by_role("note").filter(has_text="Local dev chain").is_visible()
    assert page.get_by_test_id("license-status").get_attribute("data-state") == "none"

    form = page.locator("[data-testid=license-form][data-offer-id='0']")
    form.get_by_label("Your ML-KEM-768 key digest").fill(KEM_DIGEST)
    form.get_by_role("button", name="License for 0.01 ETH").click()

    status = form.get_by_test_id("tx-status")
    page.wait_for_function(
        "el => el.dataset.state === 'confirmed' || el.dataset.state === 'failed'",
        arg=status.element_handle(),
    )
    assert status.get_attribute("data-state") == "confirmed", status.inner_text()
    assert "in block" in status.inner_text()
    licence = page.locator("[data-testid=license-status][data-state=valid]")
    licence.wait_for()
    expires = market.chain.client(None).call(MARKETPLACE, "licenseOf", market.honest, buyer)[0]
    assert int(licence.get_attribute("data-expires-at")) == expires
    expected_text = page.evaluate(
        "t => new Date(t * 1000)"
        ".toLocaleString(undefined, {dateStyle: 'medium', timeStyle: 'long'})",
        expires,
    )
    assert expected_text in licence.inner_text()
    assert "GMT+5:30" in licence.inner_text()  # local time of the browser's zone, not UTC
    shot(page, "license-confirmed")
    axe(page, "license-confirmed")


def test_rejected_license_shows_the_decoded_custom_error(page, market: Market) -> None:
    open_page(page, f"{market.base_url}#/model/{market.honest}")
    page.locator("[data-testid=badge][data-state=pass]").wait_for()
    _use_dev_account(page, 4)
    # The owner pauses the offer after the page loaded it: the purchase now reverts.
    market.chain.client(1).transact(MARKETPLACE, "setLicenseOfferActive", market.honest, 0, False)
    try:
        form = page.locator("[data-testid=license-form][data-offer-id='0']")
        form.get_by_label("Your ML-KEM-768 key digest").fill(KEM_DIGEST)
        form.get_by_role("button", name="License for 0.01 ETH").click()
        error = form.get_by_test_id("tx-error")
        error.wait_for()
        assert form.get_by_test_id("tx-status").get_attribute("data-state") == "failed"
        assert error.inner_text() == f"MarketplaceOfferInactive(tokenId={market.honest}, offerId=0)"
        shot(page, "license-rejected")
        axe(page, "license-rejected")
    finally:
        market.chain.client(1).transact(
            MARKETPLACE, "setLicenseOfferActive", market.honest, 0, True
        )


def test_buy_transfers_the_token(page, market: Market) -> None:
    open_page(page, f"{market.base_url}#/model/{market.for_sale}")
    page.locator("[data-testid=badge][data-state=pass]").wait_for()
    buyer = _use_dev_account(page, 5)

    page.get_by_role("button", name="Buy for 0.02 ETH").click()
    page.get_by_text("This model is not for sale.").wait_for()  # page re-read after confirmation

    assert market.chain.client(None).call(MODEL_NFT, "ownerOf", market.for_sale) == buyer
    assert buyer in page.locator("section[aria-labelledby=h-details]").inner_text()
    shot(page, "bought")


def _wallet(market: Market, funds: int = 10**18) -> TestWallet:
    """A test wallet with its own key, funded from dev account 0."""
    wallet = TestWallet(market.chain.rpc_url, market.chain.chain_id)
    market.chain.client(0).send_ether(wallet.address, funds)
    return wallet


def _connect_test_wallet(page) -> None:
    page.get_by_role("button", name=f"Connect {WALLET_NAME}").click()
    page.get_by_test_id("account").wait_for()


def _settled(page, status, label: str = "") -> str:
    """Wait until the transaction labelled ``label`` is confirmed or failed; its state."""
    page.wait_for_function(
        "([el, label]) => (el.dataset.state === 'confirmed' || el.dataset.state === 'failed')"
        " && el.textContent.startsWith(label)",
        arg=[status.element_handle(), label],
    )
    return status.get_attribute("data-state")


def test_wrong_network_banner_switches_the_wallet(page, market: Market) -> None:
    _wallet(market, funds=0).install(page, start_chain_id=1)
    open_page(page, market.base_url)

    _connect_test_wallet(page)

    banner = page.get_by_test_id("wrong-network")
    banner.wait_for()
    assert "chain 1" in banner.inner_text()
    assert f"chain {market.chain.chain_id}" in banner.inner_text()
    assert banner.get_attribute("role") == "alert"
    shot(page, "wrong-network")
    axe(page, "wrong-network")
    banner.get_by_role("button", name=f"Switch to chain {market.chain.chain_id}").click()
    banner.wait_for(state="detached")  # wallet_switchEthereumChain answered, chainChanged seen


@pytest.mark.attack(
    "key-material-in-page",
    actor="a script or extension reading the page or its storage",
    attack="find the wallet's private key in the DOM, localStorage or sessionStorage",
    control="the page never asks for or stores keys; wallets sign outside the page",
)
def test_injected_wallet_signs_licence_and_renewal(page, market: Market) -> None:
    wallet = _wallet(market)
    wallet.install(page)
    reader = market.chain.client(None)
    assert wallet.address not in market.chain.dev_accounts  # the node cannot sign for it
    open_page(page, f"{market.base_url}#/model/{market.honest}")
    page.locator("[data-testid=badge][data-state=pass]").wait_for()
    _connect_test_wallet(page)

    form = page.locator("[data-testid=license-form][data-offer-id='0']")
    form.get_by_label("Your ML-KEM-768 key digest").fill(KEM_DIGEST)
    form.get_by_role("button", name="License for 0.01 ETH").click()
    status = form.get_by_test_id("tx-status")
    assert _settled(page, status) == "confirmed", status.inner_text()
    first = reader.call(MARKETPLACE, "licenseOf", market.honest, wallet.address)[0]
    page.locator(f"[data-testid=license-status][data-expires-at='{first}']").wait_for()
    assert len(wallet.sent) == 1
    sent = reader.w3.eth.get_transaction(wallet.sent[0])
    assert sent["from"] == wallet.address

    # A valid licence turns the offer into a renewal that extends from the current expiry.
    form = page.locator("[data-testid=license-form][data-offer-id='0']")
    note = form.get_by_test_id("renewal-note")
    note.wait_for()
    assert "extends your licence" in note.inner_text()
    form.get_by_label("Your ML-KEM-768 key digest").fill(KEM_DIGEST)
    form.get_by_role("button", name="Renew for 0.01 ETH").click()
    status = form.get_by_test_id("tx-status")
    assert _settled(page, status, "Renew") == "confirmed", status.inner_text()
    renewed = reader.call(MARKETPLACE, "licenseOf", market.honest, wallet.address)[0]
    assert renewed == first + LICENSE_DAYS * 86400
    page.locator(f"[data-testid=license-status][data-expires-at='{renewed}']").wait_for()
    shot(page, "license-renewed")

    # My account lists the licence with its on-chain expiry, in local time.
    page.get_by_role("link", name="My account").click()
    row = page.locator(f"[data-testid=licence][data-token-id='{market.honest}']")
    row.wait_for()
    assert row.get_attribute("data-expires-at") == str(renewed)
    assert row.get_attribute("data-state") == "valid"
    assert "GMT+5:30" in row.inner_text()
    shot(page, "account-licensee")
    axe(page, "account-licensee")

    # The key never reaches the page or its storage.
    exposed = page.evaluate(
        "() => document.documentElement.outerHTML + JSON.stringify({...localStorage})"
        " + JSON.stringify({...sessionStorage})"
    )
    assert wallet.private_key_hex.lower() not in exposed.lower()


def test_rejecting_in_the_wallet_sends_nothing(page, market: Market) -> None:
    wallet = _wallet(market)
    wallet.install(page, mode="reject")
    open_page(page, f"{market.base_url}#/model/{market.honest}")
    page.locator("[data-testid=badge][data-state=pass]").wait_for()
    _connect_test_wallet(page)
    nonce = market.chain.client(None).w3.eth.get_transaction_count(wallet.address)

    form = page.locator("[data-testid=license-form][data-offer-id='0']")
    form.get_by_label("Your ML-KEM-768 key digest").fill(KEM_DIGEST)
    form.get_by_role("button", name="License for 0.01 ETH").click()
    status = form.get_by_test_id("tx-status")
    assert _settled(page, status) == "failed"
    assert "cancelled" in status.inner_text()
    assert "Rejected in the wallet; nothing was sent." in status.inner_text()
    assert market.chain.client(None).w3.eth.get_transaction_count(wallet.address) == nonce
    assert page.get_by_test_id("license-status").get_attribute("data-state") == "none"


def test_owner_lists_a_model_and_creates_a_licence_offer(page, market: Market) -> None:
    reader = market.chain.client(None)
    publisher = market.chain.dev_accounts[1]
    open_page(page, f"{market.base_url}#/account")
    page.get_by_test_id("connect-first").wait_for()
    _use_dev_account(page, 1)
    owned = page.get_by_test_id("owned-model")
    owned.first.wait_for()
    minted = reader.call(MODEL_NFT, "totalMinted")
    expected = {
        t for t in range(1, minted + 1) if reader.call(MODEL_NFT, "ownerOf", t) == publisher
    }
    shown = {int(owned.nth(i).get_attribute("data-token-id")) for i in range(owned.count())}
    assert shown == expected

    card = page.locator(f"[data-testid=owned-model][data-token-id='{market.honest}']")
    card.locator("[data-testid=badge][data-state=pass]").wait_for()
    price = card.get_by_label("Sale price (ETH)")
    price.fill("lots")
    card.get_by_role("button", name="List for sale").click()
    assert "is not an amount of ETH" in card.get_by_test_id("listing").inner_text()
    price.fill("0.03")
    card.get_by_role("button", name="List for sale").click()  # approve, then list
    owned_card = f"[data-testid=owned-model][data-token-id='{market.honest}']"
    page.locator(f"{owned_card} [data-testid=listing][data-state=listed]").wait_for()
    listing = reader.call(MARKETPLACE, "listingOf", market.honest)
    assert (listing[0], listing[1]) == (publisher, 3 * 10**16)

    card = page.locator(f"[data-testid=owned-model][data-token-id='{market.honest}']")
    offers_before = reader.call(MARKETPLACE, "offerCount", market.honest)
    terms = market.ipfs.add_bytes(b"Terms: evaluation only, 7 days.\n")
    card.get_by_text("New licence offer").click()
    card.get_by_label("Price per licence (ETH)").fill("0.005")
    card.get_by_label("Days per purchase").fill("7")
    card.get_by_label("Seats (0 = unlimited)").fill("2")
    card.get_by_label("Terms document CID").fill(terms)
    card.get_by_role("button", name="Create licence offer").click()
    page.locator(
        f"[data-testid=owned-model][data-token-id='{market.honest}'] "
        f"[data-testid=own-offer][data-offer-id='{offers_before}']"
    ).wait_for()
    offer = reader.call(MARKETPLACE, "getOffer", market.honest, offers_before)
    assert (offer[0], offer[1], offer[2], offer[4], offer[7]) == (
        publisher,
        7 * 86400,
        2,
        5 * 10**15,
        terms,
    )
    shot(page, "account-owner")
    axe(page, "account-owner")

    # Pausing the new offer: the contract's flag follows.
    row = page.locator(
        f"[data-testid=owned-model][data-token-id='{market.honest}'] "
        f"[data-testid=own-offer][data-offer-id='{offers_before}']"
    )
    row.get_by_role("button", name=f"Pause offer #{offers_before}").click()
    page.locator(
        f"[data-testid=owned-model][data-token-id='{market.honest}'] "
        f"[data-testid=own-offer][data-offer-id='{offers_before}'][data-active=false]"
    ).wait_for()
    assert reader.call(MARKETPLACE, "getOffer", market.honest, offers_before)[6] is False
    # Leave the token unlisted for the other tests.
    market.chain.client(1).transact(MARKETPLACE, "cancelListing", market.honest)


def test_withdraw_revenue_pays_the_credit(page, market: Market) -> None:
    reader = market.chain.client(None)
    publisher = market.chain.dev_accounts[1]
    # A licence sale credits the publisher (pull payment).
    market.chain.client(6).transact(
        MARKETPLACE, "buyLicense", market.honest, 0, KEM_DIGEST, OFFER_PRICE, value=OFFER_PRICE
    )
    credit = reader.call(MARKETPLACE, "creditOf", publisher)
    assert credit > 0
    open_page(page, f"{market.base_url}#/account")
    _use_dev_account(page, 1)
    row = page.get_by_test_id("credit-market")
    row.wait_for()
    assert row.get_attribute("data-wei") == str(credit)
    balance = reader.balance(publisher)

    row.get_by_role("button", name="Withdraw").click()
    assert _settled(page, row.get_by_test_id("tx-status")) == "confirmed"
    page.locator("[data-testid=credit-market][data-wei='0']").wait_for()
    assert reader.call(MARKETPLACE, "creditOf", publisher) == 0
    withdrawals = reader.events(MARKETPLACE, "Withdrawal", filters={"account": publisher})
    receipt = reader.w3.eth.get_transaction_receipt(withdrawals[-1]["transactionHash"])
    fee = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert reader.balance(publisher) == balance + credit - fee
    shot(page, "account-withdrawn")


@pytest.mark.attack(
    "markup-in-untrusted-text",
    actor="a publisher writing a manifest or licence offer",
    attack="HTML/script in a model's task or an offer's terms CID, to run script in buyers' pages",
    control="DOM text nodes only (frontend/src/dom.js), never innerHTML",
)
def test_text_from_manifests_and_offers_is_never_html(page, market: Market) -> None:
    for url in (market.base_url, f"{market.base_url}#/model/{market.hostile}"):
        open_page(page, url)
        page.locator("[data-testid=badge][data-state=pass]").first.wait_for()
        page.get_by_text(HOSTILE_TEXT).first.wait_for()  # shown literally, as text
        assert page.locator("main img, main script").count() == 0
        assert page.evaluate("() => window.__fqaiXss") is None


@pytest.mark.attack(
    "inline-script-in-page",
    actor="any script injection that gets past the DOM rule",
    attack="an inline <script> inserted into the dApp page",
    control="Content-Security-Policy script-src 'self' (no inline script, no eval)",
)
def test_csp_forbids_inline_script(browser, market: Market) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text) if m.type == "error" else None)
        open_page(page, market.base_url)
        policy = page.get_attribute("meta[http-equiv=Content-Security-Policy]", "content")
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.__fqaiInline = 1'; document.body.append(s); }"
        )
        assert page.evaluate("() => window.__fqaiInline") is None
        assert any("Content Security Policy" in v for v in violations), violations
    finally:
        context.close()


def test_contributor_claims_round_reward_and_licence_revenue(page, market: Market) -> None:
    """A federation round pays a reward; its model's licence sales pay contributors a share."""
    chain = market.chain
    coordinator = FederationRegistry(chain.client(7))
    nodes = sorted([chain.dev_accounts[8], chain.dev_accounts[9]], key=str.lower)
    weights = [600_000, 400_000]
    reward = 10**16
    federation = coordinator.create_federation(
        FederationConfig(model_spec_cid="spec", min_stake=10**15, reward_per_round=reward),
        pool_wei=10 * reward,
    )
    for i, node in enumerate(nodes):
        FederationRegistry(chain.client(chain.dev_accounts.index(node))).join(
            federation, "0x" + f"{i + 1:02x}" * 32, 10**15
        )
    round_ = coordinator.open_round(federation)
    for node in nodes:
        FederationRegistry(chain.client(chain.dev_accounts.index(node))).commit_update(
            federation, round_, "0x" + "cd" * 32
        )
    digest = "0x" + "ee" * 32
    coordinator.finalize_round(
        federation, round_, "round-model", digest, "0x" + "00" * 32, nodes, weights
    )
    token = coordinator.mint_model(
        federation,
        chain.dev_accounts[7],
        MintParams("round-model", digest, "0x" + "01" * 32, chain.dev_accounts[7]),
    )
    owner = chain.client(7)
    owner.transact(MARKETPLACE, "createLicenseOffer", token, OFFER_PRICE, 86400, 0, 0, "terms")
    chain.client(2).transact(
        MARKETPLACE, "buyLicense", token, 0, KEM_DIGEST, OFFER_PRICE, value=OFFER_PRICE
    )
    reader = chain.client(None)
    contributor = nodes[0]
    revenue_total = reader.call(MARKETPLACE, "contributorRevenue", token, contributor)[0]
    assert revenue_total > 0
    registry_before = reader.call(REGISTRY, "creditOf", contributor)
    market_before = reader.call(MARKETPLACE, "creditOf", contributor)

    open_page(page, f"{market.base_url}#/account")
    _use_dev_account(page, chain.dev_accounts.index(contributor))
    reward_claim = page.locator(f"[data-testid=claim][data-claim='reward-{federation}-{round_}']")
    revenue_claim = page.locator(f"[data-testid=claim][data-claim='revenue-{token}']")
    reward_claim.wait_for()
    revenue_claim.wait_for()
    reward_share = reward * weights[0] // 1_000_000
    revenue_share = revenue_total * weights[0] // 1_000_000
    assert formatted_eth(reward_share) in reward_claim.inner_text()
    assert formatted_eth(revenue_share) in revenue_claim.inner_text()
    shot(page, "account-claims")
    axe(page, "account-claims")

    reward_claim.get_by_role("button", name="Claim").click()
    reward_claim.wait_for(state="detached")  # claimed: the account is re-read without it
    page.locator(f"[data-testid=claim][data-claim='revenue-{token}']").get_by_role(
        "button", name="Claim"
    ).click()
    page.get_by_test_id("no-claims").wait_for()  # both claimed; the list is re-read
    assert reader.call(REGISTRY, "creditOf", contributor) == registry_before + reward_share
    assert reader.call(MARKETPLACE, "creditOf", contributor) == market_before + revenue_share
    page.locator(
        f"[data-testid=credit-registry][data-wei='{registry_before + reward_share}']"
    ).wait_for()


def formatted_eth(wei: int) -> str:
    """ethers' formatEther: at least one decimal, no trailing zeros."""
    whole, frac = divmod(wei, 10**18)
    return f"{whole}.{(str(frac).rjust(18, '0').rstrip('0') or '0')} ETH"


def test_quantum_model_page_shows_its_circuit_and_classical_twins(page, market: Market) -> None:
    params = task.model_params("breast_cancer", QUANTUM_MODEL, 0)["quantum"]
    circuit = params["circuit"]
    summary = f"quantum model: {circuit['qubits']} qubits, depth {circuit['depth']}"
    open_page(page, market.base_url)
    card = page.locator(f"[data-testid=model-card][data-token-id='{market.quantum}']")
    card.locator("[data-testid=badge][data-state=pass]").wait_for()
    assert summary in card.inner_text()

    open_page(page, f"{market.base_url}#/model/{market.quantum}")
    page.locator("[data-testid=badge][data-state=pass]").wait_for()
    assert page.get_by_test_id("quantum-summary").inner_text() == summary
    assert page.get_by_test_id("qasm-check").get_attribute("data-status") == "pass"
    assert f"{circuit['two_qubit_gates']} two-qubit gates" in page.locator("main").inner_text()
    # The classical-twin figures are the benchmark's, at this qubit count, mean ± sd.
    bench = json.loads((FRONTEND.parent / "docs" / "benchmarks" / "qml.json").read_text())
    row = next(r for r in bench["results"] if r["qubits"] == circuit["qubits"])
    for model in ("quantum", "mlp", "logistic"):
        values = row["accuracy"][model]["central"]
        mean, sd = statistics.mean(values), statistics.stdev(values)
        cell = page.locator(
            f"[data-testid=twin-table] tr[data-model={model}] td[data-setting=central]"
        )
        assert cell.inner_text() == f"{100 * mean:.1f} ± {100 * sd:.1f}"
    shot(page, "model-quantum")
    axe(page, "model-quantum")
