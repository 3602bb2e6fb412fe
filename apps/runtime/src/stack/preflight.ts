// Checks made before anything starts: binaries (installed when we can), secret file modes, free ports.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readSecretFile } from '@caracal/config';
import { CliError } from '../errors.js';
import { SECRET_SPECS } from '../home/secret-files.js';
import { findPostgres, findRedisServer, installCommand, which } from '../managed/binaries.js';
import { portFree } from '../managed/ports.js';
import { describeBusyPort } from './port-holders.js';
import { isRoot, runProcess, type Runner } from '../managed/run.js';
import { services, type StackContext } from './context.js';

export interface BinaryNeeds {
  postgres: boolean;
  redis: boolean;
}

export function missingBinaries(ctx: StackContext): Array<'postgres' | 'redis'> {
  const missing: Array<'postgres' | 'redis'> = [];
  if (ctx.settings.CARACAL_DATABASE === 'managed' && !findPostgres(ctx.env)) missing.push('postgres');
  if (ctx.settings.CARACAL_REDIS === 'managed' && !findRedisServer(ctx.env)) missing.push('redis');
  return missing;
}

async function canInstall(env: NodeJS.ProcessEnv, run: Runner): Promise<'root' | 'sudo' | undefined> {
  if (!which('apt-get', env)) return undefined;
  if (isRoot()) return 'root';
  if (!which('sudo', env)) return undefined;
  return (await run('sudo', ['-n', 'true'])).exitCode === 0 ? 'sudo' : undefined;
}

/** Installs missing Debian packages when this user may (root or password-less sudo); otherwise says how. */
export async function ensureBinaries(ctx: StackContext, allowInstall: boolean, log: (s: string) => void, run: Runner = runProcess): Promise<void> {
  const missing = missingBinaries(ctx);
  if (missing.length === 0) return;
  const names = missing.map((m) => (m === 'postgres' ? 'PostgreSQL server (initdb, pg_ctl)' : 'redis-server')).join(' and ');
  const how = allowInstall ? await canInstall(ctx.env, run) : undefined;
  if (!how) throw new CliError(`${names} not found`, 1, `install with: ${installCommand(missing, isRoot())}`);
  const pkgs = installCommand(missing, true).split(' ').slice(3);
  log(`installing ${pkgs.join(' ')} with apt-get`);
  const prefix = how === 'sudo' ? ['sudo', '-n'] : [];
  const env = { ...ctx.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['apt-get', 'update'], ['apt-get', 'install', '-y', '--no-install-recommends', ...pkgs]]) {
    const [cmd, ...rest] = [...prefix, ...args] as [string, ...string[]];
    const res = await run(cmd, rest, { env });
    if (res.exitCode !== 0) throw new CliError(`${args.join(' ')} failed: ${res.stderr.trim().split('\n').pop() ?? ''}`, 1, `install with: ${installCommand(missing, isRoot())}`);
  }
  const still = missingBinaries(ctx);
  if (still.length > 0) throw new CliError(`${still.join(' and ')} still not found after installing`, 1, 'set CARACAL_PG_BINDIR or CARACAL_REDIS_SERVER');
}

/** Secret files must exist, be non-empty and not be writable by others (R-SEC-2). */
export function checkSecretModes(ctx: StackContext): void {
  const problems: string[] = [];
  const dirMode = statSync(ctx.home.secretsDir).mode & 0o777;
  if ((dirMode & 0o077) !== 0) problems.push(`${ctx.home.secretsDir} has mode ${dirMode.toString(8)}; expected 700`);
  const names = new Set([...SECRET_SPECS.map((s) => s.name), ...readdirSync(ctx.home.secretsDir).filter((f) => !f.includes('.tmp-'))]);
  for (const name of names) {
    const res = readSecretFile(join(ctx.home.secretsDir, name));
    if (!res.ok) problems.push(res.problem);
  }
  if (problems.length > 0) throw new CliError(`secret files are unusable:\n${problems.map((p) => `  - ${p}`).join('\n')}`, 1, 'fix the modes (chmod 0444) or remove the file and run `caracal init`');
}

/** Every port this stack will listen on must be free before it starts; the first clash is named. */
export async function checkPorts(ctx: StackContext, includeServices: boolean): Promise<void> {
  const host = ctx.settings.CARACAL_BIND_HOST;
  const busy: string[] = [];
  if (includeServices) {
    for (const s of services) if (!(await portFree(ctx.settings.ports[s], host))) busy.push(describeBusyPort(ctx.settings.ports[s], s));
  }
  if (busy.length > 0) throw new CliError(busy.join('; '), 1, 'stop what listens there, or change the port in caracal.env');
}
