// One transaction's life, shown in a live region: wallet prompt -> pending (hash) -> confirmed
// (block) -> or failed (decoded custom error / rejected in wallet).
import { h, clear } from './dom.js';
import { describeError } from './chain.js';

export function txStatus() {
  return h('div', { class: 'tx', role: 'status', 'aria-live': 'polite', 'data-testid': 'tx-status' });
}

function show(el, state, ...children) {
  el.dataset.state = state;
  clear(el, ...children);
}

/**
 * Run `send(signer)` (which returns an ethers TransactionResponse) and narrate its states in `el`.
 * Resolves to the receipt, or null on failure.
 */
export async function runTx(el, wallet, chain, label, send) {
  try {
    const signer = await wallet.signer();
    show(el, 'prompt', h('strong', {}, `${label}: `), wallet.active.dev ? 'sending from the dev account…' : 'confirm in your wallet…');
    const tx = await send(signer);
    show(el, 'pending', h('strong', {}, `${label}: pending. `), 'Transaction ', h('code', { 'data-testid': 'tx-hash' }, tx.hash));
    const receipt = await tx.wait();
    if (!receipt || receipt.status !== 1) throw Object.assign(new Error('transaction reverted'), { receipt });
    show(el, 'confirmed', h('strong', {}, `${label}: confirmed `), `in block ${receipt.blockNumber}. Transaction `, h('code', {}, receipt.hash));
    return receipt;
  } catch (err) {
    const why = describeError(err, chain.interfaces);
    const head = why.kind === 'rejected' ? `${label}: cancelled. ` : `${label}: failed. `;
    show(el, 'failed', h('strong', {}, head), why.kind === 'revert' ? 'The contract rejected it: ' : '', h('code', { 'data-testid': 'tx-error' }, why.text));
    if (why.kind !== 'rejected') console.warn(`${label} failed`, why.text); // eslint-disable-line no-console
    return null;
  }
}
