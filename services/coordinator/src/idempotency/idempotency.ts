// Idempotency-Key on every mutation (R-CO-1): the key is stored only as HMAC-SHA256(IDEMPOTENCY_HMAC_KEY, key),
// beside a digest of the request. The row is inserted in the mutation's own transaction, so a concurrent request
// with the same key waits on the primary key and then replays the committed answer: one effect.
import { createHash, createHmac } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { PoolClient } from '@caracal/db';
import { Conflict, InvalidRequest, ServiceUnavailable } from '@caracal/service-kit';

export interface StoredAnswer {
  status: number;
  body: unknown;
}

/** The Idempotency-Key header, checked: undefined when absent; 400 when empty, > 255 bytes or not printable ASCII. */
export function idempotencyKeyOf(req: FastifyRequest): string | undefined {
  const raw = req.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  if (Array.isArray(raw)) throw new InvalidRequest('Idempotency-Key: must be sent once');
  if (raw === '') throw new InvalidRequest('Idempotency-Key: must not be empty');
  if (Buffer.byteLength(raw, 'utf8') > 255) throw new InvalidRequest('Idempotency-Key: must be at most 255 bytes');
  if (!/^[\x21-\x7e]+$/.test(raw)) throw new InvalidRequest('Idempotency-Key: only printable ASCII without spaces or control characters is allowed');
  return raw;
}

/** Sorted-key JSON, so the same body sent with its fields in another order is the same request. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

export function requestDigest(method: string, route: string, body: unknown): string {
  return createHash('sha256').update(`${method}\n${route}\n${canonical(body)}`, 'utf8').digest('hex');
}

export interface Claim {
  keyDigest: string;
  requestDigest: string;
}

/**
 * Keys are per caller: the digest covers who sent the key, so two applications of one zone that happen to pick the
 * same key never see each other's answers.
 */
export function claimFor(hmacKey: string | undefined, caller: string, key: string, method: string, route: string, body: unknown): Claim {
  if (!hmacKey) throw new ServiceUnavailable('IDEMPOTENCY_HMAC_KEY is not configured: Idempotency-Key cannot be honoured');
  return { keyDigest: createHmac('sha256', hmacKey).update(`${caller}\n${key}`, 'utf8').digest('hex'), requestDigest: requestDigest(method, route, body) };
}

/**
 * Takes the key inside the zone transaction. Returns the stored answer when the key was already used for this
 * request, throws 409 when it was used for a different one, and undefined when this request now owns the key.
 */
export async function takeKey(c: PoolClient, zoneId: string, claim: Claim, ttlSeconds: number): Promise<StoredAnswer | undefined> {
  await c.query('DELETE FROM idempotency_keys WHERE key_digest = $1 AND expires_at <= now()', [claim.keyDigest]);
  const ins = await c.query(
    `INSERT INTO idempotency_keys (zone_id, key_digest, request_digest, expires_at)
     VALUES ($1, $2, $3, now() + $4::integer * interval '1 second') ON CONFLICT (zone_id, key_digest) DO NOTHING`,
    [zoneId, claim.keyDigest, claim.requestDigest, ttlSeconds],
  );
  if (ins.rowCount === 1) return undefined;
  const row = (
    await c.query<{ request_digest: string; response_status: number | null; response_body: unknown }>(
      'SELECT request_digest, response_status, response_body FROM idempotency_keys WHERE key_digest = $1',
      [claim.keyDigest],
    )
  ).rows[0];
  if (!row || row.response_status === null) throw new Conflict('Idempotency-Key: a request with this key is still in progress');
  if (row.request_digest !== claim.requestDigest) throw new Conflict('Idempotency-Key: this key was already used with a different request');
  return { status: row.response_status, body: row.response_body };
}

export async function storeAnswer(c: PoolClient, claim: Claim, answer: StoredAnswer): Promise<void> {
  await c.query('UPDATE idempotency_keys SET response_status = $2, response_body = $3 WHERE key_digest = $1', [claim.keyDigest, answer.status, JSON.stringify(answer.body)]);
}
