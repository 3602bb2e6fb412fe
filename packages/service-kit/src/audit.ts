// The audit producer of the api, sts and gateway (R-AUD-1): events signed with AUDIT_HMAC_KEY, published to
// Redis, kept in a local fsynced spill while Redis cannot take them, and `audit_evidence_lost` on the readiness
// ladder once any could not be kept (R-OPS-1).
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@caracal/config';
import type { Logger } from '@caracal/logging';
import { AuditSpill, SpillDirError, createAuditEmitter, prepareSpillDir, type AuditEmitter } from '@caracal/streams';
import type { ServiceDeps } from './connect.js';
import type { ReadinessCheck } from './readiness.js';
import { StartupError } from './run-service.js';
import type { BaseConfig } from './service-config.js';

export interface AuditProducer {
  emit: AuditEmitter;
  spill: AuditSpill;
}

export interface LocalUser {
  tmpdir: () => string;
  name: () => string;
}

const localUser: LocalUser = {
  tmpdir,
  name: () => {
    try {
      return userInfo().username.replace(/[^A-Za-z0-9_.-]/g, '_');
    } catch {
      // No passwd entry (some containers): the uid still tells users apart.
      return `uid${process.getuid?.() ?? ''}`;
    }
  },
};

/**
 * The configured spill directory. A stable-mode producer with nowhere to keep evidence refuses to start; dev mode
 * falls back to a directory per service and user under the system temp dir.
 */
export function spillDirFor(service: string, config: BaseConfig, user: LocalUser = localUser): string {
  if (config.AUDIT_SPILL_DIR) return config.AUDIT_SPILL_DIR;
  if (config.CARACAL_MODE !== 'dev') {
    throw new StartupError(`${service}: ${new ConfigError(['AUDIT_SPILL_DIR: is required in stable mode (where audit events are kept while Redis is unavailable)']).message}`);
  }
  return join(user.tmpdir(), `caracal-audit-spill-${service}-${user.name()}`);
}

export function serviceAuditProducer(service: string, config: BaseConfig, deps: ServiceDeps, logger: Logger): AuditProducer {
  const dir = spillDirFor(service, config);
  try {
    prepareSpillDir(dir);
  } catch (err) {
    if (err instanceof SpillDirError) throw new StartupError(`${service}: ${new ConfigError([`AUDIT_SPILL_DIR: ${err.message}`]).message}`);
    throw err;
  }
  const spill = new AuditSpill({
    dir,
    source: service,
    redis: deps.redis,
    keys: deps.keys,
    maxBytes: config.AUDIT_SPILL_MAX_BYTES,
    log: (level, msg, detail) => logger[level](detail, msg),
  });
  const emit = createAuditEmitter({
    redis: deps.redis,
    keys: deps.keys,
    hmacKey: config.AUDIT_HMAC_KEY ?? '',
    source: service,
    spill,
    onError: (event, err) => logger.warn({ event_id: event.id, type: event.type, err: { message: (err as Error).message } }, 'audit event not published'),
  });
  return { emit, spill };
}

/** Sticky until restart: evidence that is gone does not come back when the disk or Redis does. */
export function auditEvidenceCheck(spill: AuditSpill): ReadinessCheck {
  return {
    reason: 'audit_evidence_lost',
    check: async () => {
      const { lost } = spill.status();
      if (lost > 0) throw new Error(`${lost} audit event(s) could not be kept`);
    },
  };
}
