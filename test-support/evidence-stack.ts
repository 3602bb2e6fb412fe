// A managed Caracal stack in a temporary CARACAL_HOME for the evidence-pack tests: `caracal init` on free ports,
// `caracal up`, the owner database URL and Redis URL read from its secrets, and `caracal purge all` at the end.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { caracal, tempHome, type CliResult } from './cli.js';
import { freePort } from './deps.js';

export const STACK_SERVICES = ['api', 'coordinator', 'sts', 'gateway', 'audit'] as const;

export interface EvidenceStack {
  /** CARACAL_HOME. */
  home: string;
  /** A scratch directory beside the home for packs and fixtures. */
  scratch: string;
  env: Record<string, string>;
  ports: Record<string, number>;
  /** The owner (migration) URL from secrets/databaseUrl. */
  databaseUrl: string;
  redisUrl: string;
  cli: (args: readonly string[], extraEnv?: Record<string, string>) => Promise<CliResult>;
  /** `caracal purge all --yes` and the temporary directory removed. */
  stop: () => Promise<void>;
}

export async function startEvidenceStack(label: string, settings: Record<string, string> = {}): Promise<EvidenceStack> {
  const tmp = tempHome(label);
  const home = join(tmp.dir, 'h');
  const env = { CARACAL_HOME: home, ...settings };
  const ports: Record<string, number> = {};
  for (const name of [...STACK_SERVICES, 'pg', 'redis']) ports[name] = await freePort();
  const cli = (args: readonly string[], extraEnv: Record<string, string> = {}) => caracal(args, { ...env, ...extraEnv });
  const must = async (args: string[]) => {
    const r = await cli(args);
    if (r.exitCode !== 0) throw new Error(`caracal ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  };
  try {
    await must(['init', '--yes', '--pg-port', String(ports.pg), '--redis-port', String(ports.redis), ...STACK_SERVICES.flatMap((s) => ['--port', `${s}=${ports[s]}`])]);
    await must(['up']);
  } catch (e) {
    await cli(['purge', 'all', '--yes']);
    tmp.remove();
    throw e;
  }
  const secret = (name: string) => readFileSync(join(home, 'secrets', name), 'utf8').trim();
  return {
    home,
    scratch: tmp.dir,
    env,
    ports,
    databaseUrl: secret('databaseUrl'),
    redisUrl: secret('redisUrl'),
    cli,
    stop: async () => {
      await cli(['purge', 'all', '--yes']);
      tmp.remove();
    },
  };
}
