// Federation dashboard (being built): federations, members, rounds.
import { h, clear } from '../dom.js';

export async function renderFederations(root) {
  clear(root, h('h1', {}, 'Federations'));
}

export async function renderFederation(root, config, chain, federationId) {
  clear(root, h('h1', {}, `Federation #${federationId}`));
}
