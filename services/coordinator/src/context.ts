// What every coordinator route group receives: config, dependencies, the audit emitter, the outbox relay.
import type { Logger } from '@caracal/logging';
import type { Outbox, ServiceDeps } from '@caracal/service-kit';
import type { AuditEmitter } from '@caracal/streams';
import type { CoordinatorConfig } from './config.js';

export interface CoordinatorContext {
  config: CoordinatorConfig;
  deps: ServiceDeps;
  logger: Logger;
  /** Every lifecycle decision lands in the zone's ledger (R-AUD-1). */
  emit: AuditEmitter;
  /** The relay that publishes committed outbox rows (lifecycle and delegation messages, R-STR-5). */
  outbox: Outbox;
}
