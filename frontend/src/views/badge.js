import { h } from '../dom.js';

/** Provenance badge: "Verified" or "Failed: <check>"; `pending` while the check runs. */
export function badge(result) {
  if (!result) return h('span', { class: 'badge pending', 'data-testid': 'badge', 'data-state': 'pending' }, 'Checking provenance…');
  if (result.ok) return h('span', { class: 'badge ok', 'data-testid': 'badge', 'data-state': 'pass' }, '✔ Provenance verified');
  const failed = result.checks.find((c) => c.status === 'fail');
  return h('span', { class: 'badge fail', 'data-testid': 'badge', 'data-state': 'fail', title: failed?.detail }, `✘ Provenance failed: ${failed?.name}`);
}
