// The service frame: errors, readiness, metrics, configuration and process wiring shared by the five services.
export * from './errors.js';
export { installErrorHandler, sendError } from './error-handler.js';
export { classifyFailure } from './classify-failure.js';
export { refuseUnsafeText } from './unsafe-text.js';
export { runLadder, type ReadinessCheck, type ReadinessResult } from './readiness.js';
export { createMetrics, bearerMatches, registerAuditSpillMetrics, type ServiceMetrics } from './metrics.js';
export { buildServiceApp, type ServiceAppOptions } from './build-service-app.js';
export {
  baseSchema,
  loadServiceConfig,
  isLoopbackHttpOrHttps,
  SECRET_KEYS,
  STABLE_REQUIRED,
  type BaseConfig,
  type ServiceConfigSpec,
} from './service-config.js';
export { connectDeps, createRedis, closeDeps, startConnecting, type ServiceDeps } from './connect.js';
export { postgresCheck, redisCheck, groupsCheck, evictionPolicy } from './standard-checks.js';
export { outboxKeys, outboxProblems, createOutboxRelay, type Outbox, type OutboxConfig } from './outbox.js';
export { buildStandardApp, type StandardApp, type StandardAppOptions } from './standard-app.js';
export { runService, serviceMain, StartupError, type Runnable, type RunServiceOptions } from './run-service.js';
export { HttpDrain, type DrainResult } from './http-drain.js';
export { processIpc, announceReady, awaitStart, HeldStartError, type StartMessage, type WorkerIpc, type WorkerMessage } from './worker-ipc.js';
export { instanceId } from './instance-id.js';
export { broadcastHooks } from './broadcast-hooks.js';
export { hitRateLimit, type RateVerdict } from './rate-limit.js';
export { takeToken, type BucketSpec, type BucketVerdict } from './token-bucket.js';
export { zonePublicKeys } from './zone-public-keys.js';
export { serviceAuditProducer, spillDirFor, auditEvidenceCheck, type AuditProducer, type LocalUser } from './audit.js';
export { AuthorityKeyspace, claimOnce } from './keyspace.js';
