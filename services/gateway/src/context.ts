// What the gateway's routes receive.
import type { Dispatcher } from 'undici';
import type { Logger } from '@caracal/logging';
import type { AuthorityKeyspace, ServiceDeps } from '@caracal/service-kit';
import type { AuditEmitter } from '@caracal/streams';
import type { GatewayConfig } from './config.js';
import type { JwksCache } from './jwks-cache.js';
import type { Resolve, SsrfPolicy } from '@caracal/ssrf-guard';
import type { RevocationCache } from './revocations.js';
import type { StsClient } from './sts-client.js';

export interface GatewayContext {
  config: GatewayConfig;
  deps: ServiceDeps;
  logger: Logger;
  issuer: string;
  publicUrl: string;
  jwks: JwksCache;
  revocations: RevocationCache;
  sts: StsClient;
  emit: AuditEmitter;
  policy: SsrfPolicy;
  resolve: Resolve;
  /** Upstream connections; each new one resolves its host through the SSRF guard. */
  upstream: Dispatcher;
  /** Redis keys of the authority path (the jti registry). */
  keyspace: AuthorityKeyspace;
  /** Milliseconds since the epoch; tests may pass a fixed clock. */
  now: () => number;
}
