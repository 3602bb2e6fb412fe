// Entry of the detached supervisor process started by `caracal up`; the only place in it that exits.
import { spawn } from 'node:child_process';
import { closeSync, openSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@caracal/logging';
import { writeJsonAtomic } from '../home/runtime-json.js';
import { loadContext, services } from '../stack/context.js';
import { serviceEnv } from '../stack/service-env.js';
import { serviceEntry } from '../version.js';
import { Supervisor, type ServiceSpec } from './supervisor.js';

const logger = createLogger({ service: 'supervisor' });

function main(): void {
  const ctx = loadContext(process.env);
  const specs: ServiceSpec[] = services.map((name) => ({
    name,
    entry: serviceEntry(ctx.root, name),
    env: serviceEnv(ctx, name),
    logFile: join(ctx.home.logsDir, `${name}.log`),
  }));
  const supervisor = new Supervisor(specs, {
    logger,
    writeState: (state) => writeJsonAtomic(ctx.home.supervisorState, state),
    spawn: (spec) => {
      const fd = openSync(spec.logFile, 'a', 0o600);
      try {
        return spawn(process.execPath, [spec.entry], { env: spec.env, stdio: ['ignore', fd, fd], cwd: ctx.root });
      } finally {
        closeSync(fd);
      }
    },
  });
  supervisor.start();
  logger.info({ services: specs.map((s) => s.name) }, 'supervisor started');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping services');
    void supervisor.stop(10_000).then(() => {
      try {
        unlinkSync(ctx.home.supervisorState);
      } catch {
        // already gone
      }
      logger.info('supervisor stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => logger.info('SIGHUP ignored'));
}

try {
  main();
} catch (err) {
  logger.fatal({ err: { message: (err as Error).message } }, 'supervisor failed to start');
  process.exit(1);
}
