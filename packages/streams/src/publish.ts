// Publishes signed messages onto a bounded stream (R-STR-1, R-STR-2, R-STR-3).
import type { Redis } from 'ioredis';
import type { StreamKeys } from './keys.js';
import { STREAM_MAXLEN } from './names.js';
import { signAuditData, signFields, type Fields } from './sign.js';

function flatten(fields: Record<string, string>): string[] {
  return Object.entries(fields).flat();
}

/** XADD arguments for a signed message on a bounded stream; shared by direct publishing and the outbox relay. */
export function signedEntry(keys: StreamKeys, stream: string, fields: Fields, hmacKey: string, maxLen: number = STREAM_MAXLEN): [string, ...string[]] {
  return [keys.key(stream), 'MAXLEN', '~', String(maxLen), '*', ...flatten(signFields(stream, fields, hmacKey))];
}

export async function publishSigned(
  redis: Redis,
  keys: StreamKeys,
  stream: string,
  fields: Fields,
  hmacKey: string,
  maxLen: number = STREAM_MAXLEN,
): Promise<string> {
  const id = await redis.xadd(...signedEntry(keys, stream, fields, hmacKey, maxLen));
  return id as string;
}


export interface SignedAudit {
  data: string;
  sig: string;
}

/**
 * XADD arguments for an already-signed audit message; shared by direct publishing and spill replay (R-AUD-1).
 * No MAXLEN: trimming could drop evidence the audit service has not committed yet. The audit service trims what it
 * has acknowledged; when Redis is full (`noeviction`) the XADD fails and the producer spills instead.
 */
export function auditEntry(keys: StreamKeys, stream: string, signed: SignedAudit): [string, ...string[]] {
  return [keys.key(stream), '*', 'data', signed.data, 'sig', signed.sig];
}

export async function publishAudit(redis: Redis, keys: StreamKeys, stream: string, eventJson: string, hmacKey: string): Promise<string> {
  const id = await redis.xadd(...auditEntry(keys, stream, signAuditData(eventJson, hmacKey)));
  return id as string;
}
