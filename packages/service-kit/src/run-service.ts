// Process wiring shared by every service's main.ts: config once, logger, dependencies, listen (on HOST:PORT, or
// on the socket the supervisor handed over), readiness announced to the supervisor, signals, and the drain on
// shutdown (R-SHAPE-4). It never exits the process; main.ts does.
import type { FastifyInstance } from 'fastify';
import { ConfigError, type Env } from '@caracal/config';
import { createLogger, type Logger } from '@caracal/logging';
import { ensureGroups, type GroupSpec } from '@caracal/streams';
import { closeDeps, connectDeps, startConnecting, type ServiceDeps } from './connect.js';
import { HttpDrain } from './http-drain.js';
import { SECRET_KEYS, type BaseConfig } from './service-config.js';
import { evictionPolicy } from './standard-checks.js';
import { announceReady, awaitStart, HeldStartError, processIpc, type WorkerIpc } from './worker-ipc.js';

export interface Runnable {
  /** Built with buildServiceApp (its readiness ladder is polled for the supervisor). */
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
  /** The channel to the supervisor; the process's own IPC channel by default. */
  ipc?: WorkerIpc;
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
  const { app } = runnable;
  const drain = new HttpDrain(app.server);
  try {
    await listen(app, config);
  } catch (err) {
    preparing.stopped = true;
    await closeDeps(deps);
    throw listenError(opts.service, config, err);
  }
  const ipc = opts.ipc ?? processIpc();
  const instance = deps.instance;
  logger.info({ instance, ...(config.CARACAL_LISTEN_FD === undefined ? { host: config.HOST, port: config.PORT } : { fd: config.CARACAL_LISTEN_FD }) }, 'listening');
  const stopAnnouncing = ipc.attached ? announceReady(async () => (await app.readiness()).ready, () => ipc.send({ type: 'ready', instance })) : () => undefined;

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      logger.info({ instance }, 'draining');
      preparing.stopped = true;
      stopAnnouncing();
      ipc.send({ type: 'draining', instance });
      // No 503 while draining: the HTTP side is done before the app closes (and its routes with it).
      const { forced } = await drain.drain(config.DRAIN_IDLE_MS, config.SHUTDOWN_GRACE_MS);
      if (forced > 0) logger.warn({ forced }, 'connections still open after the drain deadline were closed');
      const timer = setTimeout(() => logger.warn('stopping background work is taking long'), config.SHUTDOWN_GRACE_MS).unref();
      await app.close();
      await runnable.stop?.();
      await closeDeps(deps);
      clearTimeout(timer);
      logger.info({ instance }, 'stopped');
    })());
  return shutdown;
}

/** HOST:PORT, or the inherited socket CARACAL_LISTEN_FD, which other processes of the service may share. */
async function listen(app: FastifyInstance, config: BaseConfig): Promise<void> {
  const fd = config.CARACAL_LISTEN_FD;
  if (fd === undefined) {
    await app.listen({ host: config.HOST, port: config.PORT });
    return;
  }
  // Not app.listen: Fastify would also bind the host's other addresses; the socket is already bound.
  await app.ready();
  await new Promise<void>((resolve, reject) => {
    app.server.once('error', reject);
    app.server.listen({ fd }, () => {
      app.server.off('error', reject);
      resolve();
    });
  });
}

function listenError(service: string, config: BaseConfig, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (config.CARACAL_LISTEN_FD !== undefined) {
    return new StartupError(`${service}: CARACAL_LISTEN_FD=${config.CARACAL_LISTEN_FD} is not a listening socket this process can use (${code ?? (err as Error).message})`);
  }
  if (code === 'EADDRINUSE') return new StartupError(`${service}: port ${config.PORT} on ${config.HOST} is already in use`);
  return err;
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
  // A worker started held has no SIGTERM handler yet: a supervisor stopping it meanwhile ends it at once.
  awaitStart(opts.env)
    .then(() => runService(opts))
    .then(
      (shutdown) => {
        const onSignal = () => void shutdown().then(() => exit(0), () => exit(1));
        // Every SIGTERM joins the one drain (a repeated one must not kill the process mid-drain); a second Ctrl-C
        // at a terminal still ends it at once.
        process.on('SIGTERM', onSignal);
        process.once('SIGINT', onSignal);
      },
      (err: unknown) => {
        const message = err instanceof StartupError ? err.message : err instanceof HeldStartError ? `${opts.service}: ${err.message}` : ((err as Error)?.stack ?? String(err));
        process.stderr.write(`${message}\n`);
        exit(1);
      },
    );
}
