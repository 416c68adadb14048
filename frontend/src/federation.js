// Reading federations from FederationRegistry: views plus events, as plain objects. Round reports
// are checked in the browser (lib/report.js) once per round and cached.
import { gatewayFetcher } from './chain.js';
import { verifyRound } from './lib/report.js';

export const MEMBER_STATUS = ['none', 'active', 'leaving'];
export const WEIGHT_TOTAL = 1_000_000;

const verifiedRounds = new Map(); // round identity -> Promise<verifyRound result>

async function query(chain, name, ...args) {
  const filter = chain.registry.filters[name](...args);
  return chain.registry.queryFilter(filter, 0, 'latest');
}

function where(event) {
  return { block: event.blockNumber, tx: event.transactionHash, logIndex: event.index };
}

function finalizedOf(event) {
  const a = event.args;
  return {
    federationId: a.federationId,
    round: Number(a.round),
    globalManifestCID: a.globalManifestCID,
    globalDigest: a.globalDigest,
    acceptedRoot: a.acceptedRoot,
    contributors: Array.from(a.contributors, String),
    weights: Array.from(a.weights, (w) => BigInt(w)),
    reward: a.reward,
    ...where(event),
  };
}

/** Every federation with its views and the number of rounds finalised, by id. */
export async function listFederations(chain) {
  const count = Number(await chain.registry.federationCount());
  const ids = Array.from({ length: count }, (_, i) => BigInt(i + 1));
  const [states, configs, finalized] = await Promise.all([
    Promise.all(ids.map((id) => chain.registry.getFederation(id))),
    Promise.all(ids.map((id) => chain.registry.getConfig(id))),
    query(chain, 'RoundFinalized'),
  ]);
  const lastEvent = new Map();
  const rounds = new Map();
  for (const e of finalized) {
    const id = e.args.federationId;
    rounds.set(id, (rounds.get(id) ?? 0) + 1);
    lastEvent.set(id, finalizedOf(e));
  }
  return ids.map((id, i) => ({
    id,
    state: states[i],
    config: configs[i],
    roundsFinalized: rounds.get(id) ?? 0,
    lastFinalized: lastEvent.get(id) ?? null,
  }));
}

/**
 * One federation: views, members (NodeJoined / LeaveRequested / StakeReleased / NodeSlashed with
 * getMember and superNodeKeyOf for the current state), rounds (RoundOpened / UpdateCommitted / RoundFinalized /
 * RewardClaimed / ExclusionContested) and minted models. Throws the contract's error for an
 * unknown id.
 */
