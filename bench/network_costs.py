"""What a federation costs on a public chain: measured gas times an assumed gas price.

    .venv/bin/python bench/network_costs.py --nodes 3 --rounds 10 [--gwei 1 10 30]
        [--contributors K] [--doc docs/BENCHMARKS.md] [--json]

The gas of every action is read from the table `make bench` (scripts/bench_gas.py) writes between
the gas markers of docs/BENCHMARKS.md: `gasUsed` of real transactions on Anvil. The ETH columns
are that gas times the gas prices given (in gwei); they are not quotes for any network. On an L2
the L1 data fee comes on top, and a live base fee moves from block to block.

Model of one federation run with N nodes, R rounds and K contributors per round (default K = N):

* once per chain: the three contract deployments and the NFT -> registry wiring (deployer);
* per federation: createFederation (coordinator);
* per node: join with its SuperNode key (joinWithSuperNodeKey; when the table has no such row,
  join plus an *estimated* setSuperNodeKey), and one withdraw of its rewards at the end;
* per round: openRound and finalizeRound for K contributors (coordinator; the finalize figure is
  interpolated between the measured sizes 1, 4, 20 and 64), commitUpdate and claimReward from
  each of the K contributors (claimReward was measured for a 20-contributor round);
* after the last round: mintModel, approve + list on the marketplace and a licence offer
  (coordinator), one licence bought (licensee) and each node claiming its licence revenue.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "BENCHMARKS.md"
BEGIN, END = "<!-- gas:begin -->", "<!-- gas:end -->"
ROW = re.compile(r"^\|\s*`(?P<action>[^`]+)`\s*\|(?P<scenario>[^|]*)\|\s*(?P<gas>[\d,]+)\s*\|")
FINALIZE = re.compile(r"^FederationRegistry\.finalizeRound \((?P<n>\d+) contributors?\)$")

# Used only while the gas table has no measured row for it: 21 000 base gas, two fresh storage
# slots (the key and its reverse lookup, 22 100 each), the membership check and the event.
SUPERNODE_KEY_ESTIMATE = 72_000
MAX_PARTICIPANTS = 64  # FederationRegistry.MAX_PARTICIPANTS_CAP


class CostError(Exception):
    """The gas table is missing or lacks a figure the model needs."""


@dataclass(frozen=True)
class Figure:
    """One row of the gas table."""

    action: str
    scenario: str
    gas: int


@dataclass(frozen=True)
class Item:
    """A line of the cost table: ``count`` transactions of ``gas_each`` gas paid by ``payer``."""

    group: str
    action: str
    payer: str
    count: int
    gas_each: int
    note: str = ""
    in_total: bool = True

    @property
    def gas(self) -> int:
        return self.count * self.gas_each


def read_figures(doc: Path) -> list[Figure]:
    """The rows between the gas markers of ``doc``."""
    try:
        text = doc.read_text(encoding="utf-8")
    except OSError as exc:
        raise CostError(f"cannot read the gas table {doc}: {exc} (run `make bench`)") from exc
    if BEGIN not in text or END not in text:
        raise CostError(f"{doc} has no {BEGIN} … {END} section (run `make bench`)")
    section = text.split(BEGIN, 1)[1].split(END, 1)[0]
    figures = []
    for line in section.splitlines():
        match = ROW.match(line.strip())
        if match:
            gas = int(match["gas"].replace(",", ""))
            figures.append(Figure(match["action"], match["scenario"].strip(), gas))
    if not figures:
        raise CostError(f"{doc}: the gas section has no table rows")
    return figures


def measured_on(doc: Path) -> str:
    """The gas section's own account of when and where it was measured (its `- Chain:` and
    `- Command:` lines), for the table's caption."""
    section = doc.read_text(encoding="utf-8").split(BEGIN, 1)[1].split(END, 1)[0]
    found = {}
    for line in section.splitlines():
        for key in ("Chain", "Command"):
            if line.startswith(f"- {key}: "):
                found[key] = line.removeprefix(f"- {key}: ").strip()
    chain = found.get("Chain", "an unrecorded chain")
    date = found.get("Command", "").rsplit("), ", 1)[-1] if "Command" in found else "?"
    return f"{chain}; measured {date}"


