// The producers' side of the audit ledger (R-AUD-1, R-STS-7, R-GW-6): every decision becomes a signed event on
// `caracal.audit.events`. Emitting never throws into the request path; a failure is reported to the caller's hook.
import type { Redis } from 'ioredis';
import { v7 as uuidv7 } from 'uuid';
import type { StreamKeys } from './keys.js';
import { STREAMS } from './names.js';
import { publishAudit } from './publish.js';

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
  onError?: (event: AuditEvent, err: unknown) => void;
  now?: () => Date;
}

export type AuditEmitter = (input: AuditEventInput) => Promise<AuditEvent>;

export function createAuditEmitter(opts: AuditEmitterOptions): AuditEmitter {
  const now = opts.now ?? (() => new Date());
  return async (input) => {
    const event: AuditEvent = { id: uuidv7(), source: opts.source, occurred_at: now().toISOString(), ...input };
    try {
      await publishAudit(opts.redis, opts.keys, STREAMS.auditEvents, JSON.stringify(event), opts.hmacKey);
    } catch (err) {
      opts.onError?.(event, err);
    }
    return event;
  };
}
