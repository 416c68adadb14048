// Run the browser's provenance check under Node, for cross-checking against fqai's Python code.
// usage: node tools/verify-envelope.mjs <blocks-dir> <provenance.json>
//   <blocks-dir>/<cid> holds each block's bytes; provenance.json is the token's on-chain record.
// Prints the verification result as JSON.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { verifyProvenance } from '../src/lib/provenance.js';

const [blocksDir, provenancePath] = process.argv.slice(2);
const provenance = JSON.parse(await readFile(provenancePath, 'utf8'));
const result = await verifyProvenance({
  provenance,
  fetchBlock: async (cid) => new Uint8Array(await readFile(join(blocksDir, cid))),
  memberKeys: async (federationId, address) => new Set(provenance.memberKeys?.[address] ?? []),
});
process.stdout.write(`${JSON.stringify({ ok: result.ok, checks: result.checks, manifest: result.manifest })}\n`);
