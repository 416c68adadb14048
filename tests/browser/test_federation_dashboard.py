"""The federation dashboard in a real browser, watching a real federation.

Anvil with the contracts deployed, a js-ipfs node, a Flower SuperLink and 4 `fqai node start`
SuperNodes (one sends tampered weights whenever it is chosen), and `fqai federation run` for 2
rounds with `--selection qaoa:3` (QAOA on Aer beside the exact solver). The dashboard is opened
before the run starts and must show each round as it is finalised, without a reload. Then:
the federations list with the member count and rounds finalised; members and stakes; every
finalised round's contributors, weights and commitments; the accuracy chart with one point per
round whose values are the signed round reports' (read from IPFS here, starting from the chain's
RoundFinalized events); the rejected update with its reason; the classical vs QAOA figures of
every round; a round report whose bytes do not match their CID, and a round model the gateway
cannot serve, named in an alert; polling stops when the page is left. Every page: no console
errors, no serious or critical axe-core violations. Screenshots go to reports/browser/
(docs/screenshots/federation.png is a copy of federation-dashboard.png).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fqai.chain import FederationConfig, FederationRegistry, MemberStatus
from fqai.chain.deployment import REGISTRY
from fqai.devnet.ipfs_node import IpfsNode
from fqai.federation.report import fetch_round_report
from fqai.federation.runtime import SuperLink
from fqai.ipfs.client import IpfsClient
from fqai.trust.fetch import fetch_verified_manifest
from tests.python.federation_fixtures import (
    FQAI,
    CliFederation,
    DeployedChain,
    cli_federation,
    start_cli_nodes,
    stop_process,
)

from .fixtures_common import allow_console_errors, axe, open_page, serve_dapp, shot

ROUNDS = 2
NODES = 4
FAULTY = 3  # sends tampered weights in every round: rejected with reason "weights" when chosen
# A node not chosen in round 1 is the stalest in round 2 and scores highest, so the faulty node
# trains (and is rejected) in at least one of the two rounds.
FAULT = ",".join(["tamper-weights"] * ROUNDS)
FUNDER = 7  # dev account that funds the keystores (the dApp tests use 0-6)
RUN_TIMEOUT = 300
ROUND_WAIT_MS = 240_000


@dataclass
class Watched:
    """A federation whose nodes are up, and its run (started by the first test that needs it)."""

    chain: DeployedChain
    ipfs_node: IpfsNode
    setup: CliFederation
    base: Path
    superlink: str
    url: str
    run: subprocess.Popen[str] | None = None
    finished: dict[str, Any] | None = field(default=None)

    @property
    def dashboard(self) -> str:
        return f"{self.url}#/federation/{self.setup.federation_id}"

    def start_run(self) -> None:
        assert self.run is None, "the run was already started"
        out = (self.base / "run.out").open("w")
        args = [
            *FQAI, "federation", "run", "--federation-id", str(self.setup.federation_id),
            "--rounds", str(ROUNDS), "--min-nodes", str(NODES), "--quorum", "2",
            "--selection", "qaoa:3", "--qaoa-reps", "1", "--qaoa-shots", "500",
            "--qaoa-budget", "60", "--superlink", self.superlink,
            "--work-dir", str(self.base / "run"), "--round-timeout", "60",
            "--keystore", str(self.base / "keys" / "coordinator"),
            "--ipfs-api", self.ipfs_node.api_address, *self.setup.common,
        ]  # fmt: skip
        self.run = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )

    def wait(self) -> dict[str, Any]:
        """Start the run if no test did, wait for it, and read what the chain and IPFS say."""
        if self.finished is None:
            if self.run is None:
                self.start_run()
            try:
                code = self.run.wait(timeout=RUN_TIMEOUT)
            except subprocess.TimeoutExpired:
                stop_process(self.run)
                code = None
            assert code == 0, (self.base / "run.out").read_text()[-5000:]
            self.finished = _read_back(self)
        return self.finished


def _read_back(watched: Watched) -> dict[str, Any]:
    """The federation as the chain and IPFS record it: events, member views and the signed
    round reports (RoundFinalized -> round-model manifest -> its round_report)."""
    fed = watched.setup.federation_id
    reader = watched.chain.client(None)
    registry = FederationRegistry(reader)
    finalized = registry.finalized_rounds(fed)
    reports = {}
    with IpfsClient(watched.ipfs_node.api_address, timeout=20) as ipfs:
        for event in finalized:
            manifest = fetch_verified_manifest(ipfs, event.global_manifest_cid).manifest
            report = fetch_round_report(ipfs, manifest.round_report)
            reports[event.round] = {"cid": report.cid, "body": report.body}
    commits = reader.events(REGISTRY, "UpdateCommitted", filters={"federationId": fed})
    members = {
        n.public.eth_address: registry.member(fed, n.public.eth_address)
        for n in watched.setup.nodes
    }
    supernode_keys = {
        n.public.eth_address: registry.supernode_key_of(fed, n.public.eth_address)
        for n in watched.setup.nodes
    }
    return {
        "state": registry.federation(fed),
        "finalized": finalized,
        "reports": reports,
        "commits": commits,
        "members": members,
        "supernode_keys": supernode_keys,
    }


@pytest.fixture(scope="module")
def watched(
    deployed_chain: DeployedChain,
    ipfs_node: IpfsNode,
    built_frontend: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Watched]:
    base = tmp_path_factory.mktemp("dashboard")
    setup = cli_federation(
        deployed_chain,
        base,
        FUNDER,
        FederationConfig(model_spec_cid="bafkreifqaidashboard", min_stake=10**17),
        nodes=NODES,
    )
    with (
        serve_dapp(deployed_chain, ipfs_node, built_frontend) as url,
        SuperLink(base / "superlink.log") as link,
    ):
        nodes = start_cli_nodes(
            base, setup.federation_id, link.address, ipfs_node.api_address, setup.common,
            {FAULTY: FAULT}, count=NODES,
        )  # fmt: skip
        watched = Watched(deployed_chain, ipfs_node, setup, base, link.address, url)
        try:
            yield watched
        finally:
            if watched.run is not None:
                stop_process(watched.run)
            for process in nodes:
                stop_process(process)


@pytest.fixture()
def done(watched: Watched) -> dict[str, Any]:
    return watched.wait()


def _rounds_verified(page, count: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll("
        "'[data-testid=round][data-state=finalized] [data-testid=report-badge][data-state=pass]'"
        ").length === n",
        arg=count,
        timeout=60_000,
    )


def _open_all_details(page) -> None:
    page.evaluate(
        "() => document.querySelectorAll('main details').forEach(d => { d.open = true; })"
    )


# ------------------------------------------------------------------------------------------ tests


def test_rounds_appear_while_the_page_is_open(page, watched: Watched) -> None:
    open_page(page, watched.dashboard)
    members = page.get_by_test_id("member")
    members.first.wait_for()
    assert members.count() == NODES  # every node joined (staked) before the run
    assert "No round has been opened yet." in page.get_by_test_id("rounds").inner_text()
    page.evaluate("() => { window.__fqaiSamePage = true; }")
    shot(page, "federation-before-run")

    watched.start_run()
    for n in range(1, ROUNDS + 1):
        page.locator(f"[data-testid=round][data-round='{n}'][data-state=finalized]").wait_for(
            timeout=ROUND_WAIT_MS
        )
    _rounds_verified(page, ROUNDS)
    page.locator("[data-testid=chart-point]").nth(ROUNDS - 1).wait_for()

    # Shown by polling, not by a reload: the page's own state survived, and it said so.
    assert page.evaluate("() => window.__fqaiSamePage === true")
    assert f"Round {ROUNDS} finalised." in page.get_by_test_id("announce").inner_text()
    assert page.locator("[data-testid=chart-point]").count() == ROUNDS
    shot(page, "federation-live")
    watched.wait()


def test_federations_list_shows_members_and_rounds(page, watched: Watched, done) -> None:
    open_page(page, f"{watched.url}#/federations")
    row = page.locator(
        f"[data-testid=federation-row][data-federation-id='{watched.setup.federation_id}']"
    )
    row.wait_for()
    state = done["state"]
    assert row.get_by_test_id("member-count").inner_text() == str(state.member_count) == str(NODES)
    assert row.get_by_test_id("rounds-finalized").inner_text() == str(len(done["finalized"]))
    assert state.coordinator in row.inner_text()
    assert "0.1 ETH" in row.inner_text()  # the federation's minimum stake
    last = done["reports"][done["finalized"][-1].round]["body"]
    quorum = row.get_by_test_id("quorum")
    page.wait_for_function(
        "el => !el.textContent.includes('checking')", arg=quorum.element_handle()
    )
    assert quorum.inner_text().startswith(f"{last['quorum']} (round {last['round']} report)")
    shot(page, "federations")
    axe(page, "federations")


def test_dashboard_shows_members_rounds_and_the_signed_reports(
    page, watched: Watched, done
) -> None:
    open_page(page, watched.dashboard)
    _rounds_verified(page, len(done["finalized"]))

    # Members and stakes, as the registry's views say.
    for address, member in done["members"].items():
        row = page.locator(f"[data-testid=member][data-address='{address}']")
        assert row.get_attribute("data-stake") == str(member.stake)
        assert row.get_attribute("data-status") == MemberStatus(member.status).name.lower()
        assert row.get_by_test_id("stake").inner_text() == f"{member.stake / 10**18} ETH"
        # The digest of the key its SuperNode authenticates with (`fqai node start` registers it).
        supernode_key = done["supernode_keys"][address]
        assert int(supernode_key, 16) != 0
        assert row.get_attribute("data-supernode-key") == supernode_key

    # Every finalised round: contributors with their weights, commitments, the checks.
    for event in done["finalized"]:
        article = page.locator(f"[data-testid=round][data-round='{event.round}']")
        rows = article.get_by_test_id("contributor")
        shown = [
            (
                rows.nth(i).get_attribute("data-address"),
                int(rows.nth(i).get_attribute("data-weight")),
            )
            for i in range(rows.count())
        ]
        assert shown == list(zip(event.contributors, event.weights, strict=True))
        committed = {
            c["args"]["node"] for c in done["commits"] if c["args"]["round"] == event.round
        }
        commitments = article.get_by_test_id("commitment")
        assert {
            commitments.nth(i).get_attribute("data-node") for i in range(commitments.count())
        } == committed
        assert event.global_manifest_cid[:14] in article.inner_text()
        checks = article.get_by_test_id("report-check")
        assert {
            checks.nth(i).get_attribute("data-check"): checks.nth(i).get_attribute("data-status")
            for i in range(checks.count())
        } == {
            name: "pass"
            for name in (
                "round model fetch",
                "round model digest",
                "report fetch",
                "report format",
                "report signature",
                "round model signature",
                "report against the chain",
            )
        }

    # The accuracy chart: one point per finalised round, the values the signed reports hold.
    reports = {r: report["body"] for r, report in done["reports"].items()}
    points = page.get_by_test_id("chart-point")
    plotted = {
        int(points.nth(i).get_attribute("data-x")): float(points.nth(i).get_attribute("data-y"))
        for i in range(points.count())
    }
    assert plotted == {r: body["metrics"]["accuracy"] for r, body in reports.items()}
    assert len(plotted) == len(done["finalized"]) == ROUNDS
    chart = page.get_by_role(
        "img", name=f"Accuracy per round, federation {watched.setup.federation_id}"
    )
    description = chart.evaluate("svg => svg.querySelector('desc').textContent")
    for r, body in reports.items():
        assert f"round {r}: {body['metrics']['accuracy']:.4f}" in description
        row = page.locator(f"[data-testid=accuracy-row][data-round='{r}']")
        assert float(row.get_attribute("data-accuracy")) == body["metrics"]["accuracy"]
    chart_svg = page.locator("svg[data-testid=accuracy-chart]")
    assert chart_svg.locator("text", has_text="Round").count() >= 1
    assert chart_svg.locator("text", has_text="Accuracy (test split)").count() == 1

    # Rejected updates with their reasons, as the reports record them.
    rejected = [(r, x) for r, body in reports.items() for x in body["rejected"]]
    assert any(
        x["reason"] == "weights" and x["node"] == watched.setup.nodes[FAULTY].public.eth_address
        for _, x in rejected
    ), "the tampering node's update was never rejected"
    rows = page.get_by_test_id("rejected")
    assert rows.count() == len(rejected)
    for r, x in rejected:
        row = page.locator(
            f"[data-testid=rejected][data-round='{r}'][data-node='{x['node']}']"
            f"[data-reason='{x['reason']}']"
        )
        assert x["detail"][:60] in row.inner_text()
        commitment = page.locator(f"[data-testid=round][data-round='{r}']").locator(
            f"[data-testid=commitment][data-node='{x['node']}']"
        )
        assert f"rejected: {x['reason']}" in commitment.inner_text()

    # QAOA vs classical selection figures of every round.
    for r, body in reports.items():
        opt = body["selection"]["optimiser"]
        row = page.locator(f"[data-testid=selection][data-round='{r}']")
        assert row.get_attribute("data-method") == body["selection"]["method"] == "qaoa:3"
        assert row.get_attribute("data-used") == opt["used"]
        assert float(row.get_attribute("data-classical-objective")) == opt["classical"]["objective"]
        assert float(row.get_attribute("data-qaoa-objective")) == opt["qaoa"]["objective"]
        # (in a closed <details>: its text content, not its rendered text)
        detail = page.locator(f"[data-testid=selection-detail][data-round='{r}']").text_content()
        circuit = opt["qaoa"]["circuit"]
        assert (
            f"{circuit['width']} qubits, depth {circuit['depth']}, "
            f"{circuit['two_qubit_gates']} two-qubit gates"
        ) in detail
        assert f"{opt['qaoa']['p_feasible']:.3f}" in detail
        assert f"{opt['classical']['objective']:.4f}" in detail

    shot(page, "federation-dashboard")  # docs/screenshots/federation.png is a copy of it
    _open_all_details(page)
    shot(page, "federation-dashboard-expanded")
    axe(page, "federation-dashboard")


def test_a_report_not_matching_its_cid_and_an_unreachable_block_are_named(
    page, watched: Watched, done
) -> None:
    first, last = done["finalized"][0], done["finalized"][-1]
    report_cid = done["reports"][last.round]["cid"]

    def tampered(route) -> None:
        body = route.fetch().body().replace(b'"accuracy":', b'"accuracy":0.999,"x":')
        route.fulfill(status=200, body=body, headers={"Content-Type": "application/octet-stream"})

    page.route(f"**/ipfs/{report_cid}", tampered)
    page.route(
        f"**/ipfs/{first.global_manifest_cid}",
        lambda route: route.fulfill(status=502, body=b"bad gateway"),
    )
    allow_console_errors(page, r"status of 502")  # Chromium logs the HTTP error it was given
    open_page(page, watched.dashboard)

    bad = page.locator(f"[data-testid=round][data-round='{last.round}']")
    bad.locator("[data-testid=report-badge][data-state=fail]").wait_for()
    alert = bad.get_by_role("alert")
    assert 'check "report fetch" failed' in alert.inner_text()
    assert "the CID says" in alert.inner_text()
    unreachable = page.locator(f"[data-testid=round][data-round='{first.round}']")
    unreachable.locator("[data-testid=report-badge][data-state=fail]").wait_for()
    assert 'check "round model fetch" failed' in unreachable.get_by_role("alert").inner_text()
    assert "HTTP 502" in unreachable.get_by_role("alert").inner_text()

    # Nothing from an unverified report is shown: no point, no accuracy, no selection row.
    assert page.get_by_test_id("chart-point").count() == 0
    assert "0.999" not in page.locator("main").inner_text()
    assert page.get_by_test_id("selection").count() == 0
    row = page.locator(f"[data-testid=accuracy-row][data-round='{last.round}']")
    assert 'report check "report fetch" failed' in row.inner_text()

    # The gateway recovers: the unreachable round is fetched again by the polling.
    page.unroute(f"**/ipfs/{first.global_manifest_cid}")
    unreachable.locator("[data-testid=report-badge][data-state=pass]").wait_for()
    assert page.get_by_test_id("chart-point").count() == 1
    shot(page, "federation-bad-report")
    axe(page, "federation-bad-report")


def test_leaving_the_page_stops_the_polling(page, watched: Watched, done) -> None:
    calls: list[float] = []
    rpc = watched.chain.rpc_url.rstrip("/")

    def count(request) -> None:
        if request.url.rstrip("/") == rpc and "eth_blockNumber" in (request.post_data or ""):
            calls.append(time.monotonic())

    page.on("request", count)
    open_page(page, watched.dashboard)
    _rounds_verified(page, len(done["finalized"]))
    page.wait_for_timeout(7_000)
    assert calls, "the dashboard does not poll the chain"
    page.get_by_role("link", name="Catalogue").click()
    page.get_by_role("heading", level=1, name="Model catalogue").wait_for()
    left = time.monotonic()
    page.wait_for_timeout(7_000)
    assert not [t for t in calls if t > left + 1], "still polling after leaving the dashboard"
    assert json.loads(page.evaluate("() => JSON.stringify(location.hash)")) == "#/"
