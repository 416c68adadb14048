"""Fixtures for the contract suite: a fresh Anvil (or Ganache) on a free loopback port, and the
three contracts deployed and wired the way scripts/deploy.py wires them."""

from __future__ import annotations

import socket

import pytest


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pytest_configure(config: pytest.Config) -> None:
    # Brownie launches the local chain itself; give it a free port so runs never collide with a
    # demo chain on :8545 or with each other.
    # (Imported here: Brownie hashes top-level imports of test modules as source text, and
    # brownie._config is a compiled extension.)
    from brownie._config import CONFIG

    port = _free_port()
    for network_id in ("development", "ganache-cli"):
        settings = CONFIG.networks.get(network_id)
        if settings is not None:
            settings.setdefault("cmd_settings", {})["port"] = port
    if CONFIG.argv.get("coverage") or "--coverage" in config.invocation_params.args:
        # Brownie measures coverage from opcode traces, which Anvil records only on request.
        CONFIG.networks["development"]["cmd_settings"]["steps_tracing"] = True
        # View calls count only if Brownie sends them as (reverted) transactions it can trace.
        CONFIG.argv["always_transact"] = True


COVERED_CONTRACTS = ("ModelNFT", "FederationRegistry", "ModelMarketplace")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """With --coverage, have Brownie evaluate the trace of every transaction the test sent before
    the chain is reverted (Brownie 1.22 on Anvil leaves successful ones unevaluated)."""
    from brownie._config import CONFIG

    if not CONFIG.argv.get("coverage"):
        yield
        return
    from brownie.network import history

    start = len(history)
    yield
    for tx in list(history)[start:]:
        try:
            tx._expand_trace()
        except Exception as exc:  # a trace Brownie cannot expand must not fail the test
            print(f"coverage: could not expand {tx.txid}: {exc}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With --coverage, write statement and branch coverage of fqai's own contract sources to
    reports/contract-coverage.json and print it (Brownie 1.22's own report comes out empty here)."""
    from brownie._config import CONFIG

    if not CONFIG.argv.get("coverage"):
        return
    import json
    from pathlib import Path

    from brownie import project
    from brownie.test import coverage

    active = project.get_loaded_projects()[0]
    reports = Path(active._path) / "reports"
    reports.mkdir(exist_ok=True)
    # Hit sets accumulate across sessions (`make coverage` runs one per test module: Brownie keeps
    # only the first module's data when one session runs several).
    raw_path = reports / "contract-coverage-raw.json"
    raw = json.loads(raw_path.read_text()) if raw_path.exists() else {}
    evaluations = coverage.get_coverage_eval().values()
    summary = {}
    for name in COVERED_CONTRACTS:
        build = active._build.get(name)
        own_path = next(
            k for k, v in build["allSourcePaths"].items() if v == f"contracts/{name}.sol"
        )
        statements = {
            idx
            for fn in build["coverageMap"]["statements"].get(own_path, {}).values()
            for idx in fn
        }
        branches = {
            idx for fn in build["coverageMap"]["branches"].get(own_path, {}).values() for idx in fn
        }
        seen = raw.get(name, {"hit": [], "false": [], "true": []})
        hit, false_taken, true_taken = set(seen["hit"]), set(seen["false"]), set(seen["true"])
        for evaluation in evaluations:
            sets = evaluation.get(name, {}).get(own_path)
            if sets:
                hit |= {str(i) for i in sets[0]}
                false_taken |= {str(i) for i in sets[1]}
                true_taken |= {str(i) for i in sets[2]}
        raw[name] = {"hit": sorted(hit), "false": sorted(false_taken), "true": sorted(true_taken)}
        outcomes = len(branches & false_taken) + len(branches & true_taken)
        summary[name] = {
            "statements": [len(statements & hit), len(statements)],
            "branch_outcomes": [outcomes, 2 * len(branches)],
            "uncovered_branches": sorted(
                (build["coverageMap"]["branches"][own_path][fn][idx][:2], idx in true_taken)
                for fn in build["coverageMap"]["branches"][own_path]
                for idx in build["coverageMap"]["branches"][own_path][fn]
                if idx not in false_taken or idx not in true_taken
            ),
        }
    raw_path.write_text(json.dumps(raw) + "\n")
    out = reports / "contract-coverage.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print("\nContract coverage (own sources):")
    for name, row in summary.items():
        s_hit, s_all = row["statements"]
        b_hit, b_all = row["branch_outcomes"]
        print(
            f"  {name:<20} statements {s_hit}/{s_all} ({100 * s_hit / max(s_all, 1):.1f} %)"
            f"  branches {b_hit}/{b_all} ({100 * b_hit / max(b_all, 1):.1f} %)"
        )


# --------------------------------------------------------------------------- deployment

WEIGHT_TOTAL = 1_000_000
ZERO = "0x0000000000000000000000000000000000000000"


def digest(label: str) -> str:
    """A deterministic non-zero bytes32 for tests (sha256 of a label)."""
    import hashlib

    return "0x" + hashlib.sha256(label.encode()).hexdigest()


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    """Every test starts from the same deployed state (chain snapshot and revert)."""


@pytest.fixture(scope="module")
def owner(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def deployment(owner):
    from scripts.deploy import deploy_contracts

    deployment = deploy_contracts(owner)
    _restore_pc_maps(deployment.registry, deployment.marketplace)
    return deployment


def _restore_pc_maps(*contracts) -> None:
    """With --coverage, give back the program-counter maps Brownie drops at deployment.

    Brownie compares a new contract's runtime code with the build's `deployedBytecode` and, on a
    mismatch, deletes the contract's pc map so that no trace is ever mapped to source. Contracts
    with `immutable` variables always mismatch (the constructor writes their values into the
    code), so coverage of FederationRegistry and ModelMarketplace read as zero. Immutables keep
    every opcode at its place, so the build's map is the right one.
    """
    from brownie import project
    from brownie._config import CONFIG

    if not CONFIG.argv.get("coverage"):
        return
    build = project.get_loaded_projects()[0]._build
    for contract in contracts:
        if "pcMap" not in contract._build:
            contract._build["pcMap"] = build.get(contract._name)["pcMap"]


@pytest.fixture(scope="module")
def nft(deployment):
    return deployment.nft


@pytest.fixture(scope="module")
def registry(deployment):
    return deployment.registry


@pytest.fixture(scope="module")
def market(deployment):
    return deployment.marketplace


@pytest.fixture(scope="module")
def publisher(accounts, nft, owner):
    """An owner-approved publisher allowed to mint models outside a federation."""
    account = accounts[1]
    nft.setMinter(account, True, {"from": owner})
    return account


def mint_params(
    label: str = "model",
    *,
    parent: int = 0,
    royalty_receiver: str = ZERO,
    royalty_bps: int = 0,
    federation_id: int = 0,
    round_: int = 0,
) -> tuple:
    """ModelNFT.MintParams as a tuple, with digests derived from `label`."""
    return (
        f"bafkrei{label}",
        digest(f"{label}/weights"),
        digest(f"{label}/signer"),
        federation_id,
        round_,
        parent,
        royalty_receiver,
        royalty_bps,
    )


@pytest.fixture(scope="module")
def minted(nft, publisher, accounts):
    """Token 1, owned by accounts[2], 5 % royalty to the publisher."""
    tx = nft.mint(
        accounts[2],
        mint_params("m1", royalty_receiver=publisher.address, royalty_bps=500),
        {"from": publisher},
    )
    return tx.return_value


def fed_config(**overrides) -> tuple:
    """FederationRegistry.FederationConfig as a tuple with small, test-friendly windows."""
    config = {
        "modelSpecCID": "bafkreispec",
        "minStake": 10**18,
        "rewardPerRound": 10**18,
        "commitWindow": 5,
        "finalizeWindow": 5,
        "contestWindow": 5,
        "unbondingBlocks": 20,
        "maxParticipants": 8,
        "slashBps": 1_000,
        "revenueShareBps": 3_000,
    }
    config.update(overrides)
    return tuple(config.values())


@pytest.fixture(scope="module")
def coordinator(accounts):
    return accounts[3]


@pytest.fixture(scope="module")
def nodes(accounts):
    """Four node accounts, sorted by address (finalizeRound wants contributors in that order)."""
    return sorted(accounts[10:14], key=lambda a: int(a.address, 16))


@pytest.fixture(scope="module")
def federation(registry, coordinator, nodes):
    """Federation 1 with a 10 ETH pool and the four nodes joined with 1 ETH stake each."""
    tx = registry.createFederation(fed_config(), {"from": coordinator, "value": 10 * 10**18})
    fed_id = tx.return_value
    for i, node in enumerate(nodes):
        registry.join(fed_id, digest(f"node{i}/mldsa"), {"from": node, "value": 10**18})
    return fed_id


def run_round(registry, fed_id, coordinator, committers, contributors=None, weights=None):
    """Open a round, commit for `committers`, finalise with `contributors` (default: all
    committers, equal weights). Returns the round number."""
    round_ = registry.openRound(fed_id, {"from": coordinator}).return_value
    for node in committers:
        registry.commitUpdate(fed_id, round_, digest(f"{node.address}/{round_}"), {"from": node})
    contributors = sorted(
        contributors if contributors is not None else committers, key=lambda a: int(a.address, 16)
    )
    if weights is None:
        share = WEIGHT_TOTAL // len(contributors)
        weights = [share] * len(contributors)
        weights[-1] += WEIGHT_TOTAL - share * len(contributors)
    registry.finalizeRound(
        fed_id,
        round_,
        f"bafkreiglobal{round_}",
        digest(f"global/{round_}"),
        digest(f"accepted/{round_}"),
        contributors,
        weights,
        {"from": coordinator},
    )
    return round_


@pytest.fixture(scope="module")
def fed_model(registry, nft, coordinator, nodes, federation, accounts):
    """A model minted from federation 1 after one round in which all four nodes contributed
    equally; owned by accounts[4]."""
    run_round(registry, federation, coordinator, nodes)
    tx = registry.mintModel(federation, accounts[4], mint_params("fedmodel"), {"from": coordinator})
    return tx.return_value


def err(name: str, *args) -> str:
    """The revert message Brownie decodes from custom error `name(args...)`: addresses in
    lower case, integers in decimal, strings as they are. Use with `brownie.reverts(err(...))`."""
    if not args:
        return f"{name}: "  # Brownie's rendering of an error without arguments
    parts = []
    for arg in args:
        if hasattr(arg, "address"):
            arg = arg.address
        if isinstance(arg, str) and arg.startswith("0x") and len(arg) == 42:
            arg = arg.lower()
        parts.append(str(arg))
    return f"{name}: {', '.join(parts)}"


# ============================================================================================
# ModelNFT / ModelMarketplace suites (test_model_nft.py, test_marketplace.py) — fixtures below
# are added for those two modules; keep this block at the end of the file.
# ============================================================================================


@pytest.fixture(scope="module")
def contract_account(accounts):
    """A TestActor contract account (accepts ETH and ERC-721 tokens until configured otherwise)."""
    from brownie import TestActor

    return TestActor.deploy({"from": accounts[9]})


def bare_err(name: str) -> str:
    """The revert message Brownie decodes from a custom error without arguments: `Name: `
    (`err(name)` gives `Name`, which never matches)."""
    return f"{name}: "


# ======================================================= end of ModelNFT / ModelMarketplace block
