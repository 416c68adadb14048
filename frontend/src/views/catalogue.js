import { h, clear } from '../dom.js';
import { eth } from '../chain.js';
import { listTokenIds, loadToken, taskOf, verifyToken } from '../models.js';
import { badge } from './badge.js';
import { quantumOf, quantumSummary } from './quantum.js';

function metricsSummary(metrics) {
  const entries = Object.entries(metrics ?? {}).slice(0, 3);
  if (!entries.length) return '—';
  return entries.map(([k, v]) => `${k} ${v}`).join(', ');
}

async function card(config, chain, tokenId) {
  const li = h('li', { class: 'card', 'data-testid': 'model-card', 'data-token-id': String(tokenId) }, h('p', {}, `Model #${tokenId}: loading…`));
  (async () => {
    const token = await loadToken(chain, tokenId);
    const badgeSlot = h('span', {}, badge(null));
    const fields = h('dl', {});
    const title = h('h2', {}, h('a', { href: `#/model/${tokenId}` }, `Model #${tokenId}`));
    const activeOffers = token.offers.filter((o) => o.active);
    const cheapest = activeOffers.reduce((m, o) => (m === null || o.price < m ? o.price : m), null);
    const row = (k, v) => [h('dt', {}, k), h('dd', {}, v)];
    clear(li, title, badgeSlot, fields);
    const fill = (manifest) => clear(fields,
      row('Name', manifest?.model?.name ?? 'unverified'),
      row('Task', taskOf(manifest) ?? '—'),
      quantumOf(manifest) ? row('Model', quantumSummary(quantumOf(manifest))) : null,
      row('Metrics', metricsSummary(manifest?.metrics)),
      row('Price', token.listing ? eth(token.listing.price) : 'Not for sale'),
      row('Licences', activeOffers.length ? `${activeOffers.length} offer(s), from ${eth(cheapest)}` : 'None offered'));
    fill(null);
    const result = await verifyToken(config, chain, token.provenance);
    clear(badgeSlot, badge(result));
    // Manifest data is shown only when every check passed; a failed manifest says nothing trustworthy.
    if (!result.ok) return;
    fill(result.manifest);
    if (result.manifest?.model?.name) title.firstChild.textContent = `${result.manifest.model.name} (#${tokenId})`;
  })().catch((err) => {
    clear(li, h('p', { class: 'error' }, `Model #${tokenId}: ${err.shortMessage ?? err.message}`));
    console.warn(err); // eslint-disable-line no-console
  });
  return li;
}

export async function renderCatalogue(root, config, chain) {
  const heading = h('h1', {}, 'Model catalogue');
  clear(root, heading, h('p', { role: 'status' }, 'Reading ModelMinted events…'));
  const ids = await listTokenIds(chain);
  if (!ids.length) {
    clear(root, heading, h('p', {}, 'No models have been minted on this chain yet.'));
    return;
  }
  const list = h('ul', { class: 'cards', 'aria-label': 'Models' });
  clear(root, heading, h('p', { class: 'muted' }, `${ids.length} model(s) on chain ${chain.chainId}.`), list);
  for (const id of ids) list.append(await card(config, chain, id));
}
