// Federation dashboard: the federations of FederationRegistry (#/federations) and one federation
// (#/federation/<id>): configuration, members and stakes, rounds with their commitments and
// finalisation, and from each round's signed report (checked in this page: lib/report.js) the
// accuracy per round as a chart, the rejected updates with their reasons and the QAOA vs classical
// node selection. Both pages poll the chain every few seconds while open; a new round shows up
// without a reload. Report contents are shown only for rounds whose every check passed.
import { h, clear, shortHex } from '../dom.js';
import { eth } from '../chain.js';
import { lineChart } from '../lib/chart.js';
import { WEIGHT_TOTAL, listFederations, loadFederation, poll, verifyFinalizedRound } from '../federation.js';

export const POLL_MS = 3000;
const MAX_TEXT = 400; // longest untrusted string shown (report details)
const MAX_ROWS = 200; // most rows of an untrusted list shown

function section(title, id, ...children) {
  return h('section', { 'aria-labelledby': id, class: 'fed-section' }, h('h2', { id }, title), ...children);
}

function errorText(err) {
  return err?.revert?.name
    ? `${err.revert.name}(${Array.from(err.revert.args ?? [], String).join(', ')})`
    : (err?.shortMessage ?? err?.message ?? String(err));
}

/** An untrusted string, capped. */
function text(value, max = MAX_TEXT) {
  const s = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return s.length > max ? `${s.slice(0, max)}… (${s.length - max} more characters)` : s;
}

function num(value, digits = 4) {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '—';
}

function seconds(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '—';
  return value < 0.1 ? `${(value * 1000).toFixed(2)} ms` : `${value.toFixed(2)} s`;
}

function percentOfWeight(weight) {
  return `${(Number(weight) / (WEIGHT_TOTAL / 100)).toFixed(2)} %`;
}

function gatewayLink(config, cid) {
  return h('a', { href: new URL(encodeURIComponent(cid), config.ipfsGateway).href, rel: 'noopener' }, h('code', {}, shortHex(cid, 14)));
}

function address(value) {
  return h('code', { title: String(value) }, String(value));
}

function table(caption, columns, rows, attrs = {}) {
  return h('div', { class: 'fed-table-wrap' }, h('table', { class: 'fed-table', ...attrs }, h('caption', {}, caption),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows)));
}

