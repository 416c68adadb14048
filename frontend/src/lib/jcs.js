// RFC 8785 (JSON Canonicalization Scheme) for the values fqai manifests use; mirrors fqai/jcs.py.
// ECMAScript's own JSON.stringify already formats strings and numbers exactly as RFC 8785
// requires; what is left is member order (UTF-16 code units, which is what Array#sort compares)
// and rejecting values fqai does not accept (non-finite numbers, unsafe integers, lone surrogates).

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export class CanonicalizationError extends Error {}

function checkString(text, path) {
  if (!text.isWellFormed()) throw new CanonicalizationError(`at ${path}: string contains a lone surrogate`);
  return JSON.stringify(text);
}

function checkNumber(value, path) {
  if (!Number.isFinite(value)) throw new CanonicalizationError(`at ${path}: non-finite number`);
  // Python's fqai rejects integers above 2**53-1; plain-notation integers parse as Python ints.
  if (Number.isInteger(value) && Math.abs(value) > MAX_SAFE && Math.abs(value) < 1e21) {
    throw new CanonicalizationError(`at ${path}: integer ${value} is outside +-(2**53 - 1)`);
  }
  return Object.is(value, -0) ? '0' : String(value);
}

function write(value, path) {
  if (value === null) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'number') return checkNumber(value, path);
  if (typeof value === 'string') return checkString(value, path);
  if (Array.isArray(value)) return `[${value.map((item, i) => write(item, `${path}[${i}]`)).join(',')}]`;
  if (typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${checkString(k, path)}:${write(value[k], `${path}.${k}`)}`).join(',')}}`;
  }
  throw new CanonicalizationError(`at ${path}: unsupported type ${typeof value}`);
}

/** Canonical UTF-8 bytes of `value`. */
export function canonicalize(value) {
  return new TextEncoder().encode(write(value, '$'));
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Parse `bytes` as JSON and require them to be exactly canonical (so duplicate keys, whitespace,
 * a BOM, `1.0` or escaped characters are all rejected, as fqai's parse_canonical does).
 */
export function parseCanonical(bytes) {
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new CanonicalizationError('document is not valid UTF-8');
  }
  if (text.startsWith('\ufeff')) throw new CanonicalizationError('document starts with a byte order mark');
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CanonicalizationError(`document is not valid JSON: ${err.message}`);
  }
  if (!equalBytes(canonicalize(value), bytes)) {
    throw new CanonicalizationError('document is not in canonical JSON form (RFC 8785)');
  }
  return value;
}
