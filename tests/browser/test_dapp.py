"""The web dApp in a real browser (Debian's Chromium through Playwright) against Anvil with the
contracts deployed, a js-ipfs node and the built frontend served on 127.0.0.1.

Checks: the catalogue lists freshly minted models; the provenance badge passes for an honest
token and fails, naming the check, for a tampered manifest; licence purchase with transaction
states and the expiry in local time; a rejected transaction shows the decoded custom error; buy;
wrong-network banner; no console errors and no serious/critical axe-core violations on every page.
Screenshots go to reports/browser/.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fqai.chain.deployment import MARKETPLACE, MODEL_NFT
from fqai.chain.registry import to_bytes32
from fqai.encoding import b64encode
from fqai.ipfs.client import IpfsClient
from fqai.jcs import canonicalize
from fqai.manifest.model import ModelSpec
from fqai.trust.publish import publish_artifact
from fqai.weights import save_weights
from tests.python.conftest import make_tensors

from .helpers import ARTIFACTS, DIST, FRONTEND, node_binary

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("FQAI_CHROMIUM", "/usr/bin/chromium")
OFFER_PRICE = 10**16
LIST_PRICE = 2 * 10**16
LICENSE_DAYS = 30
KEM_DIGEST = "0x" + "ab" * 32
TIMEZONE = "Asia/Kolkata"  # a non-UTC zone with a half-hour offset shows local-time rendering


def _load_serve_module():
    spec = importlib.util.spec_from_file_location("fqai_frontend_serve", FRONTEND / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def built_frontend() -> Path:
    """`npm run build` of frontend/ (node_modules must exist: `npm ci` in frontend/)."""
    if not (FRONTEND / "node_modules" / ".bin" / "vite").exists():
        pytest.fail("frontend dependencies missing: run `npm ci` in frontend/")
    env = {**os.environ, "PATH": f"{Path(node_binary()).parent}:{os.environ['PATH']}"}
    subprocess.run(
        ["npm", "run", "build"], cwd=FRONTEND, env=env, check=True, capture_output=True, timeout=300
    )
    return DIST


@dataclass(frozen=True)
class Market:
    base_url: str
    honest: int  # token with a licence offer
    tampered: int  # token whose manifest was altered after signing
    for_sale: int  # token listed for sale
    model_name: str
    chain: object


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

    serve = _load_serve_module()
    api = ipfs_node.api_url.removesuffix("/api/v0")
    server, url = serve.serve_in_thread(
        rpc_url=deployed_chain.rpc_url,
        ipfs_api=api,
        deployment=deployed_chain.deployments_dir / f"{deployed_chain.chain_id}.json",
        dist=built_frontend,
    )
    try:
        yield Market(url, honest_id, tampered_id, sale_id, name, deployed_chain)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: apt-get install chromium (or set FQAI_CHROMIUM)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture()
def page(browser, request) -> Iterator[object]:
    """A fresh page; fails the test on any console error or uncaught exception."""
    context = browser.new_context(
        timezone_id=TIMEZONE, locale="en-GB", viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-final.png"), full_page=True)
    context.close()
    assert not errors, f"console errors: {errors}"


def _axe(page, name: str) -> None:
    """Run axe-core in the page; fail on serious or critical violations; keep the report."""
    page.add_script_tag(path=str(FRONTEND / "node_modules" / "axe-core" / "axe.min.js"))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(result["violations"], indent=1))
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, bad


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready='true']")


def _use_dev_account(page, index: int) -> str:
    page.select_option("#dev-account", index=index)
    address = page.eval_on_selector("#dev-account", "s => s.value")
    page.get_by_role("button", name="Use dev account").click()
    page.get_by_test_id("account").wait_for()
    return address


def test_catalogue_lists_minted_models_with_provenance_badges(page, market: Market) -> None:
    _open(page, market.base_url)

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
    _shot(page, "catalogue")
    _axe(page, "catalogue")


def test_model_page_verifies_provenance_in_the_browser(page, market: Market) -> None:
    _open(page, f"{market.base_url}#/model/{market.honest}")

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
    _shot(page, "model-verified")
    _axe(page, "model-verified")


def test_tampered_manifest_fails_and_names_the_check(page, market: Market) -> None:
    _open(page, f"{market.base_url}#/model/{market.tampered}")

    page.locator("[data-testid=badge][data-state=fail]").wait_for()
    failed = page.locator("[data-testid=check][data-status=fail]")
    assert failed.count() == 1
    assert failed.get_attribute("data-check") == "signature"
    assert "does not verify" in failed.inner_text()
    # the earlier checks passed: the bytes are what the CID names, only the signature is wrong
    assert page.locator("[data-testid=check][data-status=pass]").count() == 4
    assert "0.999" not in page.locator("main").inner_text()
    _shot(page, "model-tampered")
    _axe(page, "model-tampered")


def test_license_flow_shows_states_and_local_expiry(page, market: Market) -> None:
    _open(page, f"{market.base_url}#/model/{market.honest}")
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
    _shot(page, "license-confirmed")
    _axe(page, "license-confirmed")


def test_rejected_license_shows_the_decoded_custom_error(page, market: Market) -> None:
    _open(page, f"{market.base_url}#/model/{market.honest}")
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
        _shot(page, "license-rejected")
        _axe(page, "license-rejected")
    finally:
        market.chain.client(1).transact(
            MARKETPLACE, "setLicenseOfferActive", market.honest, 0, True
        )


def test_buy_transfers_the_token(page, market: Market) -> None:
    _open(page, f"{market.base_url}#/model/{market.for_sale}")
    page.locator("[data-testid=badge][data-state=pass]").wait_for()
    buyer = _use_dev_account(page, 5)

    page.get_by_role("button", name="Buy for 0.02 ETH").click()
    page.get_by_text("This model is not for sale.").wait_for()  # page re-read after confirmation

    assert market.chain.client(None).call(MODEL_NFT, "ownerOf", market.for_sale) == buyer
    assert buyer in page.locator("section[aria-labelledby=h-details]").inner_text()
    _shot(page, "bought")


FAKE_WALLET = """
(() => {
  const listeners = {};
  const provider = {
    request: async ({ method }) => {
      if (method === 'eth_requestAccounts' || method === 'eth_accounts')
        return ['0x000000000000000000000000000000000000dEaD'];
      if (method === 'eth_chainId') return '0x1';
      throw Object.assign(new Error('unsupported in test wallet'), { code: 4200 });
    },
    on: (name, fn) => { (listeners[name] ||= []).push(fn); },
    removeListener: () => {},
  };
  const info = { uuid: '6b1f0a4e-0000-4000-8000-000000000001', name: 'Test Wallet',
                 icon: 'data:image/svg+xml,<svg xmlns=%22http://www.w3.org/2000/svg%22/>',
                 rdns: 'org.fqai.test' };
  const announce = () => window.dispatchEvent(new CustomEvent('eip6963:announceProvider',
    { detail: Object.freeze({ info, provider }) }));
  window.addEventListener('eip6963:requestProvider', announce);
  announce();
})();
"""


def test_wrong_network_banner_for_an_eip6963_wallet(page, market: Market) -> None:
    page.add_init_script(FAKE_WALLET)
    _open(page, market.base_url)

    page.get_by_role("button", name="Connect Test Wallet").click()

    banner = page.get_by_test_id("wrong-network")
    banner.wait_for()
    assert "chain 1" in banner.inner_text()
    assert f"chain {market.chain.chain_id}" in banner.inner_text()
    assert banner.get_attribute("role") == "alert"
    _shot(page, "wrong-network")
    _axe(page, "wrong-network")
