// Builds hostile tokens for negative tests: signed with the zone's real key (opened with the test's KEK) but with
// bad claims, or with the wrong key, `alg: none`, HS256 keyed with the public key, or a tampered payload.
import { randomUUID } from 'node:crypto';
import { exportSPKI, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import { openZoneKey, toLowS } from '../packages/mandates/dist/index.js';
import { adminQuery } from './db.js';

export interface ZoneKey {
  kid: string;
  privateKey: Awaited<ReturnType<typeof openZoneKey>>;
  publicJwk: JWK;
}

export async function zoneKey(adminUrl: string, kek: string, zoneId: string): Promise<ZoneKey> {
  const res = await adminQuery<{ kid: string; public_jwk: JWK; private_sealed: Buffer }>(
    adminUrl,
    "SELECT kid, public_jwk, private_sealed FROM caracal.signing_keys WHERE zone_id = $1 AND status = 'active'",
    [zoneId],
  );
  const row = res.rows[0];
  if (!row) throw new Error('zone has no active key yet');
  return { kid: row.kid, privateKey: await openZoneKey(kek, zoneId, row.kid, row.private_sealed), publicJwk: row.public_jwk };
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

export function decodePayload(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
}

/** Signed in the canonical low-S form, as the STS signs: verifiers refuse the high-S twin. */
export async function signWith(key: ZoneKey['privateKey'] | CryptoKey, kid: string, claims: Record<string, unknown>): Promise<string> {
  const [h, p, s] = (await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' }).sign(key)).split('.');
  return `${h}.${p}.${toLowS(Buffer.from(s!, 'base64url')).toString('base64url')}`;
}

/** The same claims re-signed by a key nobody published. */
export async function signWithStrangerKey(claims: Record<string, unknown>, kid: string = randomUUID()): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256');
  return signWith(privateKey, kid, claims);
}

export function algNone(claims: Record<string, unknown>, kid: string): string {
  return `${b64({ alg: 'none', kid, typ: 'at+jwt' })}.${b64(claims)}.`;
}

/** The classic confusion attack: HS256 with the server's public key as the HMAC secret. */
export async function hs256WithPublicKey(claims: Record<string, unknown>, zk: ZoneKey): Promise<string> {
  const pem = await exportSPKI((await importJWK(zk.publicJwk, 'ES256', { extractable: true })) as CryptoKey);
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: zk.kid, typ: 'at+jwt' }).sign(new TextEncoder().encode(pem));
}

export function tamper(token: string, change: Record<string, unknown>): string {
  const [h, , s] = token.split('.');
  return `${h}.${b64({ ...decodePayload(token), ...change })}.${s}`;
}
