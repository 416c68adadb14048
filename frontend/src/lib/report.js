// In-browser check of a finalised federation round, from its RoundFinalized event to the signed
// round report (docs/FEDERATION.md, "Round report schema"):
//
//   RoundFinalized.globalManifestCID -> round-model manifest (bytes = CID; sha256 of its canonical
//   payload = the event's globalDigest) -> manifest.round_report -> the report (bytes = CID;
//   canonical envelope; inline ML-DSA-65 public key hashes to signature.key_digest; ML-DSA-65
//   signature over the RFC 8785 bytes of `report`, context "fqai-round-report-v1") -> the round
//   model's own signature (verifyProvenance, signer = the report's key, weights = the report's)
//   -> the report's federation, round, coordinator, contributors, weights and Merkle root against
//   the chain.
//
// Nothing fetched is trusted: every block is re-hashed against its CID, and the report's contents
// are used only once every check passed. What this does not check (the accepted updates themselves
// and the aggregation) is what `fqai verify <tokenId> --recompute` re-runs.

import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { canonicalize, parseCanonical } from './jcs.js';
import { rawCidDigest } from './cid.js';
import {
  MAX_ENVELOPE_SIZE, PUBLIC_KEY_SIZE, SIGNATURE_SIZE, b64decodeStrict, fetchVerifiedBlock, sha256Hex, toHex, verifyProvenance,
} from './provenance.js';

export const REPORT_SCHEMA = 'fqai/round-report/1';
export const REPORT_CONTEXT = new TextEncoder().encode('fqai-round-report-v1');
export const MAX_REPORT_SIZE = 1024 * 1024; // fqai.federation.report.MAX_REPORT_SIZE
const BYTES32 = /^0x[0-9a-f]{64}$/;

class CheckFailed extends Error {}

function need(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function hexToBytes(hex) {
  const out = new Uint8Array((hex.length - 2) / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(hex.slice(2 + 2 * i, 4 + 2 * i), 16);
  return out;
}

function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i += 1) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * sha256 Merkle root over 32-byte leaves as fqai.federation.aggregation.accepted_root: leaves
 * sorted ascending by byte value, parent = sha256(left || right), an odd last node carried up,
 * one leaf is its own root, no leaves give 32 zero bytes.
 */
export function acceptedRoot(digests) {
  let level = digests.map((d) => {
    const hex = String(d).toLowerCase();
    if (!BYTES32.test(hex)) throw new Error(`leaf ${JSON.stringify(String(d).slice(0, 80))} is not a bytes32 hex`);
    return hexToBytes(hex);
  }).sort(compareBytes);
  if (!level.length) return `0x${'00'.repeat(32)}`;
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i + 1 < level.length; i += 2) {
      const joined = new Uint8Array(64);
      joined.set(level[i]);
      joined.set(level[i + 1], 32);
      next.push(sha256(joined));
    }
    if (level.length % 2) next.push(level.at(-1));
    level = next;
  }
  return toHex(level[0]);
}

/** Parse and check a round report envelope's shape; returns {body, signature, publicKey, keyDigest}. */
export function parseReportEnvelope(bytes) {
  let doc;
  try {
    doc = parseCanonical(bytes);
  } catch (err) {
    throw new CheckFailed(err.message);
  }
  need(isObject(doc), 'report document is not a JSON object');
  need(Object.keys(doc).sort().join() === 'report,signature', "report document must have exactly 'report' and 'signature'");
  const sig = doc.signature;
  need(isObject(sig) && Object.keys(sig).sort().join() === 'algorithm,key_digest,public_key,value',
    "signature must have exactly 'algorithm', 'key_digest', 'public_key' and 'value'");
  need(sig.algorithm === 'ML-DSA-65', `unsupported signature algorithm ${JSON.stringify(String(sig.algorithm).slice(0, 40))}`);
  need(typeof sig.key_digest === 'string' && BYTES32.test(sig.key_digest), 'signature.key_digest is not 0x + 64 lower-case hex');
  let publicKey;
  let signature;
  try {
    publicKey = b64decodeStrict(sig.public_key);
    signature = b64decodeStrict(sig.value);
  } catch (err) {
    throw new CheckFailed(`signature: ${err.message}`);
  }
  need(publicKey.length === PUBLIC_KEY_SIZE, `public key is ${publicKey.length} bytes, expected ${PUBLIC_KEY_SIZE}`);
  need(signature.length === SIGNATURE_SIZE, `signature is ${signature.length} bytes, expected ${SIGNATURE_SIZE}`);
  need(isObject(doc.report), 'report is not an object');
  return { body: doc.report, signature, publicKey, keyDigest: sig.key_digest };
}

