// DSSE pre-authentication encoding and signature check against the test vector in the DSSE specification
// (secure-systems-lab/dsse protocol.md, "Test Vectors"), verified with Node's own crypto.verify.
import { createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pae } from '../../src/release/format.js';

const coord = (decimal: string) => Buffer.from(BigInt(decimal).toString(16).padStart(64, '0'), 'hex').toString('base64url');

const VECTOR = {
  payloadType: 'http://example.com/HelloWorld',
  payload: 'aGVsbG8gd29ybGQ=',
  sig: 'A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA==',
  x: '46950820868899156662930047687818585632848591499744589407958293238635476079160',
  y: '5640078356564379163099075877009565129882514886557779369047442380624545832820',
};

describe('DSSE PAE', () => {
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: coord(VECTOR.x), y: coord(VECTOR.y) }, format: 'jwk' });
  const body = Buffer.from(VECTOR.payload, 'base64');

  it('encodes the specification example byte for byte', () => {
    expect(pae(VECTOR.payloadType, body).toString('utf8')).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  });

  it('counts lengths in bytes, not characters', () => {
    expect(pae('t/ü', Buffer.from('é')).toString('utf8')).toBe('DSSEv1 4 t/ü 2 é');
  });

  it("the specification's ECDSA P-256 signature verifies over our PAE", () => {
    const sig = Buffer.from(VECTOR.sig, 'base64');
    expect(verify('sha256', pae(VECTOR.payloadType, body), { key, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
  });

  it('a changed payload or payload type does not verify', () => {
    const sig = Buffer.from(VECTOR.sig, 'base64');
    expect(verify('sha256', pae(VECTOR.payloadType, Buffer.from('hello world!')), { key, dsaEncoding: 'ieee-p1363' }, sig)).toBe(false);
    expect(verify('sha256', pae('http://example.com/HelloWorlD', body), { key, dsaEncoding: 'ieee-p1363' }, sig)).toBe(false);
  });
});
