// What every sts route and grant handler receives.
import type { Logger } from '@caracal/logging';
import type { ServiceDeps } from '@caracal/service-kit';
import type { AuditEmitter } from '@caracal/streams';
import type { AuthorityLimits, AuthorityRepository } from './authority/index.js';
import type { StsConfig } from './config.js';
import type { KeyStore } from './keys/key-store.js';
import type { ZonePolicies } from './policy/index.js';
import type { IssuedSignatures, SessionSignatures } from './token/session-signatures.js';

export interface StsContext {
  config: StsConfig;
  deps: ServiceDeps;
  logger: Logger;
  keys: KeyStore;
  repo: AuthorityRepository;
  limits: AuthorityLimits;
  policies: ZonePolicies;
  emit: AuditEmitter;
  issuer: string;
  /** Session mandates already verified by this process (token/session-signatures.ts). */
  sessionSignatures: SessionSignatures;
  /** Gateway mandates this process signed, for the re-exchange (token/session-signatures.ts). */
  issuedSignatures: IssuedSignatures;
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The zone a denial is recorded in: set only once the zone is verified (a signed subject, an existing
     * client); until then a denial goes to the platform zone, never to a zone the request merely claims.
     */
    auditZone?: string;
    auditDetail?: { application_id?: string; client_id?: string; resource?: string; subject?: string };
    /** The zone policy sets' part of a decision (R-POL-1), recorded in the audit event of a denial. */
    auditDecision?: { evaluation_status: 'complete' | 'error'; determining_policies: string[]; diagnostics: string[] };
  }
}
