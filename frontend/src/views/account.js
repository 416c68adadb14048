// My account (being built): owned models, licences, withdrawals, listings and offers.
import { h, clear } from '../dom.js';

export async function renderAccount(root) {
  clear(root, h('h1', {}, 'My account'));
}
