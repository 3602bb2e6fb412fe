// The producers' side of the audit ledger (R-AUD-1, R-STS-7, R-GW-6): every decision becomes a signed event on
// `caracal.audit.events`. When Redis cannot take it, the event goes to the local spill and is replayed later.
// Emitting never throws into the request path; an event that cannot be kept anywhere is counted as lost.
import type { Redis } from 'ioredis';
import { v7 as uuidv7 } from 'uuid';
import type { AuditSpill } from './audit-spill.js';
import { withDeadline } from './deadline.js';
import type { StreamKeys } from './keys.js';
import { STREAMS } from './names.js';
import { auditEntry, type SignedAudit } from './publish.js';
import { signAuditData } from './sign.js';

export interface AuditEventInput {
  zone_id: string;
  type: string;
  decision?: 'allow' | 'deny';
  reason?: string;
  request_id?: string;
  application_id?: string;
  client_id?: string;
  resource?: string;
  subject?: string;
  data?: Record<string, unknown>;
}

export interface AuditEvent extends AuditEventInput {
  id: string;
  source: string;
  occurred_at: string;
}

export interface AuditEmitterOptions {
  redis: Redis;
  keys: StreamKeys;
  hmacKey: string;
  source: string;
  /** Where events wait while Redis cannot take them (R-AUD-1). */
  spill: AuditSpill;
  /** Publishing failed; the event goes to the spill next (or is counted lost when it cannot be signed). */
  onError?: (event: AuditEvent, err: unknown) => void;
  now?: () => Date;
  /** A Redis that accepts the connection but does not answer must not hold requests for long. */
  publishTimeoutMs?: number;
}

export type AuditEmitter = (input: AuditEventInput) => Promise<AuditEvent>;

export function createAuditEmitter(opts: AuditEmitterOptions): AuditEmitter {
  const now = opts.now ?? (() => new Date());
  const timeoutMs = opts.publishTimeoutMs ?? 2000;
  return async (input) => {
    const event: AuditEvent = { id: uuidv7(), source: opts.source, occurred_at: now().toISOString(), ...input };
    let signed: SignedAudit;
    try {
      signed = signAuditData(JSON.stringify(event), opts.hmacKey);
    } catch (err) {
      opts.onError?.(event, err);
      opts.spill.recordLost([event.id], 'unsigned');
      return event;
    }
    // While the spill holds events, new ones queue behind them instead of overtaking them on the stream.
    if (!opts.spill.active) {
      try {
        await withDeadline(opts.redis.xadd(...auditEntry(opts.keys, STREAMS.auditEvents, signed)), timeoutMs, 'publishing an audit event');
        return event;
      } catch (err) {
        opts.onError?.(event, err);
      }
    }
    await opts.spill.keep(signed, event.id);
    return event;
  };
}
