// Process wiring shared by every service's main.ts: config once, logger, dependencies, listen, signals,
// graceful shutdown (R-SHAPE-4). It never exits the process; main.ts does.
import type { FastifyInstance } from 'fastify';
import { ConfigError, type Env } from '@caracal/config';
import { createLogger, type Logger } from '@caracal/logging';
import { ensureGroups, type GroupSpec } from '@caracal/streams';
import { closeDeps, connectDeps, startConnecting, type ServiceDeps } from './connect.js';
import { SECRET_KEYS, type BaseConfig } from './service-config.js';
import { evictionPolicy } from './standard-checks.js';

export interface Runnable {
  app: FastifyInstance;
  /** Background work (consumers, sweepers) stopped before the dependencies close. */
  stop?: () => Promise<void>;
}

export interface RunServiceOptions<C extends BaseConfig> {
  service: string;
  env: Env;
  loadConfig: (env: Env) => C;
  groups: readonly GroupSpec[];
  build: (config: C, deps: ServiceDeps, logger: Logger) => Promise<Runnable>;
}

export class StartupError extends Error {}

export async function runService<C extends BaseConfig>(opts: RunServiceOptions<C>): Promise<() => Promise<void>> {
  let config: C;
  try {
    config = opts.loadConfig(opts.env);
  } catch (err) {
    if (err instanceof ConfigError) throw new StartupError(`${opts.service}: ${err.message}`);
    throw err;
  }
  // The secrets' exact values (often read from *_FILE) are censored wherever they would appear in a line (R-SEC-2).
  const secrets = SECRET_KEYS.map((key) => (config as Record<string, unknown>)[key]).filter((v): v is string => typeof v === 'string');
  const logger = createLogger({ service: opts.service, level: config.LOG_LEVEL, secrets });
  if (config.CARACAL_MODE === 'dev') logger.warn('CARACAL_MODE=dev: insecure relaxations are allowed; never use dev mode in production');
  const deps = connectDeps(config, opts.service, logger);
  startConnecting(deps);
  const preparing = { stopped: false };
  void prepareRedis(deps, opts.groups, logger, preparing);

  const runnable = await opts.build(config, deps, logger);
  try {
    await runnable.app.listen({ host: config.HOST, port: config.PORT });
  } catch (err) {
    preparing.stopped = true;
    await closeDeps(deps);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new StartupError(`${opts.service}: port ${config.PORT} on ${config.HOST} is already in use`);
    throw err;
  }

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      logger.info('shutting down');
      preparing.stopped = true;
      const timer = setTimeout(() => logger.warn('graceful shutdown is taking long'), config.SHUTDOWN_GRACE_MS).unref();
      await runnable.app.close();
      await runnable.stop?.();
      await closeDeps(deps);
      clearTimeout(timer);
      logger.info('stopped');
    })());
  return shutdown;
}

/** Groups are created as soon as Redis answers, retried until it does; readiness reports them meanwhile. */
async function prepareRedis(deps: ServiceDeps, groups: readonly GroupSpec[], logger: Logger, state: { stopped: boolean }): Promise<void> {
  for (let attempt = 0; !state.stopped; attempt++) {
    try {
      await ensureGroups(deps.redis, deps.keys, groups);
      const policy = await evictionPolicy(deps.redis);
      if (policy && policy !== 'noeviction') {
        logger.warn({ policy }, 'redis maxmemory-policy is not noeviction: stream entries and replay markers may be evicted');
      }
      return;
    } catch {
      await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** attempt, 5000)));
    }
  }
}

/** The whole of a service's main.ts: run, wire signals, and report startup failures. Exiting is left to `exit`. */
export function serviceMain<C extends BaseConfig>(opts: RunServiceOptions<C>, exit: (code: number) => void): void {
  runService(opts).then(
    (shutdown) => {
      const onSignal = () => void shutdown().then(() => exit(0), () => exit(1));
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof StartupError ? err.message : ((err as Error)?.stack ?? String(err))}\n`);
      exit(1);
    },
  );
}
