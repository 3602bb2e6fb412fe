// What every sts route and grant handler receives.
import type { Logger } from '@caracal/logging';
import type { ServiceDeps } from '@caracal/service-kit';
import type { AuditEmitter } from '@caracal/streams';
import type { StsConfig } from './config.js';
import type { KeyStore } from './keys/key-store.js';

export interface StsContext {
  config: StsConfig;
  deps: ServiceDeps;
  logger: Logger;
  keys: KeyStore;
  emit: AuditEmitter;
  issuer: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The zone a denial can be recorded in, once the request has revealed it. */
    auditZone?: string;
    auditDetail?: { application_id?: string; client_id?: string; resource?: string; subject?: string };
  }
}