class GasTable:
    """Look-ups in the measured figures."""

    def __init__(self, figures: Sequence[Figure], source: Path) -> None:
        self.figures = list(figures)
        self.source = source

    def find(self, action: str, scenario: str | None = None) -> Figure | None:
        for figure in self.figures:
            if figure.action == action and (scenario is None or figure.scenario == scenario):
                return figure
        return None

    def gas(self, action: str, scenario: str | None = None) -> int:
        figure = self.find(action, scenario)
        if figure is None:
            wanted = f"{action!r}" + (f" ({scenario})" if scenario else "")
            raise CostError(f"{self.source}: no gas figure for {wanted} (run `make bench`)")
        return figure.gas

    def finalize(self, contributors: int) -> tuple[int, str]:
        """finalizeRound gas for ``contributors``: measured, interpolated or extrapolated."""
        sizes = sorted(
            (int(m["n"]), f.gas) for f in self.figures if (m := FINALIZE.match(f.action))
        )
        if not sizes:
            raise CostError(f"{self.source}: no finalizeRound figures (run `make bench`)")
        for n, gas in sizes:
            if n == contributors:
                return gas, "measured"
        if len(sizes) == 1:
            return sizes[0][1], f"measured for {sizes[0][0]} contributors"
        below = [s for s in sizes if s[0] < contributors]
        above = [s for s in sizes if s[0] > contributors]
        if below and above:
            (n0, g0), (n1, g1) = below[-1], above[0]
            note = f"interpolated between {n0} and {n1} contributors"
        elif below:
            (n0, g0), (n1, g1) = sizes[-2], sizes[-1]
            note = f"extrapolated from {n0} and {n1} contributors"
        else:
            (n0, g0), (n1, g1) = sizes[0], sizes[1]
            note = f"extrapolated from {n0} and {n1} contributors"
        gas = g0 + (g1 - g0) * (contributors - n0) / (n1 - n0)
        return round(gas), note


def cost_items(table: GasTable, nodes: int, rounds: int, contributors: int) -> list[Item]:
    """The line items of one federation run (and the one-off deployment)."""
    if nodes < 1 or rounds < 1:
        raise CostError("--nodes and --rounds must be at least 1")
    if nodes > MAX_PARTICIPANTS:
        raise CostError(
            f"--nodes {nodes}: a federation holds at most {MAX_PARTICIPANTS} members "
            "(FederationRegistry.MAX_PARTICIPANTS_CAP)"
        )
    if not 1 <= contributors <= nodes:
        raise CostError(f"--contributors must be between 1 and --nodes ({nodes})")
    reg, market, nft = "FederationRegistry", "ModelMarketplace", "ModelNFT"
    items = [
        Item("deployment (once per chain)", f"{nft} (deployment)", "deployer", 1,
             table.gas(f"{nft} (deployment)"), in_total=False),
        Item("deployment (once per chain)", f"{reg} (deployment)", "deployer", 1,
             table.gas(f"{reg} (deployment)"), in_total=False),
        Item("deployment (once per chain)", f"{market} (deployment)", "deployer", 1,
             table.gas(f"{market} (deployment)"), in_total=False),
        Item("deployment (once per chain)", f"{nft}.setFederationRegistry", "deployer", 1,
             table.gas(f"{nft}.setFederationRegistry"), "measured when replacing the registry",
             in_total=False),
        Item("setup", f"{reg}.createFederation", "coordinator", 1,
             table.gas(f"{reg}.createFederation")),
    ]  # fmt: skip
    with_key = table.find(f"{reg}.joinWithSuperNodeKey")
    if with_key is not None:
        items.append(Item("setup", with_key.action, "node", nodes, with_key.gas))
    else:
        items += [
            Item("setup", f"{reg}.join", "node", nodes, table.gas(f"{reg}.join")),
            Item("setup", f"{reg}.setSuperNodeKey", "node", nodes, SUPERNODE_KEY_ESTIMATE,
                 "estimate, not yet measured"),
        ]  # fmt: skip
    finalize_gas, finalize_note = table.finalize(contributors)
    claim = table.find(f"{reg}.claimReward")
    if claim is None:
        raise CostError(f"{table.source}: no gas figure for {reg}.claimReward (run `make bench`)")
    items += [
        Item("rounds", f"{reg}.openRound", "coordinator", rounds, table.gas(f"{reg}.openRound")),
        Item("rounds", f"{reg}.commitUpdate", "node", rounds * contributors,
             table.gas(f"{reg}.commitUpdate")),
        Item("rounds", f"{reg}.finalizeRound ({contributors} contributors)", "coordinator",
             rounds, finalize_gas, finalize_note),
        Item("rounds", f"{reg}.claimReward", "node", rounds * contributors, claim.gas,
             f"measured: {claim.scenario}" if claim.scenario else "measured"),
        Item("after the run", f"{reg}.withdraw", "node", nodes, table.gas(f"{reg}.withdraw")),
        Item("after the run", f"{reg}.mintModel", "coordinator", 1,
             table.gas(f"{reg}.mintModel")),
        Item("after the run", f"{nft}.approve", "coordinator", 1, table.gas(f"{nft}.approve")),
        Item("after the run", f"{market}.list", "coordinator", 1, table.gas(f"{market}.list")),
        Item("after the run", f"{market}.createLicenseOffer", "coordinator", 1,
             table.gas(f"{market}.createLicenseOffer")),
        Item("after the run", f"{market}.buyLicense", "licensee", 1,
             table.gas(f"{market}.buyLicense", "federation model, new licensee"),
             "per licence sold"),
        Item("after the run", f"{market}.claimContributorRevenue", "node", nodes,
             table.gas(f"{market}.claimContributorRevenue")),
    ]  # fmt: skip
    return items


