// The audit emitter every producing service uses (R-AUD-1): signed with its AUDIT_HMAC_KEY, failures logged.
import type { Logger } from '@caracal/logging';
import { createAuditEmitter, type AuditEmitter } from '@caracal/streams';
import type { ServiceDeps } from './connect.js';
import type { BaseConfig } from './service-config.js';

export function serviceAuditEmitter(source: string, config: BaseConfig, deps: ServiceDeps, logger: Logger): AuditEmitter {
  return createAuditEmitter({
    redis: deps.redis,
    keys: deps.keys,
    hmacKey: config.AUDIT_HMAC_KEY ?? '',
    source,
    onError: (event, err) => logger.error({ event_id: event.id, type: event.type, err: { message: (err as Error).message } }, 'audit event not published'),
  });
}