export async function loadFederation(chain, federationId) {
  const id = BigInt(federationId);
  const [state, config, block] = await Promise.all([
    chain.registry.getFederation(id), chain.registry.getConfig(id), chain.provider.getBlockNumber(),
  ]);
  const [created, joined, leaves, released, slashed, opened, committed, finalized, claimed, contested, minted] = await Promise.all([
    query(chain, 'FederationCreated', id), query(chain, 'NodeJoined', id), query(chain, 'LeaveRequested', id),
    query(chain, 'StakeReleased', id), query(chain, 'NodeSlashed', id), query(chain, 'RoundOpened', id),
    query(chain, 'UpdateCommitted', id), query(chain, 'RoundFinalized', id), query(chain, 'RewardClaimed', id),
    query(chain, 'ExclusionContested', id), query(chain, 'ModelMintedFromFederation', id),
  ]);

  const members = new Map();
  const member = (address) => {
    const key = address.toLowerCase();
    if (!members.has(key)) {
      members.set(key, { address, joins: [], leaves: [], released: [], slashes: [], current: null });
    }
    return members.get(key);
  };
  for (const e of joined) member(e.args.node).joins.push({ stake: e.args.stake, keyDigest: e.args.keyDigest, ...where(e) });
  for (const e of leaves) member(e.args.node).leaves.push({ unbondAt: e.args.unbondAt, ...where(e) });
  for (const e of released) member(e.args.node).released.push({ amount: e.args.amount, ...where(e) });
  for (const e of slashed) {
    member(e.args.node).slashes.push({ round: Number(e.args.round), amount: e.args.amount, ejected: e.args.ejected, ...where(e) });
  }
  const list = [...members.values()];
  const views = await Promise.all(list.map((m) => chain.registry.getMember(id, m.address)));
  const superNodeKeys = await Promise.all(list.map((m) => chain.registry.superNodeKeyOf(id, m.address)));
  list.forEach((m, i) => {
    const v = views[i];
    m.current = {
      stake: v.stake, joinedRound: Number(v.joinedRound), leaveRound: Number(v.leaveRound), unbondAt: v.unbondAt,
      status: MEMBER_STATUS[Number(v.status)] ?? `status ${v.status}`, keyDigest: v.keyDigest,
      superNodeKey: /^0x0*$/.test(String(superNodeKeys[i])) ? null : String(superNodeKeys[i]),
    };
  });

  const rounds = new Map();
  const round = (n) => {
    if (!rounds.has(n)) rounds.set(n, { round: n, opened: null, commits: [], finalized: null, claims: new Set(), contests: [], mintedToken: null });
    return rounds.get(n);
  };
  for (const e of opened) {
    round(Number(e.args.round)).opened = {
      commitDeadline: Number(e.args.commitDeadline), finalizeDeadline: Number(e.args.finalizeDeadline), ...where(e),
    };
  }
  for (const e of committed) round(Number(e.args.round)).commits.push({ node: e.args.node, digest: e.args.manifestDigest, ...where(e) });
  for (const e of finalized) round(Number(e.args.round)).finalized = finalizedOf(e);
  for (const e of claimed) round(Number(e.args.round)).claims.add(e.args.node.toLowerCase());
  for (const e of contested) round(Number(e.args.round)).contests.push({ node: e.args.node, evidenceCID: e.args.evidenceCID, ...where(e) });
  for (const e of minted) round(Number(e.args.round)).mintedToken = e.args.tokenId;

  const all = [created, joined, leaves, released, slashed, opened, committed, finalized, claimed, contested, minted].flat();
  // What the page shows changes only with these events and the member views.
  const fingerprint = [
    all.map((e) => `${e.transactionHash}:${e.index}`).sort().join(','),
    list.map((m) => `${m.current.status}:${m.current.stake}`).join(','),
    String(state.rewardPool),
  ].join('|');

  return {
    id,
    state,
    config,
    block,
    created: created[0] ? { initialPool: created[0].args.initialPool, ...where(created[0]) } : null,
    members: list,
    rounds: [...rounds.values()].sort((a, b) => a.round - b.round),
    mintedModels: minted.map((e) => ({ round: Number(e.args.round), tokenId: e.args.tokenId, ...where(e) })),
    fingerprint,
  };
}

/** Check a finalised round's model and signed report (cached per round and on-chain values). */
export function verifyFinalizedRound(config, coordinator, finalized) {
  const key = [finalized.federationId, finalized.round, finalized.globalManifestCID, finalized.globalDigest,
    finalized.acceptedRoot, finalized.contributors.join(','), finalized.weights.join(','), coordinator].join('|');
  if (!verifiedRounds.has(key)) {
    const promise = verifyRound({ event: finalized, coordinator, fetchBlock: gatewayFetcher(config) }).then((result) => {
      // A block that could not be fetched (or came back wrong) may come right later: not cached.
      const retryable = !result.ok && /fetch/.test(result.checks.at(-1)?.name ?? '');
      if (retryable) verifiedRounds.delete(key);
      return { ...result, retryable };
    });
    verifiedRounds.set(key, promise);
  }
  return verifiedRounds.get(key);
}

/** Call `tick` every `intervalMs` (after the previous call ended) until the returned stop is called. */
export function poll(tick, intervalMs) {
  let stopped = false;
  let timer = null;
  const run = async () => {
    if (stopped) return;
    try {
      await tick(() => stopped);
    } finally {
      if (!stopped) timer = setTimeout(run, intervalMs);
    }
  };
  timer = setTimeout(run, intervalMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
