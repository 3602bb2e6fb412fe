// Entry of the detached supervisor process started by `caracal up` (or by the supervisor it replaces, in a
// handover); the only place in it that exits.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SERVICE_NAMES, type ServiceName } from '@caracal/db';
import { createLogger } from '@caracal/logging';
import { writeJsonAtomic } from '../home/runtime-json.js';
import { workerCounts } from '../home/settings.js';
import { loadContext, type StackContext } from '../stack/context.js';
import { rootVersion } from '../stack/install-root.js';
import { serviceEnv } from '../stack/service-env.js';
import { adoptionFile, supervisorSocket } from '../stack/supervisor-control.js';
import { serviceEntry, supervisorArgs, supervisorEntry } from '../version.js';
import { readAdoption, removeAdoption, writeAdoption } from './adoption.js';
import { listenControl, type ControlServer } from './control-server.js';
import { dispatcher } from './dispatch.js';
import { formatFds, parseFds, successorStdio, WORKER_LISTEN_FD, workerStdio, type ServiceFds } from './fds.js';
import type { AdoptedMessage } from './protocol.js';
import { Supervisor, type LaunchSpec } from './supervisor.js';
import { adoptedWorker, childWorker, pidRuns } from './worker-process.js';

const logger = createLogger({ service: 'supervisor' });
/** A draining worker gets the services' SHUTDOWN_GRACE_MS (10 s) plus DRAIN_IDLE_MS (2 s) and a margin. */
const DRAIN_GRACE_MS = 15_000;
const FAILED_GRACE_MS = 5_000;
const HANDOVER_SETTLE_MS = 30_000;
const HANDOVER_TAKEOVER_MS = 30_000;

/** Why `root` cannot run `version`'s code, or nothing. */
function checkRoot(root: string, version: string, entry: string): string | undefined {
  if (!existsSync(entry)) return `${entry} does not exist`;
  let found: string;
  try {
    found = rootVersion(root);
  } catch (err) {
    return `${root} does not name its version: ${(err as Error).message}`;
  }
  return found === version ? undefined : `${root} holds version ${found}, not ${version}`;
}

function launchSpecs(ctx: StackContext) {
  return (service: string, rootIn: string, version: string): LaunchSpec | string => {
    const root = resolve(rootIn);
    const entry = serviceEntry(root, service);
    const problem = checkRoot(root, version, entry);
    if (problem) return problem;
    const env = serviceEnv(ctx, service as ServiceName);
    return { service, root, version, entry, env, logFile: join(ctx.home.logsDir, `${service}.log`) };
  };
}

function spawnWorker(fds: ServiceFds) {
  return (spec: LaunchSpec, instance: string, held: boolean) => {
    const log = openSync(spec.logFile, 'a', 0o600);
    try {
      const env: Record<string, string> = { ...spec.env, CARACAL_LISTEN_FD: String(WORKER_LISTEN_FD), CARACAL_INSTANCE_ID: instance };
      if (held) env.CARACAL_START_HELD = '1';
      return childWorker(spawn(process.execPath, [spec.entry], { env, stdio: workerStdio(fds, spec.service as ServiceName, log), cwd: spec.root }));
    } finally {
      closeSync(log);
    }
  };
}

async function main(): Promise<void> {
  const ctx = loadContext(process.env);
  const fds = parseFds(process.env.CARACAL_SUPERVISOR_FDS);
  const adopting = process.env.CARACAL_SUPERVISOR_ADOPT === '1';
  // Started by `caracal up` before it migrated: the workers load their code and wait for its `release`.
  const held = !adopting && process.env.CARACAL_SUPERVISOR_HOLD === '1';
  // The version of the tree it runs from (what a roll or handover names), not of wherever this code was built.
  const version = rootVersion(ctx.root);
  const launchSpec = launchSpecs(ctx);
  const adoptPath = adoptionFile(ctx.home);
  const sup = new Supervisor({ logger, version, root: ctx.root, held, spawn: spawnWorker(fds), writeState: (s) => writeJsonAtomic(ctx.home.supervisorState, s) });
  let control: ControlServer | undefined;

  const handler = dispatcher(
    sup,
    { logger, now: Date.now, launchSpec, drainGraceMs: DRAIN_GRACE_MS, failedGraceMs: FAILED_GRACE_MS },
    {
      logger,
      checkRoot: (root, v) => checkRoot(root, v, supervisorEntry(root)),
      writeAdoption: (state) => writeAdoption(adoptPath, state),
      removeAdoption: () => removeAdoption(adoptPath),
      spawnSuccessor: (root) =>
        spawn(process.execPath, supervisorArgs(root), {
          detached: true,
          stdio: successorStdio(fds),
          cwd: root,
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CARACAL_HOME: ctx.home.root, CARACAL_INSTALL_ROOT: root, CARACAL_SUPERVISOR_FDS: formatFds(fds), CARACAL_SUPERVISOR_ADOPT: '1' },
        }),
      reclaimControl: () => control!.reclaim(),
      leave: () => process.exit(0),
      settleMs: HANDOVER_SETTLE_MS,
      takeoverMs: HANDOVER_TAKEOVER_MS,
    },
  );

  if (adopting) {
    // Nothing is launched until the predecessor has been told: until then it may still carry on itself.
    sup.pause();
    sup.adopt(readAdoption(adoptPath, launchSpec, (pid, entry) => (pidRuns(pid, entry) ? adoptedWorker(pid, entry) : undefined)));
    control = await listenControl(supervisorSocket(ctx.home), handler, logger);
    sup.persist(true);
    process.send?.({ type: 'adopted', pid: process.pid } satisfies AdoptedMessage);
    process.disconnect?.();
    sup.resume();
    logger.info({ version, root: ctx.root }, 'supervisor took over the running workers');
  } else {
    control = await listenControl(supervisorSocket(ctx.home), handler, logger);
    const counts = workerCounts(ctx.settings, process.env);
    sup.start(
      SERVICE_NAMES.map((name) => {
        const spec = launchSpec(name, ctx.root, version);
        if (typeof spec === 'string') throw new Error(spec);
        return { spec, desired: counts[name] };
      }),
    );
    logger.info({ version, root: ctx.root, workers: counts, held }, held ? 'supervisor started; workers wait for release' : 'supervisor started');
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining every worker');
    control?.close();
    void sup.stop(DRAIN_GRACE_MS).then(() => {
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

main().catch((err: unknown) => {
  logger.fatal({ err: { message: (err as Error).message } }, 'supervisor failed to start');
  process.exit(1);
});
