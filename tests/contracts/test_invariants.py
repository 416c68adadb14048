"""Stateful property tests: random sequences of federation and marketplace actions.

Invariants, checked after every step:
- each contract's ETH balance equals what it accounts for (registry: stakes + pools + reserved
  rewards + credits; marketplace: credits + unclaimed contributor revenue);
- every account's withdrawable credit equals what it was credited minus what it withdrew, so no
  account can withdraw more than it was credited;
- the registry's total stake equals the sum of its members' stakes.

Runs FQAI_FUZZ_EXAMPLES examples (200 by default, `make fuzz` runs more).

Brownie 1.22.2's own `state_machine` wrapper fails in its compiled build ("_BrownieStateMachine
object expected"), so this drives Hypothesis's RuleBasedStateMachine directly and does what the
wrapper did: snapshot the chain once, revert to it before every example.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict

import brownie
from brownie import chain
from conftest import WEIGHT_TOTAL, digest, fed_config
from hypothesis import settings as hp_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

# (function name, outcome) -> count, printed at the end so a run shows the actions took effect.
OUTCOMES: Counter = Counter()
EXAMPLES = int(os.environ.get("FQAI_FUZZ_EXAMPLES", "200"))
STEPS = int(os.environ.get("FQAI_FUZZ_STEPS", "12"))

st_node = st.integers(min_value=0, max_value=5)
st_user = st.integers(min_value=0, max_value=3)
st_stake = st.integers(min_value=9 * 10**17, max_value=3 * 10**18)
st_mask = st.integers(min_value=0, max_value=63)
st_round_back = st.integers(min_value=0, max_value=3)
st_percent = st.integers(min_value=0, max_value=110)
st_blocks = st.integers(min_value=1, max_value=12)
st_seconds = st.integers(min_value=1, max_value=400)
st_price = st.integers(min_value=1, max_value=2 * 10**18)
st_extra = st.integers(min_value=0, max_value=10**17)
st_offer = st.integers(min_value=0, max_value=2)


class FederationAndMarket(RuleBasedStateMachine):
    @classmethod
    def deploy_scenario(cls, accounts, nft, registry, market, coordinator) -> None:
        """Build the starting state once; every example starts from a snapshot of it."""
        cls.accounts = accounts
        cls.nft = nft
        cls.registry = registry
        cls.market = market
        cls.coordinator = coordinator
        cls.nodes = list(accounts[10:16])
        cls.users = list(accounts[16:20])
        config = fed_config(
            commitWindow=6, finalizeWindow=6, contestWindow=4, unbondingBlocks=20, maxParticipants=5
        )
        cls.fed = registry.createFederation(
            config, {"from": coordinator, "value": 3 * 10**18}
        ).return_value
        # A model with a federation behind it, owned by users[0], with two licence offers.
        for i, node in enumerate(cls.nodes[:3]):
            registry.join(cls.fed, digest(f"fuzz-node{i}"), {"from": node, "value": 10**18})
        round_ = registry.openRound(cls.fed, {"from": coordinator}).return_value
        committed = sorted(cls.nodes[:3], key=lambda a: int(a.address, 16))
        for node in committed:
            registry.commitUpdate(cls.fed, round_, digest(f"c{node}"), {"from": node})
        cls.model_round_lists = (committed, [500_000, 300_000, 200_000])
        registry.finalizeRound(
            cls.fed,
            round_,
            "bafkreifuzz",
            digest("g"),
            digest("a"),
            *cls.model_round_lists,
            {"from": coordinator},
        )
        params = ("bafkreifuzzmodel", digest("w"), digest("s"), 0, 0, 0, coordinator.address, 250)
        cls.token = registry.mintModel(
            cls.fed, cls.users[0], params, {"from": coordinator}
        ).return_value
        market.createLicenseOffer(
            cls.token, 10**17, 300, 3, 0, "bafkreiterms0", {"from": cls.users[0]}
        )
        market.createLicenseOffer(
            cls.token, 3 * 10**17, 1000, 0, 0, "bafkreiterms1", {"from": cls.users[0]}
        )
        nft.setApprovalForAll(market, True, {"from": cls.users[0]})

    def __init__(self) -> None:
        super().__init__()
        chain.revert()
        # Contributor lists of finalised rounds, as the RoundFinalized events carried them.
        self.round_lists: dict[int, tuple[list, list]] = {1: self.model_round_lists}
        # Accounts whose credits may have changed since the last invariant check (checking all of
        # them after every step would make each step ~30 RPC calls).
        self.touched: set[str] = set()
        self.registry_touched = False
        self.credited: dict[tuple[str, str], int] = defaultdict(int)
        self.withdrawn: dict[tuple[str, str], int] = defaultdict(int)
        # Credits that exist at the snapshot (none are withdrawn before the run starts).
        for account in self._everyone():
            for contract in (self.registry, self.market):
                self.credited[(contract.address, account.address)] = contract.creditOf(account)

    # ----------------------------------------------------------------- helpers

    def _everyone(self):
        return [*self.nodes, *self.users, self.coordinator]

    def _send(self, fn, *args):
        """Send a transaction; a revert is a legitimate outcome of a random step."""
        try:
            tx = fn(*args)
        except brownie.exceptions.VirtualMachineError:
            OUTCOMES[(fn._name, "reverted")] += 1
            return None
        OUTCOMES[(fn._name, "ok")] += 1
        self._record(tx)
        return tx

    def _record(self, tx) -> None:
        self.touched.add(tx.sender.address)
        if tx.receiver == self.registry.address:
            self.registry_touched = True
        if "RoundFinalized" in tx.events:
            event = tx.events["RoundFinalized"]
            self.round_lists[event["round"]] = (list(event["contributors"]), list(event["weights"]))
        for name, contract in (("registry", self.registry), ("market", self.market)):
            for event in tx.events:
                if event.address != contract.address:
                    continue
                key_account = None
                amount = 0
                if event.name in ("RewardClaimed", "StakeReleased"):
                    key_account, amount = event["node"], event["amount"]
                elif event.name == "RevenueCredited":
                    key_account, amount = event["account"], event["amount"]
                elif event.name == "Withdrawal":
                    self.withdrawn[(contract.address, event["account"])] += event["amount"]
                if key_account is not None:
                    self.credited[(contract.address, key_account)] += amount
                    self.touched.add(key_account)
            del name

    def _lists(self, round_: int) -> tuple[list, list]:
        return self.round_lists.get(round_, ([], []))

    def _current_round(self) -> int:
        return self.registry.getFederation(self.fed)[2]

    # ------------------------------------------------------------ federation

    @rule(node=st_node, stake=st_stake)
    def rule_join(self, node, stake):
        account = self.nodes[node]
        self._send(
            self.registry.join,
            self.fed,
            digest(f"key{node}"),
            {"from": account, "value": stake},
        )

    @rule(node=st_node)
    def rule_request_leave(self, node):
        self._send(self.registry.requestLeave, self.fed, {"from": self.nodes[node]})

    @rule(node=st_node)
    def rule_release_stake(self, node):
        self._send(self.registry.releaseStake, self.fed, {"from": self.nodes[node]})

    @rule()
    def rule_open_round(self):
        self._send(self.registry.openRound, self.fed, {"from": self.coordinator})

    @rule(node=st_node)
    def rule_commit(self, node):
        round_ = self._current_round()
        self._send(
            self.registry.commitUpdate,
            self.fed,
            round_,
            digest(f"update{node}/{round_}"),
            {"from": self.nodes[node]},
        )

    @rule(mask=st_mask)
    def rule_finalize(self, mask):
        round_ = self._current_round()
        committed = [
            n
            for n in self.nodes
            if int(self.registry.commitmentOf(self.fed, round_, n).hex(), 16) != 0
        ]
        chosen = sorted(
            (n for i, n in enumerate(committed) if mask >> i & 1), key=lambda a: int(a.address, 16)
        )
        if not chosen:
            chosen = committed[:1]
        weights = [WEIGHT_TOTAL // max(len(chosen), 1)] * len(chosen)
        if weights:
            weights[-1] += WEIGHT_TOTAL - sum(weights)
        self._send(
            self.registry.finalizeRound,
            self.fed,
            round_,
            f"bafkreiround{round_}",
            digest(f"global{round_}"),
            digest(f"root{round_}"),
            chosen,
            weights,
            {"from": self.coordinator},
        )

    @rule(mask=st_mask, include=st_mask)
    def rule_full_round(self, mask, include):
        """Open a round, commit for the members picked by `mask`, finalise with those picked by
        `include` (random steps alone rarely line up within the windows)."""
        if self._send(self.registry.openRound, self.fed, {"from": self.coordinator}) is None:
            return
        round_ = self._current_round()
        for i, node in enumerate(self.nodes):
            if mask >> i & 1:
                self._send(
                    self.registry.commitUpdate,
                    self.fed,
                    round_,
                    digest(f"update{i}/{round_}"),
                    {"from": node},
                )
        self.rule_finalize(include)

    @rule(node=st_node, back=st_round_back)
    def rule_claim_reward(self, node, back):
        round_ = max(1, self._current_round() - back)
        self._send(
            self.registry.claimReward,
            self.fed,
            round_,
            *self._lists(round_),
            {"from": self.nodes[node]},
        )

    @rule(node=st_node, back=st_round_back)
    def rule_contest(self, node, back):
        round_ = max(1, self._current_round() - back)
        self._send(
            self.registry.contestExclusion,
            self.fed,
            round_,
            "bafkreievidence",
            *self._lists(round_),
            {"from": self.nodes[node]},
        )

    @rule(node=st_node, back=st_round_back, caller=st_user)
    def rule_slash(self, node, back, caller):
        round_ = max(1, self._current_round() - back)
        self._send(
            self.registry.slashExcluded,
            self.fed,
            round_,
            self.nodes[node],
            *self._lists(round_),
            {"from": self.users[caller]},
        )

    @rule(caller=st_user, amount=st_extra)
    def rule_fund_pool(self, caller, amount):
        self._send(
            self.registry.fundRewardPool, self.fed, {"from": self.users[caller], "value": amount}
        )

    @rule(node=st_node, percent=st_percent)
    def rule_withdraw_registry(self, node, percent):
        account = self.nodes[node]
        amount = self.registry.creditOf(account) * percent // 100
        self._send(self.registry.withdraw, amount, {"from": account})

    @rule(blocks=st_blocks)
    def rule_mine(self, blocks):
        chain.mine(blocks)

    # ----------------------------------------------------------- marketplace

    def _owner(self):
        return self.nft.ownerOf(self.token)

    @rule(price=st_price)
    def rule_list(self, price):
        owner = self._owner()
        self._send(self.nft.setApprovalForAll, self.market, True, {"from": owner})
        self._send(self.market.list, self.token, price, {"from": owner})

    @rule(user=st_user, extra=st_extra)
    def rule_buy(self, user, extra):
        price = self.market.listingOf(self.token)[1]
        self._send(
            self.market.buy,
            self.token,
            price,
            {"from": self.users[user], "value": price + extra},
        )

    @rule(price=st_price, seconds=st_seconds)
    def rule_create_offer(self, price, seconds):
        self._send(
            self.market.createLicenseOffer,
            self.token,
            price,
            seconds,
            2,
            0,
            "bafkreitermsx",
            {"from": self._owner()},
        )

    @rule(user=st_user, offer=st_offer, extra=st_extra)
    def rule_buy_license(self, user, offer, extra):
        count = self.market.offerCount(self.token)
        offer_id = max(
            count - 1 - offer, 0
        )  # recent offers: older ones lapse when the token is sold
        price = self.market.getOffer(self.token, offer_id)[4]
        self._send(
            self.market.buyLicense,
            self.token,
            offer_id,
            digest(f"kem{user}"),
            price,
            {"from": self.users[user], "value": price + extra},
        )

    @rule(node=st_node)
    def rule_claim_contributor_revenue(self, node):
        self._send(
            self.market.claimContributorRevenue,
            self.token,
            *self.model_round_lists,
            {"from": self.nodes[node]},
        )

    @rule(user=st_user, node=st_node, percent=st_percent)
    def rule_withdraw_market(self, user, node, percent):
        for account in (self.users[user], self.nodes[node], self.coordinator):
            amount = self.market.creditOf(account) * percent // 100
            self._send(self.market.withdraw, amount, {"from": account})

    @rule(seconds=st_seconds)
    def rule_sleep(self, seconds):
        chain.sleep(seconds)
        chain.mine()

    # ------------------------------------------------------------ invariants

    @invariant()
    def invariant_registry_balance_is_accounted(self):
        staked, pools, reserved, credits = self.registry.totals()
        assert self.registry.balance() == staked + pools + reserved + credits

    @invariant()
    def invariant_market_balance_is_accounted(self):
        credits, unclaimed = self.market.totals()
        assert self.market.balance() == credits + unclaimed

    @invariant()
    def invariant_no_account_withdraws_more_than_credited(self):
        for contract in (self.registry, self.market):
            for account in self.touched:
                key = (contract.address, account)
                assert self.withdrawn[key] <= self.credited[key]
                assert contract.creditOf(account) == self.credited[key] - self.withdrawn[key]
        self.touched.clear()

    def teardown(self):
        # Full check at the end of every example, every account.
        self.touched.update(a.address for a in self._everyone())
        self.invariant_no_account_withdraws_more_than_credited()

    @invariant()
    def invariant_total_stake_is_sum_of_members(self):
        if not self.registry_touched:
            return
        self.registry_touched = False
        stakes = sum(self.registry.getMember(self.fed, n)[0] for n in self.nodes)
        assert self.registry.totals()[0] == stakes


def test_federation_and_market_invariants(accounts, nft, registry, market, coordinator):
    FederationAndMarket.deploy_scenario(accounts, nft, registry, market, coordinator)
    chain.snapshot()
    run_state_machine_as_test(
        FederationAndMarket,
        settings=hp_settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None),
    )
    print("\nOutcomes of random actions:")
    for (name, outcome), count in sorted(OUTCOMES.items()):
        print(f"  {name:<32} {outcome:<9} {count}")
    # Every kind of money-moving action must have succeeded at least once, or the run proved little.
    for name in ("join", "commitUpdate", "finalizeRound", "claimReward", "buyLicense", "withdraw"):
        assert any(n.endswith(name) and o == "ok" for (n, o) in OUTCOMES), name
