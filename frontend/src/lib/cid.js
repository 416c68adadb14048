// Just enough CID handling to check content: CIDv1, base32 multibase, raw codec, sha2-256.
// fqai stores every manifest (and an out-of-line public key) as a single raw block, so the CID's
// multihash is simply the sha256 of the bytes and the browser can check what a gateway returned.

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const RAW = 0x55;
const SHA2_256 = 0x12;

function base32Decode(text) {
  const out = [];
  let bits = 0;
  let buffer = 0;
  for (const ch of text) {
    const index = ALPHABET.indexOf(ch);
    if (index < 0) throw new Error(`invalid base32 character ${JSON.stringify(ch)}`);
    buffer = (buffer << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((buffer >> bits) & 0xff);
    }
  }
  if (bits >= 5 || (buffer & ((1 << bits) - 1)) !== 0) throw new Error('non-canonical base32 padding');
  return Uint8Array.from(out);
}

function readVarint(bytes, offset) {
  let value = 0;
  let shift = 0;
  for (let i = offset; i < bytes.length && i < offset + 8; i += 1) {
    value += (bytes[i] & 0x7f) * 2 ** shift;
    shift += 7;
    if ((bytes[i] & 0x80) === 0) return [value, i + 1];
  }
  throw new Error('truncated varint');
}

/**
 * Parse a raw-codec sha2-256 CIDv1 in base32 (`bafkrei…`) and return its 32-byte digest.
 * Throws with a reason for anything else.
 */
export function rawCidDigest(cid) {
  if (typeof cid !== 'string' || !cid.startsWith('b')) throw new Error('not a base32 CIDv1');
  const bytes = base32Decode(cid.slice(1));
  let [version, pos] = readVarint(bytes, 0);
  if (version !== 1) throw new Error(`CID version ${version}, expected 1`);
  let codec;
  [codec, pos] = readVarint(bytes, pos);
  if (codec !== RAW) throw new Error(`CID codec 0x${codec.toString(16)}, expected raw (0x55)`);
  let hashCode;
  let length;
  [hashCode, pos] = readVarint(bytes, pos);
  [length, pos] = readVarint(bytes, pos);
  if (hashCode !== SHA2_256 || length !== 32) throw new Error('CID multihash is not sha2-256');
  if (bytes.length !== pos + 32) throw new Error('CID has trailing or missing bytes');
  return bytes.slice(pos);
}
