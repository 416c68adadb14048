"""Gas used by every public state-changing action of fqai's contracts, on a fresh Anvil chain.

    make bench        (runs `brownie run scripts/bench_gas.py`)

Writes the table between the gas markers of docs/BENCHMARKS.md and prints it. Each figure is the
`gasUsed` of one real transaction; where the storage state matters (first write to a slot costs
20 000 gas more than a later one) the scenario is named in the row.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import time
from pathlib import Path

from brownie import TestActor, accounts, chain, web3

from scripts.deploy import deploy_contracts

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "BENCHMARKS.md"
BEGIN, END = "<!-- gas:begin -->", "<!-- gas:end -->"
WEIGHT_TOTAL = 1_000_000

# Targets from the contracts issue.
TARGETS = {
    "ModelNFT.mint": 150_000,
    "ModelMarketplace.buyLicense": 100_000,
    "FederationRegistry.commitUpdate": 60_000,
    "FederationRegistry.finalizeRound (20 contributors)": 600_000,
}


def d(label: str) -> str:
    return "0x" + hashlib.sha256(label.encode()).hexdigest()


def sorted_accounts(items):
    return sorted(items, key=lambda a: int(a.address, 16))


def equal_weights(n: int) -> list[int]:
    weights = [WEIGHT_TOTAL // n] * n
    weights[-1] += WEIGHT_TOTAL - sum(weights)
    return weights


class Recorder:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, int]] = []

    def add(self, action: str, scenario: str, tx) -> None:
        self.rows.append((action, scenario, tx.gas_used))


def fresh_nodes(n: int, funder) -> list:
    nodes = [accounts.add() for _ in range(n)]
    for node in nodes:
        funder.transfer(node, 10**18, silent=True)
    return sorted_accounts(nodes)


def run_federation(rec: Recorder, dep, coordinator, funder) -> None:
    reg = dep.registry
    config = ("bafkreispec", 10**17, 10**18, 200, 200, 5, 500, 64, 1000, 3000)
    tx = reg.createFederation(config, {"from": coordinator, "value": 10**20})
    rec.add("FederationRegistry.createFederation", "with 100 ETH reward pool", tx)
    fed = tx.return_value
    rec.add(
        "FederationRegistry.fundRewardPool",
        "",
        reg.fundRewardPool(fed, {"from": funder, "value": 10**18}),
    )

    for size in (1, 4, 20, 64):
        # A federation per size so every measurement starts from the same kind of state.
        fed = reg.createFederation(config, {"from": coordinator, "value": 10**20}).return_value
        nodes = fresh_nodes(size, funder)
        for i, node in enumerate(nodes):
            tx = reg.join(fed, d(f"{size}/{i}"), {"from": node, "value": 10**17})
        if size == 4:
            rec.add("FederationRegistry.join", "stake 0.1 ETH", tx)
            node = fresh_nodes(1, funder)[0]
            tx = reg.joinWithSuperNodeKey(
                fed, d("4/sn"), d("4/sn/flower"), {"from": node, "value": 10**17}
            )
            rec.add("FederationRegistry.joinWithSuperNodeKey", "stake 0.1 ETH + SuperNode key", tx)
            tx = reg.setSuperNodeKey(fed, d("4/sn/flower2"), {"from": node})
            rec.add("FederationRegistry.setSuperNodeKey", "rotating a registered key", tx)
            reg.requestLeave(fed, {"from": node})
        tx = reg.openRound(fed, {"from": coordinator})
        if size == 4:
            rec.add("FederationRegistry.openRound", "first round", tx)
        round_ = tx.return_value
        for node in nodes:
            tx = reg.commitUpdate(fed, round_, d(f"u{node.address}"), {"from": node})
        if size == 4:
            rec.add("FederationRegistry.commitUpdate", "", tx)
        weights = equal_weights(size)
        tx = reg.finalizeRound(
            fed, round_, "bafkreiglobalmanifestcidxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            d("global"), d("root"), nodes, weights, {"from": coordinator},
        )  # fmt: skip
        rec.add(
            f"FederationRegistry.finalizeRound ({size} contributor{'s' if size > 1 else ''})",
            f"{tx.gas_used / size:,.0f} gas per contributor",
            tx,
        )
        if size == 20:
            tx = reg.claimReward(fed, round_, nodes, weights, {"from": nodes[7]})
            rec.add("FederationRegistry.claimReward", "20-contributor round", tx)
            tx = reg.withdraw(reg.creditOf(nodes[7]), {"from": nodes[7]})
            rec.add("FederationRegistry.withdraw", "", tx)
            params = ("bafkreifedmodel", d("w"), d("s"), 0, 0, 0, coordinator.address, 250)
            tx = reg.mintModel(fed, coordinator, params, {"from": coordinator})
            rec.add("FederationRegistry.mintModel", "includes ModelNFT.mint", tx)

    # Exclusion, contest, slash, leave, release.
    fed = reg.createFederation(config, {"from": coordinator, "value": 10**19}).return_value
    nodes = fresh_nodes(3, funder)
    for i, node in enumerate(nodes):
        reg.join(fed, d(f"x{i}"), {"from": node, "value": 10**17})
    round_ = reg.openRound(fed, {"from": coordinator}).return_value
    for node in nodes:
        reg.commitUpdate(fed, round_, d(f"x{node.address}"), {"from": node})
    included, excluded = [nodes[0]], nodes[1:]
    reg.finalizeRound(
        fed, round_, "bafkreix", d("g"), d("r"), included, [WEIGHT_TOTAL], {"from": coordinator}
    )
    tx = reg.contestExclusion(
        fed, round_, "bafkreievidence", included, [WEIGHT_TOTAL], {"from": excluded[0]}
    )
    rec.add("FederationRegistry.contestExclusion", "", tx)
    chain.mine(6)
    tx = reg.slashExcluded(fed, round_, excluded[1], included, [WEIGHT_TOTAL], {"from": funder})
    rec.add("FederationRegistry.slashExcluded", "slash without ejection", tx)
    tx = reg.requestLeave(fed, {"from": nodes[0]})
    rec.add("FederationRegistry.requestLeave", "", tx)
    chain.mine(500)
    tx = reg.releaseStake(fed, {"from": nodes[0]})
    rec.add("FederationRegistry.releaseStake", "", tx)
    owner = accounts[0]
    rec.add("FederationRegistry.pause", "", reg.pause({"from": owner}))
    rec.add("FederationRegistry.unpause", "", reg.unpause({"from": owner}))


def run_nft_and_market(rec: Recorder, dep, owner) -> None:
    nft, market = dep.nft, dep.marketplace
    publisher, seller, buyer = accounts[1], accounts[2], accounts[3]
    rec.add("ModelNFT.setMinter", "", nft.setMinter(publisher, True, {"from": owner}))
    params = (
        "bafkreimodelmanifestcidxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        d("w1"),
        d("s1"),
        0,
        0,
        0,
        publisher.address,
        500,
    )
    tx = nft.mint(seller, params, {"from": publisher})
    rec.add("ModelNFT.mint", "59-char CID, 5 % royalty", tx)
    token = tx.return_value
    params2 = (
        "bafkreichildmanifestcidxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        d("w2"),
        d("s2"),
        0,
        0,
        token,
        publisher.address,
        0,
    )
    rec.add(
        "ModelNFT.mint", "no royalty, with parent", nft.mint(seller, params2, {"from": publisher})
    )
    actor = TestActor.deploy({"from": owner, "silent": True})
    rec.add(
        "ModelNFT.setFederationRegistry",
        "replacing the registry",
        nft.setFederationRegistry(actor, {"from": owner}),
    )
    nft.setFederationRegistry(dep.registry, {"from": owner, "silent": True})

    rec.add("ModelNFT.approve", "", nft.approve(market, token, {"from": seller}))
    rec.add("ModelMarketplace.list", "", market.list(token, 10**18, {"from": seller}))
    rec.add("ModelMarketplace.cancelListing", "", market.cancelListing(token, {"from": seller}))
    market.list(token, 10**18, {"from": seller, "silent": True})
    tx = market.buy(token, 10**18, {"from": buyer, "value": 10**18})
    rec.add("ModelMarketplace.buy", "royalty + seller credited, NFT transferred", tx)

    tx = market.createLicenseOffer(
        token,
        10**17,
        30 * 86400,
        100,
        0,
        "bafkreitermsdocumentcidxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        {"from": buyer},
    )
    rec.add("ModelMarketplace.createLicenseOffer", "", tx)
    rec.add(
        "ModelMarketplace.setLicenseOfferActive",
        "",
        market.setLicenseOfferActive(token, 0, False, {"from": buyer}),
    )
    market.setLicenseOfferActive(token, 0, True, {"from": buyer, "silent": True})
    licensees = accounts[4:8]
    tx = market.buyLicense(token, 0, d("kem0"), 10**17, {"from": licensees[0], "value": 10**17})
    rec.add("ModelMarketplace.buyLicense", "first licence ever (cold totals slot)", tx)
    tx = market.buyLicense(token, 0, d("kem1"), 10**17, {"from": licensees[1], "value": 10**17})
    rec.add("ModelMarketplace.buyLicense", "new licensee, exact payment", tx)
    tx = market.buyLicense(token, 0, d("kem1"), 10**17, {"from": licensees[1], "value": 10**17})
    rec.add("ModelMarketplace.buyLicense", "renewal", tx)
    tx = market.buyLicense(token, 0, d("kem2"), 10**17, {"from": licensees[2], "value": 2 * 10**17})
    rec.add("ModelMarketplace.buyLicense", "new licensee, excess credited", tx)
    # A CIDv1 of a raw block (59 characters), as the key service pins the wrapped-key record.
    wrapped_cid = "bafkrei" + "a" * 52
    license_id = market.licenseOf(token, licensees[0])[2]
    tx = market.deliverKey(token, licensees[0], license_id, wrapped_cid, {"from": buyer})
    rec.add("ModelMarketplace.deliverKey", "wrapped-key CID (59 characters)", tx)
    tx = market.withdraw(market.creditOf(buyer), {"from": buyer})
    rec.add("ModelMarketplace.withdraw", "", tx)
    rec.add("ModelMarketplace.pause", "", market.pause({"from": owner}))
    rec.add("ModelMarketplace.unpause", "", market.unpause({"from": owner}))


def run_contributor_revenue(rec: Recorder, dep, coordinator, funder) -> None:
    reg, market = dep.registry, dep.marketplace
    config = ("bafkreispec", 10**17, 10**18, 50, 50, 5, 200, 8, 1000, 3000)
    fed = reg.createFederation(config, {"from": coordinator, "value": 10**19}).return_value
    nodes = fresh_nodes(4, funder)
    for i, node in enumerate(nodes):
        reg.join(fed, d(f"r{i}"), {"from": node, "value": 10**17})
    round_ = reg.openRound(fed, {"from": coordinator}).return_value
    for node in nodes:
        reg.commitUpdate(fed, round_, d(f"r{node.address}"), {"from": node})
    weights = equal_weights(4)
    reg.finalizeRound(
        fed, round_, "bafkreir", d("g"), d("r"), nodes, weights, {"from": coordinator}
    )
    owner = accounts[8]
    params = ("bafkreifedmodelr", d("w"), d("s"), 0, 0, 0, coordinator.address, 0)
    token = reg.mintModel(fed, owner, params, {"from": coordinator}).return_value
    market.createLicenseOffer(token, 10**17, 86400, 0, 0, "bafkreiterms", {"from": owner})
    tx = market.buyLicense(token, 0, d("k"), 10**17, {"from": accounts[9], "value": 10**17})
    rec.add("ModelMarketplace.buyLicense", "federation model, first contributor share", tx)
    tx = market.buyLicense(token, 0, d("k2"), 10**17, {"from": accounts[10], "value": 10**17})
    rec.add("ModelMarketplace.buyLicense", "federation model, new licensee", tx)
    tx = market.claimContributorRevenue(token, nodes, weights, {"from": nodes[2]})
    rec.add("ModelMarketplace.claimContributorRevenue", "4-contributor round", tx)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    anvil = subprocess.run(
        ["anvil", "--version"], capture_output=True, text=True
    ).stdout.splitlines()
    return f"{cpu}; {platform.system()} {platform.release()}; {anvil[0] if anvil else 'anvil'}"


def render(rec: Recorder) -> str:
    lines = [
        BEGIN,
        "## Contract gas",
        "",
        "- Command: `make bench` (`brownie run scripts/bench_gas.py`), "
        + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        f"- Chain: {web3.client_version} (chain id {chain.id}), Shanghai EVM, "
        "solc-js 0.8.28, optimizer 200 runs",
        f"- Machine: {machine()}",
        "- Gas is deterministic for a given state; figures are `gasUsed` of real transactions, "
        "21 000 base cost included.",
        "",
        "| action | scenario | gas | target |",
        "| --- | --- | ---: | ---: |",
    ]
    for action, scenario, gas in rec.rows:
        target = TARGETS.get(action)
        mark = ""
        if target is not None:
            mark = f"≤ {target:,} {'✅' if gas <= target else '❌'}"
        lines.append(f"| `{action}` | {scenario} | {gas:,} | {mark} |")
    lines.append(END)
    return "\n".join(lines)


def write_doc(table: str) -> None:
    if DOC.exists():
        text = DOC.read_text()
    else:
        text = "# Benchmarks\n\nEvery figure here was measured by the command shown beside it.\n\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + table + tail
    else:
        text = text.rstrip() + "\n\n" + table + "\n"
    DOC.write_text(text)


def main() -> None:
    owner, coordinator, funder = accounts[0], accounts[11], accounts[12]
    dep = deploy_contracts(owner)
    rec = Recorder()
    for name in ("ModelNFT", "FederationRegistry", "ModelMarketplace"):
        contract = {
            "ModelNFT": dep.nft,
            "FederationRegistry": dep.registry,
            "ModelMarketplace": dep.marketplace,
        }[name]
        rec.add(f"{name} (deployment)", "", contract.tx)
    run_nft_and_market(rec, dep, owner)
    run_federation(rec, dep, coordinator, funder)
    run_contributor_revenue(rec, dep, coordinator, funder)
    table = render(rec)
    write_doc(table)
    print(table)
