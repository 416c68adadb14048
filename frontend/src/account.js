// What one account holds and is owed, read from events and views: owned model tokens, licences,
// credits waiting to be withdrawn (pull payments), and rewards / contributor revenue to claim.

export const WEIGHT_TOTAL = 1_000_000n;

const same = (a, b) => a.toLowerCase() === b.toLowerCase();

/** Token ids the account owns now (Transfer events to it, confirmed by ownerOf), ascending. */
export async function ownedTokens(chain, address) {
  const events = await chain.nft.queryFilter(chain.nft.filters.Transfer(null, address), 0, 'latest');
  const ids = [...new Set(events.map((e) => e.args.tokenId))].sort((a, b) => (a < b ? -1 : 1));
  const owners = await Promise.all(ids.map((id) => chain.nft.ownerOf(id)));
  return ids.filter((_, i) => same(owners[i], address));
}

/** The account's current licence on every token it ever licensed (the view is authoritative). */
export async function licences(chain, address) {
  const events = await chain.market.queryFilter(chain.market.filters.LicensePurchased(null, null, address), 0, 'latest');
  const ids = [...new Set(events.map((e) => e.args.tokenId))].sort((a, b) => (a < b ? -1 : 1));
  const views = await Promise.all(ids.map((id) => chain.market.licenseOf(id, address)));
  return ids.map((tokenId, i) => ({ tokenId, ...views[i].toObject() }));
}

/** Marketplace and federation-registry credits of the account (what `withdraw` pays out). */
export async function credits(chain, address) {
  const [market, registry] = await Promise.all([chain.market.creditOf(address), chain.registry.creditOf(address)]);
  return { market, registry };
}

function contributorWeight(event, address) {
  const i = event.args.contributors.findIndex((c) => same(c, address));
  return i < 0 ? 0n : BigInt(event.args.weights[i]);
}

/**
 * What the account can claim: round rewards of finalised rounds it contributed to and has not
 * claimed, and its share of licence revenue of models minted from rounds it contributed to.
 * Each entry carries the lists the contracts need (contributors, weights as emitted).
 */
export async function claimables(chain, address) {
  const finalized = await chain.registry.queryFilter(chain.registry.filters.RoundFinalized(), 0, 'latest');
  const byRound = new Map(finalized.map((e) => [`${e.args.federationId}/${e.args.round}`, e]));
  const rewards = [];
  for (const e of finalized) {
    const weight = contributorWeight(e, address);
    if (!weight || e.args.reward === 0n) continue;
    const participation = await chain.registry.participationOf(e.args.federationId, e.args.round, address);
    if (participation.rewardClaimed) continue;
    rewards.push({ federationId: e.args.federationId, round: e.args.round, amount: (e.args.reward * weight) / WEIGHT_TOTAL,
      contributors: [...e.args.contributors], weights: [...e.args.weights] });
  }
  const minted = await chain.nft.queryFilter(chain.nft.filters.ModelMinted(), 0, 'latest');
  const revenue = [];
  for (const m of minted) {
    if (m.args.federationId === 0n) continue;
    const e = byRound.get(`${m.args.federationId}/${m.args.round}`);
    const weight = e ? contributorWeight(e, address) : 0n;
    if (!weight) continue;
    const [total, claimed] = await chain.market.contributorRevenue(m.args.tokenId, address);
    const amount = (total * weight) / WEIGHT_TOTAL - claimed;
    if (amount > 0n) revenue.push({ tokenId: m.args.tokenId, amount, contributors: [...e.args.contributors], weights: [...e.args.weights] });
  }
  return { rewards, revenue };
}
