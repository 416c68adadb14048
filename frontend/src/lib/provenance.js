// In-browser provenance check of a model token, mirroring `fqai verify <tokenId>` (docs/MANIFEST.md)
// for the token's own manifest: CID form, fetched bytes against the CID, canonical envelope, signer
// key against signer.key_digest, the ML-DSA-65 signature (FIPS 204, context "fqai-manifest-v1"),
// signer trust against the chain, and the token's recorded digests. Nothing a gateway returns is
// trusted: every byte is re-hashed against a CID or a digest the chain or the signed manifest holds.

import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { canonicalize, parseCanonical } from './jcs.js';
import { rawCidDigest } from './cid.js';

export const SIGNING_CONTEXT = new TextEncoder().encode('fqai-manifest-v1');
export const MAX_ENVELOPE_SIZE = 256 * 1024;
export const PUBLIC_KEY_SIZE = 1952;
export const SIGNATURE_SIZE = 3309;
const KINDS = new Set(['update', 'round-model', 'published-model']);
const BYTES32 = /^0x[0-9a-f]{64}$/;

export function toHex(bytes) {
  return `0x${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

export function sha256Hex(bytes) {
  return toHex(sha256(bytes));
}

/** Canonical padded base64 only (as fqai.encoding.b64decode_strict). */
export function b64decodeStrict(text) {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new Error('invalid base64');
  }
  const binary = atob(text);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  if (btoa(binary) !== text) throw new Error('base64 is not in canonical form');
  return bytes;
}

class CheckFailed extends Error {}

function need(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

/** Read a fetch Response, failing as soon as more than `maxSize` bytes arrive. */
export async function readCapped(response, maxSize) {
  const reader = response.body.getReader();
  const chunks = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxSize) {
      await reader.cancel();
      throw new CheckFailed(`more than ${maxSize} bytes arrived`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * Fetch a raw-CID block through `fetchBlock(cid, maxSize)` and check its sha256 against the CID.
 * `fetchBlock` returns the bytes (it may fail, e.g. gateway unreachable).
 */
export async function fetchVerifiedBlock(fetchBlock, cid, maxSize) {
  const expected = toHex(rawCidDigest(cid));
  const bytes = await fetchBlock(cid, maxSize);
  need(bytes.length <= maxSize, `more than ${maxSize} bytes arrived`);
  const actual = sha256Hex(bytes);
  need(actual === expected, `sha256 of the ${bytes.length} bytes received is ${actual}, the CID says ${expected}`);
  return bytes;
}

function parseEnvelope(bytes) {
  let doc;
  try {
    doc = parseCanonical(bytes);
  } catch (err) {
    throw new CheckFailed(err.message);
  }
  need(doc && typeof doc === 'object' && !Array.isArray(doc), 'envelope is not a JSON object');
  need(Object.keys(doc).sort().join() === 'manifest,signature', "envelope must have exactly 'manifest' and 'signature'");
  const sig = doc.signature;
  need(sig && typeof sig === 'object' && Object.keys(sig).sort().join() === 'algorithm,value',
    "signature must have exactly 'algorithm' and 'value'");
  need(sig.algorithm === 'ML-DSA-65', `unsupported signature algorithm ${JSON.stringify(sig.algorithm)}`);
  let signature;
  try {
    signature = b64decodeStrict(sig.value);
  } catch (err) {
    throw new CheckFailed(`signature value: ${err.message}`);
  }
  need(signature.length === SIGNATURE_SIZE, `signature is ${signature.length} bytes, expected ${SIGNATURE_SIZE}`);
  const m = doc.manifest;
  need(m && typeof m === 'object' && !Array.isArray(m), 'manifest is not an object');
  need(m.schema === 'fqai-manifest/1', `schema ${JSON.stringify(m.schema)} is not fqai-manifest/1`);
  need(KINDS.has(m.kind), `unknown kind ${JSON.stringify(m.kind)}`);
  need(typeof m.federation_id === 'string' && /^(0|[1-9][0-9]*)$/.test(m.federation_id), 'bad federation_id');
  need(Number.isInteger(m.round) && m.round >= 0 && m.round <= 0xffffffff, 'bad round');
  need(m.weights && BYTES32.test(m.weights.sha256), 'weights.sha256 is not 0x + 64 lower-case hex');
  need(m.model && typeof m.model.name === 'string', 'model.name missing');
  const signer = m.signer;
  need(signer && signer.algorithm === 'ML-DSA-65', 'signer.algorithm is not ML-DSA-65');
  need(BYTES32.test(signer.key_digest), 'signer.key_digest is not a bytes32 hex');
  need(('public_key' in signer) !== ('public_key_cid' in signer), 'signer needs exactly one of public_key, public_key_cid');
  return { manifest: m, signature };
}

/**
 * Verify a model token's provenance.
 *
 * @param {object} args
 * @param {object} args.provenance  on-chain ModelNFT.provenance(tokenId): manifestCID, weightsDigest,
 *   signerKeyDigest, federationId, round (ethers Result or plain object).
 * @param {(cid: string, maxSize: number) => Promise<Uint8Array>} args.fetchBlock  untrusted fetch.
 * @param {(federationId: string, address: string) => Promise<Set<string>>} [args.memberKeys]  key
 *   digests `address` joined federation `federationId` with (NodeJoined), for `update` manifests.
 * @returns {Promise<{ok: boolean, checks: Array<{name, status, detail}>, manifest, envelopeBytes}>}
 */
export async function verifyProvenance({ provenance, fetchBlock, memberKeys }) {
  const checks = [];
  let manifest = null;
  let envelopeBytes = null;
  let current = '';
  const pass = (detail) => checks.push({ name: current, status: 'pass', detail });
  const cid = provenance.manifestCID;
  try {
    current = 'manifest CID';
    try {
      rawCidDigest(cid);
    } catch (err) {
      throw new CheckFailed(`${cid}: ${err.message}`);
    }
    pass(`${cid} is a raw CIDv1`);

    current = 'manifest fetch';
    try {
      envelopeBytes = await fetchVerifiedBlock(fetchBlock, cid, MAX_ENVELOPE_SIZE);
    } catch (err) {
      throw err instanceof CheckFailed ? err : new CheckFailed(`could not fetch: ${err.message}`);
    }
    pass(`${envelopeBytes.length} bytes, sha256 matches the CID`);

    current = 'manifest format';
    const parsed = parseEnvelope(envelopeBytes);
    manifest = parsed.manifest;
    pass(`canonical ${manifest.schema} envelope, kind ${manifest.kind}`);

    current = 'signer key';
    let publicKey;
    if ('public_key' in manifest.signer) {
      try {
        publicKey = b64decodeStrict(manifest.signer.public_key);
      } catch (err) {
        throw new CheckFailed(`signer.public_key: ${err.message}`);
      }
    } else {
      try {
        publicKey = await fetchVerifiedBlock(fetchBlock, manifest.signer.public_key_cid, PUBLIC_KEY_SIZE);
      } catch (err) {
        throw new CheckFailed(`public key ${manifest.signer.public_key_cid}: ${err.message}`);
      }
    }
    need(publicKey.length === PUBLIC_KEY_SIZE, `public key is ${publicKey.length} bytes, expected ${PUBLIC_KEY_SIZE}`);
    const keyDigest = sha256Hex(publicKey);
    need(keyDigest === manifest.signer.key_digest,
      `sha256 of the public key is ${keyDigest}, signer.key_digest says ${manifest.signer.key_digest}`);
    pass(`public key (${'public_key' in manifest.signer ? 'inline' : 'by CID'}) hashes to signer.key_digest`);

    current = 'signature';
    const payload = canonicalize(manifest);
    const ok = ml_dsa65.verify(parsed.signature, payload, publicKey, { context: SIGNING_CONTEXT });
    need(ok, 'ML-DSA-65 signature does not verify over the canonical manifest (context fqai-manifest-v1)');
    pass(`ML-DSA-65 (FIPS 204) verifies; manifest digest ${sha256Hex(payload)}`);

    current = 'signer trust';
    const onchainSigner = String(provenance.signerKeyDigest).toLowerCase();
    if (manifest.kind === 'update') {
      need(String(provenance.federationId) === manifest.federation_id, 'update manifest of another federation');
      const keys = memberKeys ? await memberKeys(manifest.federation_id, manifest.signer.eth_address) : new Set();
      need(keys.has(manifest.signer.key_digest),
        `${manifest.signer.eth_address} never joined federation ${manifest.federation_id} with key ${manifest.signer.key_digest}`);
      pass(`signer joined federation ${manifest.federation_id} with this key (NodeJoined)`);
    } else {
      need(manifest.signer.key_digest === onchainSigner,
        `signer.key_digest ${manifest.signer.key_digest} != token's signerKeyDigest ${onchainSigner}`);
      pass('signer key digest equals the token\'s signerKeyDigest');
    }

    current = 'token weights digest';
    const onchainWeights = String(provenance.weightsDigest).toLowerCase();
    need(manifest.weights.sha256 === onchainWeights,
      `manifest weights sha256 ${manifest.weights.sha256} != token's weightsDigest ${onchainWeights}`);
    pass(`${onchainWeights} recorded on-chain`);

    current = 'token federation round';
    const detail = `manifest federation ${manifest.federation_id} round ${manifest.round}, `
      + `token federation ${provenance.federationId} round ${provenance.round}`;
    need(String(provenance.federationId) === manifest.federation_id && Number(provenance.round) === manifest.round, detail);
    pass(detail);
  } catch (err) {
    const detail = err instanceof CheckFailed ? err.message : `unexpected error: ${err.message}`;
    checks.push({ name: current, status: 'fail', detail });
    return { ok: false, checks, manifest, envelopeBytes };
  }
  return { ok: true, checks, manifest, envelopeBytes };
}
