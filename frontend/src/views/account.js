// My account: owned models (list for sale, licence offers), licences with expiry, credits to
// withdraw and rewards / contributor revenue to claim. Every action is a transaction narrated by tx.js.
import { parseEther } from 'ethers';
import { h, clear, localTime, duration } from '../dom.js';
import { eth } from '../chain.js';
import { claimables, credits, licences, ownedTokens } from '../account.js';
import { loadToken, verifyToken } from '../models.js';
import { runTx, txStatus } from '../tx.js';
import { badge } from './badge.js';

const CID_PATTERN = '(Qm[1-9A-HJ-NP-Za-km-z]{44}|b[a-z2-7]{20,120})';
const MAX_DAYS = 3650;

function section(title, id, ...children) {
  return h('section', { 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

/** A labelled input; ids are unique per token so many forms can share a page. */
function field(id, label, attrs, help) {
  const input = h('input', { id, name: id, autocomplete: 'off', spellcheck: 'false', ...(help ? { 'aria-describedby': `${id}-help` } : {}), ...attrs });
  return { input, nodes: [h('label', { for: id }, label), input, help ? h('small', { id: `${id}-help`, class: 'muted' }, help) : null] };
}

function invalid(input, status, message) {
  input.setAttribute('aria-invalid', 'true');
  status.dataset.state = 'failed';
  status.textContent = message;
  input.focus();
  return null;
}

function ethAmount(input, status) {
  let wei;
  try {
    wei = parseEther(input.value.trim());
  } catch {
    return invalid(input, status, `"${input.value}" is not an amount of ETH (for example 0.05).`);
  }
  if (wei <= 0n) return invalid(input, status, 'The price must be more than 0 ETH.');
  if (wei >= 2n ** 128n) return invalid(input, status, 'The price is too large.');
  input.removeAttribute('aria-invalid');
  return wei;
}

function wholeNumber(input, status, { min, max, what }) {
  const text = input.value.trim();
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) return invalid(input, status, `${what} must be a whole number from ${min} to ${max}.`);
  input.removeAttribute('aria-invalid');
  return n;
}

function creditsSection(ctx, amounts) {
  const { chain, wallet } = ctx;
  const row = (label, key, contract) => {
    const status = ctx.status(`withdraw-${key}`);
    const amount = amounts[key];
    const button = h('button', { type: 'button', 'data-testid': `withdraw-${key}`, disabled: amount === 0n || undefined, onclick: async () => {
      button.disabled = true;
      const receipt = await runTx(status, wallet, chain, 'Withdraw', (signer) => contract.connect(signer).withdraw(amount));
      if (receipt) ctx.refresh(); else button.disabled = false;
    } }, `Withdraw ${eth(amount)}`);
    return h('tr', { 'data-testid': `credit-${key}`, 'data-wei': String(amount) }, h('th', { scope: 'row' }, label), h('td', {}, eth(amount)), h('td', {}, button, status));
  };
  return [
    h('p', {}, 'Sales, licence revenue, refunds, claimed rewards and released stakes are credited first and paid when you withdraw them.'),
    h('table', {}, h('caption', { class: 'sr-only' }, 'Credits to withdraw'),
      h('thead', {}, h('tr', {}, ['From', 'Credit', 'Action'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, row('Marketplace (sales, licences, contributor revenue, refunds)', 'market', chain.market),
        row('Federation registry (round rewards, released stakes)', 'registry', chain.registry))),
  ];
}

function claimsSection(ctx, claims) {
  const { chain, wallet } = ctx;
  const items = [
    ...claims.rewards.map((r) => ({ key: `reward-${r.federationId}-${r.round}`, what: `Reward of federation ${r.federationId}, round ${r.round}`, amount: r.amount,
      send: (signer) => chain.registry.connect(signer).claimReward(r.federationId, r.round, r.contributors, r.weights) })),
    ...claims.revenue.map((r) => ({ key: `revenue-${r.tokenId}`, what: `Contributor share of licence revenue of model #${r.tokenId}`, amount: r.amount,
      send: (signer) => chain.market.connect(signer).claimContributorRevenue(r.tokenId, r.contributors, r.weights) })),
  ];
  if (!items.length) return h('p', { 'data-testid': 'no-claims' }, 'Nothing to claim: no unclaimed round rewards or contributor revenue for this account.');
  return h('ul', { class: 'claims' }, items.map((item) => {
    const status = ctx.status(`claim-${item.key}`);
    const button = h('button', { type: 'button', onclick: async () => {
      button.disabled = true;
      const receipt = await runTx(status, wallet, chain, 'Claim', item.send);
      if (receipt) ctx.refresh(); else button.disabled = false;
    } }, `Claim ${eth(item.amount)}`);
    return h('li', { 'data-testid': 'claim', 'data-claim': item.key }, `${item.what}: ${eth(item.amount)} `, button, status);
  }));
}

function listingControls(ctx, token) {
  const { chain, wallet } = ctx;
  const status = ctx.status(`listing-${token.id}`);
  if (token.listing) {
    const cancel = h('button', { type: 'button', onclick: async () => {
      cancel.disabled = true;
      const receipt = await runTx(status, wallet, chain, 'Cancel listing', (signer) => chain.market.connect(signer).cancelListing(token.id));
      if (receipt) ctx.refresh(); else cancel.disabled = false;
    } }, 'Cancel listing');
    return h('div', { 'data-testid': 'listing', 'data-state': 'listed' }, h('p', {}, `Listed for ${eth(token.listing.price)}. `), cancel, status);
  }
  const price = field(`list-price-${token.id}`, 'Sale price (ETH)', { required: true, inputmode: 'decimal', placeholder: '0.05' });
  const form = h('form', { class: 'stack', 'data-testid': 'list-form', onsubmit: async (e) => {
    e.preventDefault();
    const wei = ethAmount(price.input, status);
    if (wei === null) return;
    const submit = form.querySelector('button');
    submit.disabled = true;
    const market = await chain.market.getAddress();
    const [approved, all] = await Promise.all([chain.nft.getApproved(token.id), chain.nft.isApprovedForAll(wallet.address, market)]);
    let ok = approved.toLowerCase() === market.toLowerCase() || all;
    if (!ok) ok = Boolean(await runTx(status, wallet, chain, 'Approve the marketplace', (signer) => chain.nft.connect(signer).approve(market, token.id)));
    const receipt = ok && await runTx(status, wallet, chain, 'List', (signer) => chain.market.connect(signer).list(token.id, wei));
    if (receipt) ctx.refresh(); else submit.disabled = false;
  } }, ...price.nodes, h('button', { type: 'submit' }, 'List for sale'), h('small', { class: 'muted' }, 'Listing asks the wallet twice the first time: approve the marketplace for this token, then list.'), status);
  return h('div', { 'data-testid': 'listing', 'data-state': 'unlisted' }, h('p', {}, 'Not listed.'), form);
}

function offersControls(ctx, token) {
  const { chain, wallet } = ctx;
  const rows = token.offers.map((offer) => {
    const status = ctx.status(`offer-${token.id}-${offer.offerId}`);
    const toggle = h('button', { type: 'button', onclick: async () => {
      toggle.disabled = true;
      const receipt = await runTx(status, wallet, chain, offer.active ? 'Pause offer' : 'Resume offer',
        (signer) => chain.market.connect(signer).setLicenseOfferActive(token.id, offer.offerId, !offer.active));
      if (receipt) ctx.refresh(); else toggle.disabled = false;
    } }, offer.active ? `Pause offer #${offer.offerId}` : `Resume offer #${offer.offerId}`);
    const seats = offer.maxSeats === 0n ? `${offer.seatsUsed} used, unlimited` : `${offer.seatsUsed} of ${offer.maxSeats} used`;
    return h('tr', { 'data-testid': 'own-offer', 'data-offer-id': String(offer.offerId), 'data-active': String(offer.active) },
      h('th', { scope: 'row' }, `#${offer.offerId}`), h('td', {}, eth(offer.price)), h('td', {}, duration(offer.duration)), h('td', {}, seats),
      h('td', {}, offer.active ? 'open' : 'paused'), h('td', {}, toggle, status));
  });
  const table = rows.length
    ? h('table', {}, h('caption', { class: 'sr-only' }, `Licence offers of model #${token.id}`),
      h('thead', {}, h('tr', {}, ['Offer', 'Price', 'Duration', 'Seats', 'Status', 'Action'].map((c) => h('th', { scope: 'col' }, c)))), h('tbody', {}, rows))
    : h('p', {}, 'No licence offers yet.');
  const id = token.id;
  const status = ctx.status(`new-offer-${id}`);
  const price = field(`offer-price-${id}`, 'Price per licence (ETH)', { required: true, inputmode: 'decimal', placeholder: '0.01' });
  const days = field(`offer-days-${id}`, 'Days per purchase', { required: true, inputmode: 'numeric', value: '30' });
  const seats = field(`offer-seats-${id}`, 'Seats (0 = unlimited)', { required: true, inputmode: 'numeric', value: '0' });
  const terms = field(`offer-terms-${id}`, 'Terms document CID', { required: true, pattern: CID_PATTERN, placeholder: 'bafkrei…' }, 'Pin the terms text first: `ipfs add --cid-version 1 --raw-leaves terms.txt`.');
  const form = h('form', { class: 'stack', 'data-testid': 'offer-form', onsubmit: async (e) => {
    e.preventDefault();
    const wei = ethAmount(price.input, status);
    if (wei === null) return;
    const d = wholeNumber(days.input, status, { min: 1, max: MAX_DAYS, what: 'Days per purchase' });
    if (d === null) return;
    const s = wholeNumber(seats.input, status, { min: 0, max: 2 ** 32 - 1, what: 'Seats' });
    if (s === null) return;
    const cid = terms.input.value.trim();
    if (!new RegExp(`^${CID_PATTERN}$`).test(cid)) return invalid(terms.input, status, `"${cid}" is not an IPFS CID (CIDv0 Qm… or CIDv1 b…).`);
    terms.input.removeAttribute('aria-invalid');
    const submit = form.querySelector('button');
    submit.disabled = true;
    const receipt = await runTx(status, wallet, chain, 'Create offer',
      (signer) => chain.market.connect(signer).createLicenseOffer(id, wei, BigInt(d) * 86400n, s, 0, cid));
    if (receipt) ctx.refresh(); else submit.disabled = false;
  } }, ...price.nodes, ...days.nodes, ...seats.nodes, ...terms.nodes, h('button', { type: 'submit' }, 'Create licence offer'), status);
  return [table, h('details', {}, h('summary', {}, 'New licence offer'), form)];
}

function ownedModel(ctx, token) {
  const title = h('h3', {}, h('a', { href: `#/model/${token.id}` }, `Model #${token.id}`));
  const badgeSlot = h('span', {}, badge(null));
  verifyToken(ctx.config, ctx.chain, token.provenance).then((result) => {
    clear(badgeSlot, badge(result));
    if (result.ok && result.manifest?.model?.name) title.firstChild.textContent = `${result.manifest.model.name} (#${token.id})`;
  }).catch((err) => clear(badgeSlot, h('span', { class: 'error' }, err.message)));
  return h('li', { class: 'card', 'data-testid': 'owned-model', 'data-token-id': String(token.id) },
    title, badgeSlot, h('h4', {}, 'Sale'), listingControls(ctx, token), h('h4', {}, 'Licence offers'), offersControls(ctx, token));
}

function licencesTable(list, now) {
  if (!list.length) return h('p', {}, 'You hold no licences.');
  return h('table', {}, h('caption', { class: 'sr-only' }, 'Your licences'),
    h('thead', {}, h('tr', {}, ['Model', 'Licence id', 'Offer', 'State', 'Expires (local time)', 'Content key', 'Renew'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, list.map((lic) => {
      const valid = lic.expiresAt > now;
      return h('tr', { 'data-testid': 'licence', 'data-token-id': String(lic.tokenId), 'data-expires-at': String(lic.expiresAt), 'data-state': valid ? 'valid' : 'expired' },
        h('th', { scope: 'row' }, h('a', { href: `#/model/${lic.tokenId}` }, `Model #${lic.tokenId}`)),
        h('td', {}, String(lic.licenseId)), h('td', {}, `#${lic.offerId}`), h('td', {}, valid ? 'valid' : 'expired'),
        h('td', {}, h('time', { datetime: new Date(Number(lic.expiresAt) * 1000).toISOString() }, localTime(lic.expiresAt))),
        h('td', {}, lic.keyDelivered ? 'delivered' : 'not yet delivered'),
        h('td', {}, h('a', { href: `#/model/${lic.tokenId}` }, valid ? 'Renew on the model page' : 'License again')));
    })));
}

export async function renderAccount(root, config, chain, wallet) {
  const heading = h('h1', {}, 'My account');
  let generation = 0;
  let shownAddress = null;
  // Status elements survive re-rendering after a transaction, so its outcome stays on screen.
  const statuses = new Map();
  const status = (key) => {
    if (!statuses.has(key)) statuses.set(key, txStatus());
    return statuses.get(key);
  };
  const render = async () => {
    const mine = ++generation;
    const address = wallet.address;
    if (address !== shownAddress) statuses.clear();
    shownAddress = address;
    if (!address) {
      clear(root, heading, h('p', { 'data-testid': 'connect-first' }, 'Connect a wallet (top of the page) to see your models, licences and credits.'));
      return;
    }
    clear(root, heading, h('p', { role: 'status' }, `Reading what ${address} holds…`));
    const [amounts, owned, held, claims, block] = await Promise.all([
      credits(chain, address), ownedTokens(chain, address), licences(chain, address), claimables(chain, address), chain.provider.getBlock('latest'),
    ]);
    const tokens = await Promise.all(owned.map((id) => loadToken(chain, id)));
    if (mine !== generation) return; // a newer render (wallet change, refresh) took over
    const ctx = { config, chain, wallet, status, refresh: () => render().catch(fail) };
    clear(root, heading, h('p', {}, 'Account ', h('code', { 'data-testid': 'account-address' }, address), ` on chain ${chain.chainId}.`),
      section('Credits to withdraw', 'h-credits', creditsSection(ctx, amounts)),
      section('Rewards and revenue to claim', 'h-claims', claimsSection(ctx, claims)),
      section('Your models', 'h-owned', tokens.length ? h('ul', { class: 'cards wide' }, tokens.map((t) => ownedModel(ctx, t))) : h('p', {}, 'You own no model tokens.')),
      section('Your licences', 'h-licences', licencesTable(held, BigInt(block.timestamp))));
  };
  const fail = (err) => clear(root, heading, h('p', { class: 'error', role: 'alert' }, `Could not read the account: ${err.shortMessage ?? err.message}`));
  const onWallet = () => render().catch(fail);
  wallet.addEventListener('change', onWallet);
  await render().catch(fail);
  return () => { generation += 1; wallet.removeEventListener('change', onWallet); };
}
