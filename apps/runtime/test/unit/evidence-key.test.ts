// The evidence key: a generated scalar is a valid P-256 key, the public key and fingerprint derive from it alone,
// and a missing, empty or invalid key file is exit 2 telling the operator to run `caracal init`.
import { createECDH, sign, verify } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CliError } from '../../src/errors.js';
import { EVIDENCE_KEY_SECRET, evidenceKeyFromScalar, generateEvidenceScalar, loadEvidenceKey } from '../../src/evidence/key.js';
import { keyId } from '../../src/release/keys.js';

// The order n of P-256 (SEC 2 §2.4.2): a scalar must lie in [1, n-1].
const N = 'ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551';

describe('evidence key', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'caracal-evkey-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('generates 64 lowercase hex characters that are a valid P-256 scalar, different each time', () => {
    const a = generateEvidenceScalar();
    const b = generateEvidenceScalar();
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(a).not.toBe(b);
    expect(BigInt(`0x${a}`) < BigInt(`0x${N}`)).toBe(true);
    expect(() => createECDH('prime256v1').setPrivateKey(Buffer.from(a, 'hex'))).not.toThrow();
  });

  it('derives the same public key and fingerprint from the scalar every time, and the pair signs and verifies', () => {
    const d = generateEvidenceScalar();
    const k1 = evidenceKeyFromScalar(d);
    const k2 = evidenceKeyFromScalar(d);
    expect(k1.fingerprint).toBe(k2.fingerprint);
    expect(k1.fingerprint).toBe(keyId(k1.publicKey));
    expect(k1.publicPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(k1.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const sig = sign('sha256', Buffer.from('m'), k1.privateKey);
    expect(verify('sha256', Buffer.from('m'), k2.publicKey, sig)).toBe(true);
    expect(evidenceKeyFromScalar(generateEvidenceScalar()).fingerprint).not.toBe(k1.fingerprint);
  });

  it('refuses a scalar that is not a P-256 private key', () => {
    expect(() => evidenceKeyFromScalar('0'.repeat(64))).toThrow('not a valid P-256 private scalar');
    expect(() => evidenceKeyFromScalar(N)).toThrow('not a valid P-256 private scalar');
    expect(() => evidenceKeyFromScalar('f'.repeat(64))).toThrow('not a valid P-256 private scalar');
    expect(() => evidenceKeyFromScalar('ABC')).toThrow('not 64 lowercase hex characters');
    expect(() => evidenceKeyFromScalar('A'.repeat(64))).toThrow('not 64 lowercase hex characters');
  });

  const refusal = (fn: () => unknown): CliError => {
    try {
      fn();
    } catch (e) {
      return e as CliError;
    }
    throw new Error('expected a refusal');
  };

  it('a missing, empty or invalid key file is exit 2 with `caracal init` as the way out', () => {
    const missing = refusal(() => loadEvidenceKey(dir));
    expect(missing).toBeInstanceOf(CliError);
    expect(missing.exitCode).toBe(2);
    expect(missing.message).toContain(`${EVIDENCE_KEY_SECRET} cannot be read (no such file)`);
    expect(missing.hint).toContain('run `caracal init`');
    writeFileSync(join(dir, EVIDENCE_KEY_SECRET), '');
    expect(refusal(() => loadEvidenceKey(dir)).message).toContain('is empty');
    writeFileSync(join(dir, EVIDENCE_KEY_SECRET), 'zz');
    const invalid = refusal(() => loadEvidenceKey(dir));
    expect(invalid.exitCode).toBe(2);
    expect(invalid.message).toContain('is invalid: it is not 64 lowercase hex characters');
    expect(invalid.hint).toContain('`caracal init`');
    const d = generateEvidenceScalar();
    writeFileSync(join(dir, EVIDENCE_KEY_SECRET), d);
    chmodSync(join(dir, EVIDENCE_KEY_SECRET), 0o444);
    expect(loadEvidenceKey(dir).fingerprint).toBe(evidenceKeyFromScalar(d).fingerprint);
  });
});
