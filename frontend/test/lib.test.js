// Unit tests of the pure modules (run: npm run test:unit). The cross-check against fqai's Python
// signing code is tests/browser/test_provenance_crosscheck.py.
import test from 'node:test';
import assert from 'node:assert/strict';
import { canonicalize, parseCanonical } from '../src/lib/jcs.js';
import { rawCidDigest } from '../src/lib/cid.js';
import { b64decodeStrict, sha256Hex, toHex } from '../src/lib/provenance.js';

const text = (v) => new TextDecoder().decode(canonicalize(v));

test('RFC 8785 numbers and strings', () => {
  // RFC 8785 appendix B and section 3.2.2.3 examples
  assert.equal(text([333333333.33333329, 1e30, 4.5, 2e-3, 0.000001, 1e-7, -0, 1e21]),
    '[333333333.3333333,1e+30,4.5,0.002,0.000001,1e-7,0,1e+21]');
  assert.equal(text({ b: '\u20ac$\u000f\nA\'B"\\\\"/', a: null }), '{"a":null,"b":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
});

test('members sort by UTF-16 code units', () => {
  assert.equal(text({ '\ufb33': 1, '\u{1f600}': 2, a: 3 }), '{"a":3,"\u{1f600}":2,"\ufb33":1}');
});

test('rejects unsafe integers, non-finite numbers and lone surrogates', () => {
  assert.throws(() => canonicalize(2 ** 53));
  assert.throws(() => canonicalize(1e20)); // written as a plain integer, which fqai's reader rejects
  assert.throws(() => canonicalize(Number.NaN));
  assert.throws(() => canonicalize('\ud800'));
});

test('parseCanonical requires canonical bytes', () => {
  const enc = (s) => new TextEncoder().encode(s);
  assert.deepEqual(parseCanonical(enc('{"a":1,"b":[true]}')), { a: 1, b: [true] });
  for (const bad of ['{"b":1,"a":2}', '{"a": 1}', '{"a":1.0}', '{"a":1,"a":1}', '\ufeff{}', '{"a":"\\u0041"}']) {
    assert.throws(() => parseCanonical(enc(bad)), undefined, bad);
  }
});

test('raw CID digest', () => {
  // CID of the empty raw block: sha256('') = e3b0c442...
  assert.equal(toHex(rawCidDigest('bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')), sha256Hex(new Uint8Array()));
  assert.throws(() => rawCidDigest('bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'));
  assert.throws(() => rawCidDigest('QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'));
});

test('strict base64', () => {
  assert.deepEqual(b64decodeStrict('AAE='), Uint8Array.from([0, 1]));
  assert.throws(() => b64decodeStrict('AAF='));
  assert.throws(() => b64decodeStrict('AAE'));
});