function sameAddress(a, b) {
  return typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();
}

/** The report fields the dashboard reads, type-checked (the rest is never shown). */
function checkBodyShape(body) {
  need(body.schema === REPORT_SCHEMA, `schema ${JSON.stringify(String(body.schema).slice(0, 60))} is not ${REPORT_SCHEMA}`);
  need(isObject(body.contributions) && Array.isArray(body.contributions.contributors) && Array.isArray(body.contributions.weights),
    'contributions.contributors / weights missing');
  need(isObject(body.merkle) && Array.isArray(body.merkle.leaves) && typeof body.merkle.root === 'string', 'merkle.root / leaves missing');
  need(Array.isArray(body.accepted) && Array.isArray(body.rejected), 'accepted / rejected lists missing');
  need(isObject(body.metrics), 'metrics missing');
  need(body.selection === null || body.selection === undefined || isObject(body.selection), 'selection is not an object');
}

/**
 * Check one finalised round.
 *
 * @param {object} args
 * @param {object} args.event  the RoundFinalized event's values: federationId, round, globalManifestCID,
 *   globalDigest, acceptedRoot, contributors, weights (plain values).
 * @param {string} args.coordinator  the federation's coordinator account (on-chain).
 * @param {(cid: string, maxSize: number) => Promise<Uint8Array>} args.fetchBlock  untrusted fetch.
 * @returns {Promise<{ok, checks: Array<{name, status, detail}>, report, reportCid, manifest, signed}>}
 *   `report` (the signed body) and `manifest` only when every check passed; `signed` tells whether
 *   the report signature was checked and verified.
 */
