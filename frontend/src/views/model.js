import { h, clear, localTime, duration, shortHex } from '../dom.js';
import { eth } from '../chain.js';
import { loadToken, taskOf, verifyToken } from '../models.js';
import { runTx, txStatus } from '../tx.js';
import { badge } from './badge.js';
import { quantumOf, quantumSection } from './quantum.js';

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;

function section(title, id, ...children) {
  return h('section', { 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

function checksList(result) {
  const items = result.checks.map((c) => h('li', { class: `check ${c.status}`, 'data-testid': 'check', 'data-check': c.name, 'data-status': c.status },
    h('span', { class: 'check-icon', 'aria-hidden': 'true' }, c.status === 'pass' ? '✔' : '✘'),
    h('strong', {}, `${c.name}: `), h('span', { class: 'sr-only' }, c.status === 'pass' ? 'passed. ' : 'FAILED. '), c.detail));
  const summary = result.ok
    ? h('p', {}, 'Every check passed in this browser. The weights themselves are not downloaded here; their signed sha256 equals the digest the token records.')
    : h('p', { class: 'error' }, `The check "${result.checks.at(-1).name}" failed; the checks after it were not run. Do not trust this model's manifest.`);
  return [summary, h('ol', { class: 'checks' }, items)];
}

function gatewayLink(config, cid) {
  return h('a', { href: new URL(encodeURIComponent(cid), config.ipfsGateway).href, rel: 'noopener' }, h('code', {}, cid));
}

function detailsList(config, token, manifest) {
  const p = token.provenance;
  const rows = [
    ['Token', `#${token.id}`],
    ['Owner', h('code', {}, token.owner)],
    ['Kind', manifest?.kind ?? '—'],
    ['Task', taskOf(manifest) ?? '—'],
    ['Federation / round', p.federationId === 0n ? 'published outside a federation' : `federation ${p.federationId}, round ${p.round}`],
    ['Minted', localTime(p.mintedAt)],
    ['Manifest created', manifest?.created_at ? new Date(manifest.created_at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'long' }) : '—'],
    ['Manifest CID', gatewayLink(config, p.manifestCID)],
    ['Weights digest (on-chain)', h('code', {}, p.weightsDigest)],
    ['Signer key digest (on-chain)', h('code', {}, p.signerKeyDigest)],
    ['Signer account', manifest?.signer?.eth_address ? h('code', {}, manifest.signer.eth_address) : '—'],
    ['Weights', manifest?.weights ? [gatewayLink(config, manifest.weights.cid), ` (${manifest.weights.size} bytes${manifest.weights.encryption ? ', encrypted: licensed use only' : ''})`] : '—'],
  ];
  return h('dl', { class: 'details' }, rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function metricsTable(manifest) {
  const entries = Object.entries(manifest?.metrics ?? {});
  if (!entries.length) return h('p', {}, 'No metrics in the manifest.');
  return h('table', {}, h('caption', { class: 'sr-only' }, 'Metrics from the signed manifest'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Metric'), h('th', { scope: 'col' }, 'Value'))),
    h('tbody', {}, entries.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, String(v))))));
}

const MAX_ANCESTORS = 16;

/** Parent token ids recorded on-chain, nearest first (at most MAX_ANCESTORS, stopping at a cycle). */
async function ancestors(chain, token) {
  const chainOf = [];
  let parent = token.provenance.parentTokenId;
  while (parent && chainOf.length < MAX_ANCESTORS && !chainOf.includes(parent)) {
    chainOf.push(parent);
    parent = (await chain.nft.provenance(parent)).parentTokenId;
  }
  return { ids: chainOf, truncated: Boolean(parent) };
}

function lineage(config, token, manifest, line) {
  const parts = [];
  if (!line.ids.length) parts.push(h('p', { 'data-testid': 'ancestors' }, 'Parent token: none (an original model).'));
  else {
    parts.push(h('p', { 'data-testid': 'ancestors' }, 'Derived from (on-chain parent tokens, nearest first): ',
      line.ids.flatMap((id, i) => [i ? ' ← ' : '', h('a', { href: `#/model/${id}` }, `Model #${id}`)]),
      line.truncated ? ` ← … (more than ${MAX_ANCESTORS} generations)` : ''));
  }
  const parents = manifest?.parents ?? [];
  parts.push(parents.length
    ? [h('p', {}, 'Manifests this model derives from (signed):'), h('ul', {}, parents.map((cid) => h('li', {}, gatewayLink(config, cid))))]
    : h('p', {}, 'The manifest names no parent manifests.'));
  return parts;
}

function buySection(ctx, token) {
  const { chain, wallet } = ctx;
  if (!token.listing) return h('p', {}, 'This model is not for sale.');
  const status = txStatus();
  const mine = wallet.address && wallet.address.toLowerCase() === token.listing.seller.toLowerCase();
  const button = h('button', { type: 'button', disabled: !wallet.address || mine || undefined, onclick: async () => {
    button.disabled = true;
    const price = token.listing.price;
    const receipt = await runTx(status, wallet, chain, 'Buy', (signer) => chain.market.connect(signer).buy(token.id, price, { value: price }));
    if (receipt) ctx.refresh(); else button.disabled = false;
  } }, `Buy for ${eth(token.listing.price)}`);
  return [h('p', {}, `Listed by `, h('code', {}, token.listing.seller), ` for ${eth(token.listing.price)}.`),
    button, !wallet.address ? h('p', { class: 'muted' }, 'Connect a wallet to buy.') : null, mine ? h('p', { class: 'muted' }, 'You are the seller.') : null, status];
}

function offerRow(ctx, token, offer) {
  const { chain, wallet, config } = ctx;
  const now = Date.now() / 1000;
  const expired = offer.expiresAt !== 0n && Number(offer.expiresAt) <= now;
  const seats = offer.maxSeats === 0n ? `${offer.seatsUsed} used, unlimited` : `${offer.seatsUsed} of ${offer.maxSeats} used`;
  const state = !offer.active ? 'paused' : expired ? 'expired' : 'open';
  // The same status element survives re-rendering, so "confirmed in block N" stays visible.
  if (!ctx.statuses.has(offer.offerId)) ctx.statuses.set(offer.offerId, txStatus());
  const status = ctx.statuses.get(offer.offerId);
  const inputId = `kem-${offer.offerId}`;
  // Buying while a licence is valid extends it from its current expiry (a renewal; same offer: no seat).
  const held = ctx.licence;
  const action = held ? 'Renew' : 'License';
  const renewalNote = held
    ? h('small', { class: 'muted', 'data-testid': 'renewal-note' }, `Renewing extends your licence from ${localTime(held.expiresAt)} to ${localTime(held.expiresAt + offer.duration)}${held.offerId === BigInt(offer.offerId) ? '' : ' and takes a seat of this offer'}.`)
    : null;
  const input = h('input', { id: inputId, name: 'kem', required: true, pattern: '0x[0-9a-fA-F]{64}', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': `${inputId}-help`, placeholder: '0x…' });
  const form = h('form', { class: 'license-form', 'data-testid': 'license-form', 'data-offer-id': String(offer.offerId), onsubmit: async (e) => {
    e.preventDefault();
    if (!BYTES32.test(input.value.trim())) {
      input.setAttribute('aria-invalid', 'true');
      status.textContent = 'Enter the 0x-prefixed 32-byte ML-KEM-768 key digest.';
      return;
    }
    input.removeAttribute('aria-invalid');
    const submit = form.querySelector('button');
    submit.disabled = true;
    const receipt = await runTx(status, wallet, chain, action, (signer) => chain.market.connect(signer).buyLicense(token.id, offer.offerId, input.value.trim(), offer.price, { value: offer.price }));
    submit.disabled = false;
    if (receipt) ctx.refreshTrading();
  } },
  h('label', { for: inputId }, 'Your ML-KEM-768 key digest'), input,
  h('small', { id: `${inputId}-help`, class: 'muted' }, 'Printed by `fqai keys show`; the content key is wrapped to this key.'),
  h('button', { type: 'submit', disabled: !wallet.address || state !== 'open' || undefined }, `${action} for ${eth(offer.price)}`),
  renewalNote, status);
  return h('tr', { 'data-testid': 'offer', 'data-offer-id': String(offer.offerId) },
    h('th', { scope: 'row' }, `#${offer.offerId}`),
    h('td', {}, eth(offer.price)),
    h('td', {}, duration(offer.duration)),
    h('td', {}, seats),
    h('td', {}, offer.expiresAt === 0n ? 'never' : localTime(offer.expiresAt)),
    h('td', {}, gatewayLink(config, offer.termsCID)),
    h('td', {}, state),
    h('td', {}, form));
}

function offersTable(ctx, token) {
  if (!token.offers.length) return h('p', {}, 'No licence offers.');
  const cols = ['Offer', 'Price', 'Duration per purchase', 'Seats', 'Offer ends', 'Terms', 'Status', 'License'];
  return [h('table', { class: 'offers' }, h('caption', { class: 'sr-only' }, 'Licence offers'),
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, token.offers.map((o) => offerRow(ctx, token, o)))),
  !ctx.wallet.address ? h('p', { class: 'muted' }, 'Connect a wallet to license.') : null];
}

async function licenseStatus(ctx, token, el) {
  const { chain, wallet } = ctx;
  if (!wallet.address) {
    ctx.licence = null;
    clear(el, h('p', { class: 'muted' }, 'Connect a wallet to see your licence.'));
    return;
  }
  const lic = await chain.market.licenseOf(token.id, wallet.address);
  ctx.licence = null;
  if (lic.expiresAt === 0n) {
    clear(el, h('p', { 'data-testid': 'license-status', 'data-state': 'none' }, 'You hold no licence for this model.'));
    return;
  }
  const block = await chain.provider.getBlock('latest');
  const valid = lic.expiresAt > BigInt(block.timestamp);
  if (valid) ctx.licence = lic; // chain time decides, not the browser's clock
  clear(el, h('p', { 'data-testid': 'license-status', 'data-state': valid ? 'valid' : 'expired', 'data-expires-at': String(lic.expiresAt) },
    valid ? 'Your licence is valid until ' : 'Your licence expired on ', h('time', { datetime: new Date(Number(lic.expiresAt) * 1000).toISOString() }, localTime(lic.expiresAt)),
    ` (licence id ${lic.licenseId}, offer #${lic.offerId}${lic.keyDelivered ? ', content key delivered' : ', content key not yet delivered'}).`));
}

export async function renderModel(root, config, chain, wallet, tokenId) {
  const heading = h('h1', {}, `Model #${tokenId}`);
  clear(root, heading, h('p', { role: 'status' }, 'Reading the token…'));
  let token;
  try {
    token = await loadToken(chain, tokenId);
  } catch (err) {
    clear(root, heading, h('p', { class: 'error', role: 'alert' }, `No such model token: ${err.shortMessage ?? err.message}`));
    return () => {};
  }
  const badgeSlot = h('p', {}, badge(null));
  const checks = h('div', { 'data-testid': 'checks' }, h('p', { role: 'status' }, 'Fetching the manifest and checking its signature…'));
  const details = h('div', {});
  const metrics = h('div', {});
  const lineageEl = h('div', {});
  const quantumEl = h('section', { 'aria-labelledby': 'h-quantum', hidden: true });
  const sale = h('div', {});
  const offers = h('div', {});
  const licence = h('div', { 'aria-live': 'polite' });
  clear(root, heading, badgeSlot,
    section('Provenance check', 'h-prov', checks),
    section('Details', 'h-details', details),
    section('Metrics', 'h-metrics', metrics),
    quantumEl,
    section('Lineage', 'h-lineage', lineageEl),
    section('Buy', 'h-buy', sale),
    section('Licence offers', 'h-offers', offers),
    section('Your licence', 'h-licence', licence));

  let manifest = null;
  const ctx = {
    config, chain, wallet,
    refresh: () => renderModel(root, config, chain, wallet, tokenId),
    licence: null,
    statuses: new Map(), // offer id -> its transaction status element
    // The licence first: the offers say "Renew" and show the new expiry when one is valid.
    refreshTrading: async () => {
      try {
        await licenseStatus(ctx, token, licence);
      } catch (e) {
        clear(licence, h('p', { class: 'error', role: 'alert' }, `Could not read your licence: ${e.shortMessage ?? e.message}`));
      }
      clear(offers, offersTable(ctx, token));
    },
  };
  const renderTrading = () => {
    clear(details, detailsList(config, token, manifest));
    clear(sale, buySection(ctx, token));
    return ctx.refreshTrading();
  };
  await renderTrading();
  const result = await verifyToken(config, chain, token.provenance);
  // Manifest data is shown only when every check passed.
  manifest = result.ok ? result.manifest : null;
  if (manifest?.model?.name) heading.textContent = `${manifest.model.name} (model #${tokenId})`;
  clear(badgeSlot, badge(result));
  clear(checks, checksList(result));
  clear(metrics, metricsTable(manifest));
  if (quantumOf(manifest)) {
    clear(quantumEl, h('h2', { id: 'h-quantum' }, 'Quantum circuit'), quantumSection(manifest));
    quantumEl.hidden = false;
  }
  clear(lineageEl, lineage(config, token, manifest, await ancestors(chain, token)));
  await renderTrading();
  const onWallet = () => renderTrading();
  wallet.addEventListener('change', onWallet);
  return () => wallet.removeEventListener('change', onWallet);
}