function dl(rows) {
  return h('dl', { class: 'details' }, rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function reportBadge(result) {
  if (!result) return h('span', { class: 'badge pending', 'data-testid': 'report-badge', 'data-state': 'pending' }, 'Checking the round report…');
  if (result.ok) return h('span', { class: 'badge ok', 'data-testid': 'report-badge', 'data-state': 'pass' }, '✔ Report verified');
  const failed = result.checks.find((c) => c.status === 'fail');
  return h('span', { class: 'badge fail', 'data-testid': 'report-badge', 'data-state': 'fail' }, `✘ Report check failed: ${failed?.name}`);
}

function checksList(result) {
  const items = result.checks.map((c) => h('li', { class: `check ${c.status}`, 'data-testid': 'report-check', 'data-check': c.name, 'data-status': c.status },
    h('span', { class: 'check-icon', 'aria-hidden': 'true' }, c.status === 'pass' ? '✔' : '✘'),
    h('strong', {}, `${c.name}: `), h('span', { class: 'sr-only' }, c.status === 'pass' ? 'passed. ' : 'FAILED. '), text(c.detail, 600)));
  return h('ol', { class: 'checks' }, items);
}

// ------------------------------------------------------------------------------- federations list

function federationRow(config, f, quorumCell) {
  const c = f.config;
  return h('tr', { 'data-testid': 'federation-row', 'data-federation-id': String(f.id) },
    h('th', { scope: 'row' }, h('a', { href: `#/federation/${f.id}` }, `Federation #${f.id}`)),
    h('td', {}, address(f.state.coordinator)),
    h('td', { 'data-testid': 'member-count' }, String(f.state.memberCount)),
    h('td', {}, `${f.state.memberCount} of ${c.maxParticipants}`),
    h('td', {}, eth(c.minStake)),
    quorumCell,
    h('td', { 'data-testid': 'rounds-finalized' }, String(f.roundsFinalized)),
    h('td', {}, f.state.currentRound === 0n ? 'none opened' : `#${f.state.currentRound}`),
    h('td', {}, eth(c.rewardPerRound)),
    h('td', {}, eth(f.state.rewardPool)),
    h('td', {}, c.modelSpecCID ? h('code', {}, text(c.modelSpecCID, 80)) : '—'));
}

function quorumCellFor(config, f) {
  const cell = h('td', { 'data-testid': 'quorum' }, f.lastFinalized ? 'checking…' : '— (no round report yet)');
  if (f.lastFinalized) {
    verifyFinalizedRound(config, f.state.coordinator, f.lastFinalized).then((result) => {
      if (result.ok && Number.isInteger(result.report.quorum)) clear(cell, `${result.report.quorum} (round ${f.lastFinalized.round} report)`);
      else clear(cell, result.ok ? '—' : `unknown: report check "${result.checks.at(-1).name}" failed`);
    });
  }
  return cell;
}

export async function renderFederations(root, config, chain) {
  const heading = h('h1', {}, 'Federations');
  clear(root, heading, h('p', { role: 'status' }, 'Reading FederationRegistry…'));
  const body = h('div', {});
  const problem = h('div', { 'aria-live': 'assertive' });
  const checked = h('p', { class: 'muted', 'data-testid': 'poll-status' });
  let fingerprint = null;

  const draw = (federations, block) => {
    const key = federations.map((f) => [f.id, f.state.memberCount, f.state.currentRound, f.roundsFinalized, f.state.rewardPool].join(':')).join(',');
    checked.textContent = `Watching the chain: checked at block ${block}, ${new Date().toLocaleTimeString()}.`;
    if (key === fingerprint) return;
    fingerprint = key;
    if (!federations.length) {
      clear(body, h('p', {}, 'No federation has been created on this chain yet.'));
      return;
    }
    const columns = ['Federation', 'Coordinator', 'Members', 'Members of maximum', 'Minimum stake', 'Quorum (coordinator\'s, from the last round report)',
      'Rounds finalised', 'Current round', 'Reward per round', 'Reward pool', 'Model specification CID'];
    clear(body, h('p', { class: 'muted' }, `${federations.length} federation(s) on chain ${chain.chainId}. The quorum is the coordinator's setting, read from its signed round report; the rest is on-chain.`),
      table('Federations in FederationRegistry', columns, federations.map((f) => federationRow(config, f, quorumCellFor(config, f))), { 'data-testid': 'federations' }));
  };

  const load = async () => {
    const [federations, block] = await Promise.all([listFederations(chain), chain.provider.getBlockNumber()]);
    return { federations, block };
  };
  try {
    const { federations, block } = await load();
    clear(root, heading, problem, body, checked);
    draw(federations, block);
  } catch (err) {
    clear(root, heading, h('p', { class: 'error', role: 'alert' }, `Cannot read the federations: ${errorText(err)}`));
    return () => {};
  }
  let lastBlock = null;
  const stop = poll(async (stopped) => {
    if (!heading.isConnected) return stop();
    try {
      const block = await chain.provider.getBlockNumber();
      if (block !== lastBlock) {
        const data = await load();
        if (stopped()) return undefined;
        draw(data.federations, data.block);
        lastBlock = block;
      } else {
        checked.textContent = `Watching the chain: checked at block ${block}, ${new Date().toLocaleTimeString()}.`;
      }
      clear(problem);
    } catch (err) {
      if (!stopped()) clear(problem, h('p', { class: 'error', role: 'alert' }, `Cannot read the chain (retrying): ${errorText(err)}`));
    }
    return undefined;
  }, POLL_MS);
  return stop;
}

// ------------------------------------------------------------------------------- one federation

function summary(config, fed) {
  const c = fed.config;
  const s = fed.state;
  return dl([
    ['Coordinator', address(s.coordinator)],
    ['Members', h('span', { 'data-testid': 'member-count' }, `${s.memberCount} active (at most ${c.maxParticipants})`)],
    ['Minimum stake', eth(c.minStake)],
    ['Rounds', h('span', { 'data-testid': 'round-summary' },
      `${fed.rounds.filter((r) => r.finalized).length} finalised; current round ${s.currentRound === 0n ? 'none' : `#${s.currentRound}`}, last finalised ${s.lastFinalizedRound === 0n ? 'none' : `#${s.lastFinalizedRound}`}`)],
    ['Reward per round / pool', `${eth(c.rewardPerRound)} / ${eth(s.rewardPool)}`],
    ['Windows (blocks)', `commit ${c.commitWindow}, finalise ${c.finalizeWindow}, contest ${c.contestWindow}, unbonding ${c.unbondingBlocks}`],
    ['Slash / licence revenue share', `${Number(c.slashBps) / 100} % of stake / ${Number(c.revenueShareBps) / 100} % of revenue`],
    ['Model specification', c.modelSpecCID ? h('code', {}, text(c.modelSpecCID, 120)) : '—'],
    ['Created', fed.created ? `block ${fed.created.block}, initial pool ${eth(fed.created.initialPool)}` : '—'],
    ['Models minted', fed.mintedModels.length
      ? fed.mintedModels.map((m, i) => [i ? ', ' : '', h('a', { href: `#/model/${m.tokenId}` }, `Model #${m.tokenId}`), ` (round ${m.round})`])
      : 'none yet'],
  ]);
}

function memberHistory(m) {
  const parts = [];
  for (const j of m.joins) parts.push(`joined in block ${j.block} staking ${eth(j.stake)}`);
  for (const s of m.slashes) parts.push(`slashed ${eth(s.amount)} for round ${s.round}${s.ejected ? ' and ejected' : ''} (block ${s.block})`);
  for (const l of m.leaves) parts.push(`leave requested in block ${l.block}, stake releasable at block ${l.unbondAt}`);
  for (const r of m.released) parts.push(`stake of ${eth(r.amount)} released in block ${r.block}`);
  return parts.join('; ');
}

function membersTable(fed) {
  if (!fed.members.length) return h('p', {}, 'No node has joined yet.');
  const rows = fed.members.map((m) => {
    const cur = m.current;
    const status = cur.status === 'none' ? 'left (record deleted)' : cur.status === 'leaving' ? `leaving, unbonds at block ${cur.unbondAt}` : 'active';
    return h('tr', { 'data-testid': 'member', 'data-address': m.address, 'data-status': cur.status, 'data-stake': String(cur.stake),
      'data-supernode-key': cur.superNodeKey ?? '' },
      h('th', { scope: 'row' }, address(m.address)),
      h('td', {}, status),
      h('td', { 'data-testid': 'stake' }, eth(cur.stake)),
      h('td', {}, cur.status === 'none' ? '—' : `#${cur.joinedRound}`),
      h('td', {}, h('code', { title: String(cur.keyDigest) }, shortHex(cur.status === 'none' ? m.joins.at(-1)?.keyDigest ?? '' : cur.keyDigest, 12))),
      h('td', {}, cur.superNodeKey
        ? h('code', { title: cur.superNodeKey }, shortHex(cur.superNodeKey, 12))
        : 'none (its SuperNode cannot be admitted)'),
      h('td', {}, memberHistory(m)));
  });
  return table('Members and stakes (getMember, superNodeKeyOf, NodeJoined, NodeSlashed, LeaveRequested and StakeReleased events)',
    ['Account', 'Status', 'Stake now', 'Joined in round', 'ML-DSA-65 key digest', 'SuperNode key digest', 'History'], rows, { 'data-testid': 'members' });
}

function roundState(r, block) {
  if (r.finalized) return `finalised in block ${r.finalized.block}`;
  if (!r.opened) return 'unknown';
  if (block <= r.opened.commitDeadline) return `open: nodes commit until block ${r.opened.commitDeadline}`;
  if (block <= r.opened.finalizeDeadline) return `awaiting finalisation until block ${r.opened.finalizeDeadline}`;
  return `expired unfinalised (finalisation window ended at block ${r.opened.finalizeDeadline})`;
}

function commitmentsTable(r, result) {
  if (!r.commits.length) return h('p', {}, 'No update committed yet.');
  const contributors = new Map((r.finalized?.contributors ?? []).map((c, i) => [c.toLowerCase(), r.finalized.weights[i]]));
  const rejected = new Map();
  if (result?.ok) for (const x of result.report.rejected) if (typeof x?.node === 'string') rejected.set(x.node.toLowerCase(), x);
  const rows = r.commits.map((c) => {
    const key = c.node.toLowerCase();
    let outcome;
    if (contributors.has(key)) outcome = `accepted: contributor, weight ${percentOfWeight(contributors.get(key))}`;
    else if (rejected.has(key)) outcome = `rejected: ${text(rejected.get(key).reason, 60)}`;
    else if (r.finalized) outcome = result ? 'not included' : 'not included (checking the report for the reason…)';
    else outcome = 'pending';
    return h('tr', { 'data-testid': 'commitment', 'data-node': c.node },
      h('th', { scope: 'row' }, address(c.node)), h('td', {}, h('code', { title: c.digest }, shortHex(c.digest, 12))),
      h('td', {}, String(c.block)), h('td', {}, outcome));
  });
  return table(`Round ${r.round}: update commitments (UpdateCommitted)`, ['Node', 'Manifest digest', 'Block', 'Outcome'], rows);
}

function contributorsTable(r) {
  const f = r.finalized;
  const rows = f.contributors.map((c, i) => h('tr', { 'data-testid': 'contributor', 'data-address': c, 'data-weight': String(f.weights[i]) },
    h('th', { scope: 'row' }, address(c)),
    h('td', {}, `${f.weights[i]} (${percentOfWeight(f.weights[i])})`),
    h('td', {}, r.claims.has(c.toLowerCase()) ? 'claimed' : 'not claimed')));
  return table(`Round ${r.round}: contributors and weights (RoundFinalized, of ${WEIGHT_TOTAL.toLocaleString('en')})`,
    ['Contributor', 'Weight', 'Reward'], rows, { 'data-testid': 'contributors' });
}

function roundArticle(config, r, block, result) {
  const f = r.finalized;
  const id = `round-${r.round}`;
  const children = [h('h3', { id }, `Round ${r.round}`, ' ', f ? reportBadge(result) : null)];
  children.push(dl([
    ['State', roundState(r, block)],
    ['Opened', r.opened ? `block ${r.opened.block}; commit deadline ${r.opened.commitDeadline}, finalise deadline ${r.opened.finalizeDeadline}` : '—'],
    ...(f ? [
      ['Round model manifest', gatewayLink(config, f.globalManifestCID)],
      ['Manifest digest (globalDigest)', h('code', {}, f.globalDigest)],
      ['Accepted updates root', h('code', {}, f.acceptedRoot)],
      ['Reward', eth(f.reward)],
      ...(result?.ok ? [
        ['Round report', gatewayLink(config, result.reportCid)],
        ['Accuracy / loss (test split)', `${num(result.report.metrics.accuracy)} / ${num(result.report.metrics.loss)} on ${Number.isInteger(result.report.metrics.test_samples) ? result.report.metrics.test_samples : '—'} samples`],
        ['Strategy / quorum', `${text(result.report.strategy, 40)} / ${Number.isInteger(result.report.quorum) ? result.report.quorum : '—'}`],
      ] : []),
      ...(r.mintedToken !== null ? [['Minted', h('a', { href: `#/model/${r.mintedToken}` }, `Model #${r.mintedToken}`)]] : []),
    ] : []),
    ...(r.contests.length ? [['Exclusions contested', r.contests.map((c) => `${c.node} (evidence ${text(c.evidenceCID, 80)})`).join('; ')]] : []),
  ]));
  if (f) children.push(contributorsTable(r));
  children.push(commitmentsTable(r, result));
  if (result?.ok) {
    children.push(h('details', { class: 'fed-checks', 'data-part': 'selection' }, h('summary', {}, `Round ${r.round}: node selection in full`), selectionDetail(r, result.report)));
  }
  if (f) {
    const checks = result
      ? [result.ok ? null : h('p', { class: 'error', role: 'alert' }, `Round ${r.round}: the round report check "${result.checks.at(-1).name}" failed, so nothing from the report is shown. ${text(result.checks.at(-1).detail, 300)}`),
        checksList(result)]
      : h('p', { role: 'status' }, 'Fetching the round model and its signed report…');
    children.push(h('details', { class: 'fed-checks', 'data-part': 'checks', open: result && !result.ok ? true : undefined },
      h('summary', {}, `Round ${r.round}: checks of the round model and the signed report`), checks));
  }
  return h('article', { class: 'fed-round', 'aria-labelledby': id, 'data-testid': 'round', 'data-round': String(r.round), 'data-state': f ? 'finalized' : 'open' }, children);
}

function accuracyView(fed, results) {
  const finalized = fed.rounds.filter((r) => r.finalized);
  if (!finalized.length) return h('p', {}, 'No round has been finalised yet.');
  const points = [];
  const rows = [];
  for (const r of finalized) {
    const result = results.get(r.round);
    const acc = result?.ok ? result.report.metrics.accuracy : undefined;
    const valid = typeof acc === 'number' && Number.isFinite(acc) && acc >= 0 && acc <= 1;
    if (valid) points.push({ x: r.round, y: acc, label: `Round ${r.round}: accuracy ${num(acc)}` });
    let note = 'from the verified round report';
    if (!result) note = 'checking the round report…';
    else if (!result.ok) note = `not shown: report check "${result.checks.at(-1).name}" failed`;
    else if (!valid) note = 'not shown: the report has no accuracy in [0, 1]';
    const m = result?.ok ? result.report.metrics : {};
    rows.push(h('tr', { 'data-testid': 'accuracy-row', 'data-round': String(r.round), 'data-accuracy': valid ? String(acc) : '' },
      h('th', { scope: 'row' }, String(r.round)), h('td', {}, valid ? num(acc) : '—'), h('td', {}, num(m.loss)),
      h('td', {}, Number.isInteger(m.test_samples) ? String(m.test_samples) : '—'),
      h('td', {}, String(r.finalized.contributors.length)), h('td', {}, note)));
  }
  const description = points.length
    ? `Test-split accuracy of the round model after each finalised round: ${points.map((p) => `round ${p.x}: ${num(p.y)}`).join('; ')}. The same values are in the table below.`
    : 'No verified accuracy yet.';
  const chart = points.length
    ? h('figure', { class: 'fed-chart' }, lineChart({
      points, title: `Accuracy per round, federation ${fed.id}`, description, xLabel: 'Round', yLabel: 'Accuracy (test split)', format: (y) => y.toFixed(3), testid: 'accuracy-chart',
    }), h('figcaption', { class: 'muted' }, `Accuracy of each round's model on the held-out test split, as signed in the round reports (${points.length} of ${finalized.length} round(s) verified).`))
    : h('p', { role: 'status' }, 'Waiting for verified round reports…');
  return [chart, table('Accuracy per round (the chart\'s data)', ['Round', 'Accuracy', 'Loss', 'Test samples', 'Contributors', 'Source'], rows, { 'data-testid': 'accuracy-table' })];
}

function rejectedView(fed, results) {
  const rows = [];
  let pending = 0;
  let failed = 0;
  for (const r of fed.rounds.filter((x) => x.finalized)) {
    const result = results.get(r.round);
    if (!result) { pending += 1; continue; }
    if (!result.ok) { failed += 1; continue; }
    for (const x of result.report.rejected.slice(0, MAX_ROWS)) {
      rows.push(h('tr', { 'data-testid': 'rejected', 'data-round': String(r.round), 'data-reason': text(x?.reason, 60), 'data-node': typeof x?.node === 'string' ? x.node : '' },
        h('th', { scope: 'row' }, String(r.round)),
        h('td', {}, typeof x?.node === 'string' ? address(x.node) : '— (no account: the reply carried no verifiable manifest)'),
        h('td', {}, h('strong', {}, text(x?.reason, 60))),
        h('td', { class: 'fed-detail' }, text(x?.detail)),
        h('td', {}, typeof x?.manifest_cid === 'string' && /^b[a-z2-7]{20,120}$/.test(x.manifest_cid) ? h('code', {}, shortHex(x.manifest_cid, 14)) : '—')));
    }
  }
  const notes = [];
  if (pending) notes.push(`${pending} round report(s) still being checked.`);
  if (failed) notes.push(`${failed} round report(s) failed their check; their rejections are not shown.`);
  return [
    notes.length ? h('p', { class: 'muted' }, notes.join(' ')) : null,
    rows.length
      ? table('Updates the coordinator rejected, with the reason from the signed round report', ['Round', 'Node', 'Reason', 'Detail', 'Update manifest'], rows, { 'data-testid': 'rejected-table' })
      : h('p', {}, pending ? '' : 'No update was rejected in the verified rounds.'),
  ];
}

function int(value) {
  return Number.isInteger(value) ? String(value) : '—';
}

/** What the report says about the selection's optimiser, read defensively (it is untrusted JSON). */
function optimiserOf(sel) {
  const opt = sel?.optimiser;
  if (!opt || typeof opt !== 'object') return null;
  const c = opt.classical && typeof opt.classical === 'object' ? opt.classical : {};
  const q = opt.qaoa && typeof opt.qaoa === 'object' ? opt.qaoa : null;
  const used = typeof opt.used === 'string' ? opt.used : null;
  let usedText = used ?? '—';
  if (opt.tie) usedText += ' (tie: the classical answer is kept)';
  if (opt.fallback && typeof opt.fallback === 'object') usedText += ` (fallback: ${text(opt.fallback.reason, 60)}; ${text(opt.fallback.detail, 160)})`;
  if (opt.error) usedText = `the selection failed and every candidate trained: ${text(opt.error, 200)}`;
  return { opt, c, q, used, usedText };
}

function selectionRow(r, sel) {
  const o = optimiserOf(sel);
  const chosen = `${Array.isArray(sel?.chosen) ? sel.chosen.length : '—'} of ${Array.isArray(sel?.candidates) ? sel.candidates.length : '—'}`;
  const head = [h('th', { scope: 'row' }, String(r.round)), h('td', {}, text(sel?.method ?? '—', 40)), h('td', {}, chosen)];
  if (!o) {
    return h('tr', { 'data-testid': 'selection', 'data-round': String(r.round), 'data-method': text(sel?.method ?? '', 40) },
      head, h('td', { colspan: 6 }, sel?.method === 'all' ? 'no optimiser: every candidate trains' : 'no optimiser: a seeded random choice'));
  }
  const { c, q, usedText } = o;
  const qaoaFailed = q && q.error;
  return h('tr', {
    'data-testid': 'selection', 'data-round': String(r.round), 'data-method': text(sel.method, 40), 'data-used': o.used ?? '',
    'data-classical-objective': typeof c.objective === 'number' ? String(c.objective) : '',
    'data-qaoa-objective': typeof q?.objective === 'number' ? String(q.objective) : '',
  }, head,
  h('td', {}, `${text(c.solver ?? '—', 20)}: ${num(c.objective)}`),
  h('td', {}, q ? (qaoaFailed ? `failed: ${text(q.error, 120)}` : num(q.objective)) : '— (not run)'),
  h('td', {}, `${num(c.approximation_ratio, 3)} / ${q && !qaoaFailed ? num(q.approximation_ratio, 3) : '—'}`),
  h('td', {}, `${seconds(c.seconds)} / ${q && !qaoaFailed ? seconds(q.seconds) : '—'}`),
  h('td', {}, q && !qaoaFailed ? num(q.p_feasible, 3) : '—'),
  h('td', {}, usedText));
}

function selectionView(fed, results) {
  const rows = [];
  for (const r of fed.rounds.filter((x) => x.finalized)) {
    const result = results.get(r.round);
    if (result?.ok) rows.push(selectionRow(r, result.report.selection));
  }
  if (!rows.length) return h('p', {}, 'No verified round report yet.');
  return [
    h('p', { class: 'muted' }, 'Each round the coordinator chooses which connected nodes train. With a "<solver>:<count>" selection it maximises the nodes\' scores minus the redundancy of their updates (objective f, higher is better), solved exactly and, with qaoa, also by QAOA on a simulator; the better answer is used, on a tie the classical one. Ratio: (f − f_min) / (f_opt − f_min), 1 is optimal. Each round below lists the figures in full.'),
    table('Node selection per round: classical vs QAOA (from the signed round reports)',
      ['Round', 'Method', 'Chosen of candidates', 'Classical f', 'QAOA f', 'Ratio classical / QAOA', 'Time classical / QAOA', 'QAOA P(feasible)', 'Answer used'], rows, { 'data-testid': 'selection-table' }),
  ];
}

/** One round's selection in full: classical vs QAOA figures and the candidates with their scores. */
function selectionDetail(r, report) {
  const sel = report.selection;
  if (!sel || typeof sel !== 'object') return h('p', {}, 'The report records no selection.');
  const o = optimiserOf(sel);
  const intro = h('p', {}, `Selection ${text(sel.method ?? '—', 40)}: ${Array.isArray(sel.chosen) ? sel.chosen.length : '—'} of ${Array.isArray(sel.candidates) ? sel.candidates.length : '—'} connected nodes trained`
    + `${o ? `; k = ${int(o.opt.k)}, λ = ${num(o.opt.lambda, 2)}, seed ${int(o.opt.seed)}; answer used: ${o.usedText}` : ''}.`);
  const parts = [intro];
  if (o) {
    const { c, q } = o;
    const ok = q && !q.error;
    const circuit = ok && q.circuit && typeof q.circuit === 'object' ? q.circuit : {};
    const figures = [
      ['Solver', text(c.solver ?? '—', 20), ok ? `QAOA ${text(q.config?.variant ?? '', 20)}, p = ${int(q.config?.reps)}` : q ? `failed: ${text(q.error, 200)}` : 'not run'],
      ['Objective f', num(c.objective), ok ? num(q.objective) : '—'],
      ['Approximation ratio', num(c.approximation_ratio, 3), ok ? num(q.approximation_ratio, 3) : '—'],
      ['Nodes chosen (Flower ids)', Array.isArray(c.chosen) ? c.chosen.slice(0, 50).map((x) => shortHex(text(x, 30), 6)).join(', ') : '—',
        ok && Array.isArray(q.chosen) ? q.chosen.slice(0, 50).map((x) => shortHex(text(x, 30), 6)).join(', ') : '—'],
      ['Time', seconds(c.seconds), ok ? seconds(q.seconds) : '—'],
      ['Objective evaluations', int(c.evaluations), ok ? int(q.evaluations) : '—'],
      ['P(feasible sample)', '—', ok ? num(q.p_feasible, 3) : '—'],
      ['P(optimum) over uniform', '—', ok ? `${num(q.p_optimum_over_uniform, 2)}×` : '—'],
      ['Circuit', '—', ok ? `${int(circuit.width)} qubits, depth ${int(circuit.depth)}, ${int(circuit.two_qubit_gates)} two-qubit gates` : '—'],
      ['Shots, backend', '—', ok ? `${int(q.shots)} on ${text(q.sampled_on ?? q.config?.backend ?? '—', 40)}` : '—'],
    ];
    parts.push(table(`Round ${r.round}: classical vs QAOA selection figures`, ['Figure', 'Classical', 'QAOA'],
      figures.map(([name, a, b]) => h('tr', {}, h('th', { scope: 'row' }, name), h('td', {}, a), h('td', {}, b))),
      { 'data-testid': 'selection-detail', 'data-round': String(r.round) }));
    const candidates = Array.isArray(o.opt.candidates) ? o.opt.candidates.slice(0, MAX_ROWS) : [];
    const comps = o.opt.score_components && typeof o.opt.score_components === 'object' ? o.opt.score_components : {};
    const accounts = new Map();
    for (const a of report.accepted) if (a && typeof a.flower_node_id === 'string' && typeof a.node === 'string') accounts.set(a.flower_node_id, a.node);
    const has = (list, id) => Array.isArray(list) && list.includes(id);
    if (candidates.length) {
      parts.push(table(`Round ${r.round}: candidates and their scores (score = 0.4 data + 0.3 improvement + 0.2 reputation + 0.1 staleness)`,
        ['Flower node id', 'Account (if its update was accepted)', 'Score', 'Data', 'Improvement', 'Reputation', 'Staleness', 'Classical pick', 'QAOA pick', 'Trained'],
        candidates.map((id, i) => {
          const key = text(id, 30);
          const sc = comps[key] && typeof comps[key] === 'object' ? comps[key] : {};
          const score = Array.isArray(o.opt.scores) ? o.opt.scores[i] : sc.score;
          return h('tr', {}, h('th', { scope: 'row' }, h('code', {}, key)), h('td', {}, accounts.has(key) ? address(accounts.get(key)) : '—'),
            h('td', {}, num(score, 3)), h('td', {}, num(sc.data, 3)), h('td', {}, num(sc.improvement, 3)), h('td', {}, num(sc.reputation, 3)), h('td', {}, num(sc.staleness, 3)),
            h('td', {}, has(o.c.chosen, key) ? 'yes' : 'no'), h('td', {}, o.q && has(o.q.chosen, key) ? 'yes' : 'no'), h('td', {}, has(sel.chosen, key) ? 'yes' : 'no'));
        })));
    }
  }
  return parts;
}

export async function renderFederation(root, config, chain, federationId) {
  const heading = h('h1', {}, `Federation #${federationId}`);
  clear(root, heading, h('p', { role: 'status' }, 'Reading the federation…'));
  let fed;
  try {
    fed = await loadFederation(chain, federationId);
  } catch (err) {
    clear(root, heading, h('p', { class: 'error', role: 'alert' }, `Cannot read federation ${federationId}: ${errorText(err)}`),
      h('p', {}, h('a', { href: '#/federations' }, 'All federations')));
    return () => {};
  }
  const summarySlot = h('div', {});
  const membersSlot = h('div', {});
  const accuracySlot = h('div', { 'data-testid': 'accuracy' });
  const rejectedSlot = h('div', { 'data-testid': 'rejected-updates' });
  const selectionSlot = h('div', { 'data-testid': 'selection-figures' });
  const roundsSlot = h('div', { 'data-testid': 'rounds' });
  const problem = h('div', {});
  const announce = h('p', { class: 'sr-only', role: 'status', 'aria-live': 'polite', 'data-testid': 'announce' });
  const checked = h('p', { class: 'muted fed-watch', 'data-testid': 'poll-status' });
  clear(root, heading,
    h('p', { class: 'muted' }, h('a', { href: '#/federations' }, 'All federations'),
      '. Chain data is read from FederationRegistry; accuracy, rejections and the node selection come from each round\'s signed report, checked in this page.'),
    checked, problem, announce,
    section('Configuration and state', 'h-fed-summary', summarySlot),
    section('Members and stakes', 'h-fed-members', membersSlot),
    section('Accuracy per round', 'h-fed-accuracy', accuracySlot),
    section('Rejected updates', 'h-fed-rejected', rejectedSlot),
    section('Node selection: QAOA vs classical', 'h-fed-selection', selectionSlot),
    section('Rounds', 'h-fed-rounds', roundsSlot));

  const results = new Map(); // round -> verifyRound result, for the round's current on-chain record
  const checking = new Set();

  const drawAggregates = () => {
    clear(accuracySlot, accuracyView(fed, results));
    clear(rejectedSlot, rejectedView(fed, results));
    clear(selectionSlot, selectionView(fed, results));
  };
  const drawRound = (r) => {
    const el = roundArticle(config, r, fed.block, results.get(r.round));
    const old = roundsSlot.querySelector(`[data-testid=round][data-round="${r.round}"]`);
    if (old) {
      for (const d of old.querySelectorAll('details[open][data-part]')) { // keep what the reader opened
        const again = el.querySelector(`details[data-part="${d.dataset.part}"]`);
        if (again) again.open = true;
      }
      old.replaceWith(el);
    } else roundsSlot.append(el);
  };
  // Check a finalised round's report (once; again only after a failed fetch) and show the result.
  const check = (r) => {
    if (checking.has(r.round)) return;
    checking.add(r.round);
    const cid = r.finalized.globalManifestCID;
    verifyFinalizedRound(config, fed.state.coordinator, r.finalized).then((result) => {
      checking.delete(r.round);
      const now = fed.rounds.find((x) => x.round === r.round);
      if (!now?.finalized || now.finalized.globalManifestCID !== cid) return;
      const old = results.get(r.round);
      results.set(r.round, result);
      if (!heading.isConnected || (old && JSON.stringify(old.checks) === JSON.stringify(result.checks))) return;
      drawRound(now);
      drawAggregates();
    });
  };
  const draw = () => {
    clear(summarySlot, summary(config, fed));
    clear(membersSlot, membersTable(fed));
    const current = new Set(fed.rounds.map((r) => String(r.round)));
    for (const el of [...roundsSlot.querySelectorAll('[data-testid=round]')]) if (!current.has(el.dataset.round)) el.remove();
    for (const [round] of results) if (!fed.rounds.some((r) => r.round === round && r.finalized)) results.delete(round);
    if (!fed.rounds.length) clear(roundsSlot, h('p', {}, 'No round has been opened yet.'));
    else roundsSlot.querySelector(':scope > p')?.remove();
    const newestFirst = [...fed.rounds].reverse();
    for (const r of newestFirst) drawRound(r);
    roundsSlot.append(...newestFirst.map((r) => roundsSlot.querySelector(`[data-testid=round][data-round="${r.round}"]`)));
    drawAggregates();
    for (const r of fed.rounds) if (r.finalized && !results.has(r.round)) check(r);
  };
  const watching = () => {
    checked.textContent = `Watching for new rounds: checked at block ${fed.block}, ${new Date().toLocaleTimeString()} (every ${POLL_MS / 1000} s).`;
  };
  draw();
  watching();

  const stop = poll(async (stopped) => {
    if (!heading.isConnected) return stop();
    try {
      const block = await chain.provider.getBlockNumber();
      if (block !== fed.block) {
        const next = await loadFederation(chain, federationId);
        if (stopped()) return undefined;
        const before = new Set(fed.rounds.filter((r) => r.finalized).map((r) => r.round));
        const opened = new Set(fed.rounds.map((r) => r.round));
        const changed = next.fingerprint !== fed.fingerprint;
        fed = next;
        if (changed) {
          draw();
          const news = [
            ...fed.rounds.filter((r) => !opened.has(r.round)).map((r) => `Round ${r.round} opened.`),
            ...fed.rounds.filter((r) => r.finalized && !before.has(r.round)).map((r) => `Round ${r.round} finalised.`),
          ];
          if (news.length) announce.textContent = news.join(' ');
        }
      }
      watching();
      // a round report that could not be fetched is tried again
      for (const r of fed.rounds) {
        const result = results.get(r.round);
        if (r.finalized && result && !result.ok && result.retryable) check(r);
      }
      clear(problem);
    } catch (err) {
      if (!stopped()) clear(problem, h('p', { class: 'error', role: 'alert' }, `Cannot read the chain (retrying): ${errorText(err)}`));
    }
    return undefined;
  }, POLL_MS);
  return stop;
}