def eth(gas: int, gwei: float) -> float:
    return gas * gwei / 1e9


def summary(items: Sequence[Item], nodes: int) -> list[tuple[str, int]]:
    """Totals: the run, the coordinator, each node, the licensee, and the deployment."""
    run = [i for i in items if i.in_total]
    by_payer = {
        payer: sum(i.gas for i in run if i.payer == payer)
        for payer in ("coordinator", "node", "licensee")
    }
    return [
        ("federation run, everyone (excl. deployment)", sum(i.gas for i in run)),
        ("coordinator", by_payer["coordinator"]),
        ("each node (average)", round(by_payer["node"] / nodes)),
        ("licensee, per licence", by_payer["licensee"]),
        ("deployment, once per chain", sum(i.gas for i in items if not i.in_total)),
    ]


def render(
    items: Sequence[Item],
    nodes: int,
    rounds: int,
    contributors: int,
    gwei: Sequence[float],
    source: Path,
) -> str:
    prices = [f"{g:g}" for g in gwei]
    head = ["group", "action", "paid by", "count", "gas each", "gas"]
    head += [f"ETH @ {p} gwei" for p in prices]
    lines = [
        f"N = {nodes} nodes, R = {rounds} rounds, K = {contributors} contributors per round. "
        f"Gas: {source.name} ({measured_on(source)}). "
        "ETH = gas * assumed gas price: an estimate, not a quote for any network.",
        "",
        "| " + " | ".join(head) + " |",
        "| "
        + " | ".join(["---", "---", "---", "---:", "---:", "---:"] + ["---:"] * len(gwei))
        + " |",
    ]
    for item in items:
        action = f"`{item.action}`" + (f" ({item.note})" if item.note else "")
        cells = [item.group, action, item.payer, f"{item.count:,}", f"{item.gas_each:,}"]
        cells += [f"{item.gas:,}"] + [f"{eth(item.gas, g):.6f}" for g in gwei]
        lines.append("| " + " | ".join(cells) + " |")
    for label, gas in summary(items, nodes):
        cells = ["**total**", f"**{label}**", "", "", "", f"**{gas:,}**"]
        cells += [f"**{eth(gas, g):.6f}**" for g in gwei]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, required=True, help="Nodes in the federation (N).")
    parser.add_argument("--rounds", type=int, required=True, help="Training rounds (R).")
    parser.add_argument(
        "--contributors", type=int, default=None, help="Contributors per round (default: N)."
    )
    parser.add_argument(
        "--gwei", type=float, nargs="+", default=[1.0, 10.0, 30.0], help="Gas prices in gwei."
    )
    parser.add_argument("--doc", type=Path, default=DOC, help="Markdown file with the gas table.")
    parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")
    args = parser.parse_args(argv)
    contributors = args.nodes if args.contributors is None else args.contributors
    try:
        if any(g <= 0 for g in args.gwei):
            raise CostError("--gwei prices must be positive")
        table = GasTable(read_figures(args.doc), args.doc)
        items = cost_items(table, args.nodes, args.rounds, contributors)
    except CostError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        document = {
            "nodes": args.nodes,
            "rounds": args.rounds,
            "contributors": contributors,
            "gwei": args.gwei,
            "source": str(args.doc),
            "measured_on": measured_on(args.doc),
            "items": [asdict(i) | {"gas": i.gas} for i in items],
            "totals": {label: gas for label, gas in summary(items, args.nodes)},
        }
        print(json.dumps(document, indent=2))
    else:
        print(render(items, args.nodes, args.rounds, contributors, args.gwei, args.doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
