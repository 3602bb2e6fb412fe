// Announcing a committed change on a broadcast stream (R-STR-1): signed, after commit, best effort. A failed publish
// is logged and answered false; the readers' periodic Postgres snapshots converge on what was missed.
import type { Redis } from 'ioredis';
import type { StreamKeys } from './keys.js';
import { STREAMS } from './names.js';
import { publishSigned } from './publish.js';

export interface Announcer {
  redis: Redis;
  keys: StreamKeys;
  /** Unset: nothing is announced, and readers rely on their snapshots alone. */
  hmacKey: string | undefined;
  logger: { warn: (obj: object, msg: string) => void };
}

export async function announce(a: Announcer, stream: string, fields: Record<string, string>): Promise<boolean> {
  if (!a.hmacKey) return false;
  try {
    await publishSigned(a.redis, a.keys, stream, fields, a.hmacKey);
    return true;
  } catch (err) {
    a.logger.warn({ stream, err: { message: (err as Error).message } }, 'stream publish failed; snapshots will converge');
    return false;
  }
}

export interface AnnouncedRevocation {
  zone_id: string;
  target_type: string;
  target_id: string;
  revoked_at: Date;
}

/** One `caracal.sessions.revoke` message per revocation record, sent together; returns how many were published. */
export async function announceRevocations(a: Announcer, rows: readonly AnnouncedRevocation[]): Promise<number> {
  const sent = await Promise.all(
    rows.map((r) => announce(a, STREAMS.sessionsRevoke, { zone_id: r.zone_id, target_type: r.target_type, target_id: r.target_id, revoked_at: r.revoked_at.toISOString() })),
  );
  return sent.filter(Boolean).length;
}
