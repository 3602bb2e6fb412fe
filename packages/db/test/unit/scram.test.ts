// scramVerifier (RFC 5802/7677): the Postgres verifier format, checked against an independent Hi() and the RFC 7677 exchange.
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { scramVerifier } from '../../src/scram.js';

const FORMAT = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2}):([A-Za-z0-9+/]+={0,2})$/;

const hmac = (key: Buffer, data: string | Buffer) => createHmac('sha256', key).update(data).digest();
const xor = (a: Buffer, b: Buffer) => Buffer.from(a.map((x, i) => x ^ b[i]!));

/** RFC 5802 §2.2 Hi(): U1 = HMAC(str, salt || INT(1)), Ui = HMAC(str, Ui-1), result = U1 ^ … ^ Ui. No pbkdf2Sync. */
function hi(password: string, salt: Buffer, iterations: number): Buffer {
  const key = Buffer.from(password, 'utf8');
  let u = hmac(key, Buffer.concat([salt, Buffer.from([0, 0, 0, 1])]));
  let out = Buffer.from(u);
  for (let i = 1; i < iterations; i++) {
    u = hmac(key, u);
    out = xor(out, u);
  }
  return out;
}

function parse(verifier: string) {
  const m = FORMAT.exec(verifier);
  if (!m) throw new Error(`not a SCRAM-SHA-256 verifier: ${verifier}`);
  return { iterations: Number(m[1]), salt: Buffer.from(m[2]!, 'base64'), storedKey: Buffer.from(m[3]!, 'base64'), serverKey: Buffer.from(m[4]!, 'base64') };
}

describe('scramVerifier', () => {
  it('has the Postgres format SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey> with a 16-byte salt and 32-byte keys', () => {
    const v = parse(scramVerifier('correct horse battery staple'));
    expect(v.iterations).toBe(4096);
    expect(v.salt).toHaveLength(16);
    expect(v.storedKey).toHaveLength(32);
    expect(v.serverKey).toHaveLength(32);
  });

  it('matches an independent RFC 5802 computation for a fixed salt', () => {
    const salt = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
    const password = 'p@ss-wörd';
    const salted = hi(password, salt, 4096);
    const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
    const serverKey = hmac(salted, 'Server Key');
    const expected = `SCRAM-SHA-256$4096:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
    expect(scramVerifier(password, 4096, salt)).toBe(expected);
  });

  it('is deterministic for a fixed salt and iteration count', () => {
    const salt = Buffer.alloc(16, 7);
    expect(scramVerifier('pw', 4096, salt)).toBe(scramVerifier('pw', 4096, salt));
  });

  it('uses a fresh random salt by default, so equal passwords give different verifiers', () => {
    const a = parse(scramVerifier('same password'));
    const b = parse(scramVerifier('same password'));
    expect(a.salt.equals(b.salt)).toBe(false);
    expect(a.storedKey.equals(b.storedKey)).toBe(false);
  });

  it('differs for a different password, salt or iteration count', () => {
    const salt = Buffer.alloc(16, 1);
    const base = scramVerifier('pw', 4096, salt);
    expect(scramVerifier('pw2', 4096, salt)).not.toBe(base);
    expect(scramVerifier('pw', 4096, Buffer.alloc(16, 2))).not.toBe(base);
    expect(scramVerifier('pw', 4097, salt)).not.toBe(base);
  });

  it('never contains the plaintext password', () => {
    const password = 'VisiblePlaintext123';
    expect(scramVerifier(password)).not.toContain(password);
  });

  it('lets a server verify the RFC 7677 §3 exchange (user "user", password "pencil")', () => {
    const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    const v = parse(scramVerifier('pencil', 4096, salt));
    const authMessage = [
      'n=user,r=rOprNGfwEbeRWgbNEkqO',
      'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
    ].join(',');
    // Server side (RFC 5802 §3): ClientKey = ClientProof ^ HMAC(StoredKey, AuthMessage); H(ClientKey) must be StoredKey.
    const clientProof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
    const clientKey = xor(clientProof, hmac(v.storedKey, authMessage));
    expect(createHash('sha256').update(clientKey).digest().equals(v.storedKey)).toBe(true);
    expect(hmac(v.serverKey, authMessage).toString('base64')).toBe('6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  });

  it('does not verify the RFC 7677 proof for another password', () => {
    const v = parse(scramVerifier('pencil2', 4096, Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64')));
    const authMessage =
      'n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    const clientKey = xor(Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64'), hmac(v.storedKey, authMessage));
    expect(createHash('sha256').update(clientKey).digest().equals(v.storedKey)).toBe(false);
  });
});