export async function verifyRound({ event, coordinator, fetchBlock }) {
  const checks = [];
  let current = '';
  const pass = (detail) => checks.push({ name: current, status: 'pass', detail });
  // Each block is fetched once even though verifyProvenance reads the manifest again.
  const blocks = new Map();
  const fetchOnce = (cid, maxSize) => {
    if (!blocks.has(cid)) blocks.set(cid, fetchBlock(cid, maxSize));
    return blocks.get(cid);
  };
  let reportCid = null;
  let signed = false;
  try {
    current = 'round model fetch';
    let manifestBytes;
    try {
      rawCidDigest(event.globalManifestCID);
      manifestBytes = await fetchVerifiedBlock(fetchOnce, event.globalManifestCID, MAX_ENVELOPE_SIZE);
    } catch (err) {
      throw new CheckFailed(`${event.globalManifestCID}: ${err.message}`);
    }
    pass(`${manifestBytes.length} bytes, sha256 matches the CID the event names`);

    current = 'round model digest';
    let envelope;
    try {
      envelope = parseCanonical(manifestBytes);
    } catch (err) {
      throw new CheckFailed(err.message);
    }
    const manifest = envelope?.manifest;
    need(isObject(manifest), 'the block is not a manifest envelope');
    const digest = sha256Hex(canonicalize(manifest));
    const onchain = String(event.globalDigest).toLowerCase();
    need(digest === onchain, `sha256 of the canonical manifest is ${digest}, the event's globalDigest is ${onchain}`);
    need(manifest.kind === 'round-model', `kind ${JSON.stringify(String(manifest.kind).slice(0, 40))}, expected round-model`);
    need(typeof manifest.round_report === 'string', 'the round-model manifest links no round report');
    reportCid = manifest.round_report;
    pass(`manifest digest ${digest} = globalDigest; it links report ${reportCid}`);

    current = 'report fetch';
    let reportBytes;
    try {
      rawCidDigest(reportCid);
      reportBytes = await fetchVerifiedBlock(fetchOnce, reportCid, MAX_REPORT_SIZE);
    } catch (err) {
      throw new CheckFailed(`${reportCid}: ${err.message}`);
    }
    pass(`${reportBytes.length} bytes, sha256 matches the CID`);

    current = 'report format';
    const parsed = parseReportEnvelope(reportBytes);
    checkBodyShape(parsed.body);
    pass(`canonical ${REPORT_SCHEMA} document`);

    current = 'report signature';
    const keyDigest = sha256Hex(parsed.publicKey);
    need(keyDigest === parsed.keyDigest, `sha256 of the public key is ${keyDigest}, signature.key_digest says ${parsed.keyDigest}`);
    const ok = ml_dsa65.verify(parsed.signature, canonicalize(parsed.body), parsed.publicKey, { context: REPORT_CONTEXT });
    need(ok, 'ML-DSA-65 signature does not verify over the canonical report (context fqai-round-report-v1)');
    signed = true;
    pass(`ML-DSA-65 (FIPS 204) verifies, key ${keyDigest}`);

    current = 'round model signature';
    const body = parsed.body;
    const model = await verifyProvenance({
      provenance: {
        manifestCID: event.globalManifestCID,
        weightsDigest: String(body.model?.weights_sha256 ?? ''),
        signerKeyDigest: parsed.keyDigest,
        federationId: String(event.federationId),
        round: Number(event.round),
      },
      fetchBlock: fetchOnce,
    });
    if (!model.ok) {
      const failed = model.checks.at(-1);
      throw new CheckFailed(`${failed.name}: ${failed.detail}`);
    }
    need(sameAddress(model.manifest.signer.eth_address, coordinator),
      `the round model is signed by ${model.manifest.signer.eth_address}, the coordinator is ${coordinator}`);
    pass('ML-DSA-65 verifies; same key as the report, by the coordinator; its weights sha256 is the report\'s');

    current = 'report against the chain';
    need(String(body.federation_id) === String(event.federationId) && body.round === Number(event.round),
      `report of federation ${String(body.federation_id).slice(0, 40)} round ${String(body.round).slice(0, 20)}, `
      + `event of federation ${event.federationId} round ${event.round}`);
    need(sameAddress(body.coordinator, coordinator), `report coordinator ${String(body.coordinator).slice(0, 60)} is not ${coordinator}`);
    const { contributors, weights } = body.contributions;
    need(contributors.length === event.contributors.length
      && contributors.every((c, i) => sameAddress(c, event.contributors[i])), 'contributors differ from the event\'s');
    need(weights.length === event.weights.length && weights.every((w, i) => Number.isInteger(w) && BigInt(w) === BigInt(event.weights[i])),
      'weights differ from the event\'s');
    let root;
    try {
      root = acceptedRoot(body.merkle.leaves);
    } catch (err) {
      throw new CheckFailed(`merkle.leaves: ${err.message}`);
    }
    const eventRoot = String(event.acceptedRoot).toLowerCase();
    need(root === eventRoot && body.merkle.root === eventRoot,
      `Merkle root of the report's leaves is ${root}, the report says ${String(body.merkle.root).slice(0, 70)}, the event's acceptedRoot is ${eventRoot}`);
    pass('federation, round, coordinator, contributors, weights and the Merkle root of the accepted updates match the event');

    return { ok: true, checks, report: body, reportCid, manifest: model.manifest, signed };
  } catch (err) {
    const detail = err instanceof CheckFailed ? err.message : `unexpected error: ${err.message}`;
    checks.push({ name: current, status: 'fail', detail });
    return { ok: false, checks, report: null, reportCid, manifest: null, signed };
  }
}
