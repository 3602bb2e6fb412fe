// Where the operator home lives and what it holds (R-HOME-1).
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function resolveHome(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): string {
  if (env.CARACAL_HOME) return resolve(env.CARACAL_HOME);
  if (env.XDG_DATA_HOME) return resolve(env.XDG_DATA_HOME, 'caracal');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'caracal');
  return join(homedir(), '.local', 'share', 'caracal');
}

export interface HomeLayout {
  root: string;
  envFile: string;
  secretsDir: string;
  runtimeJson: string;
  lockFile: string;
  upgradeLog: string;
  logsDir: string;
  dataDir: string;
  /** Per-service spill directories for audit events while Redis is unavailable (R-AUD-1): `spool/<service>`. */
  spoolDir: string;
  controlDir: string;
  supervisorState: string;
  redisDir: string;
  /** Managed Postgres data; outside the home when running as root (it must belong to an unprivileged user). */
  postgresBase: string;
  postgresData: string;
  postgresLog: string;
}

export function layout(root: string, isRoot: boolean): HomeLayout {
  const dataDir = join(root, 'data');
  const id = createHash('sha256').update(root).digest('hex').slice(0, 12);
  const postgresBase = isRoot ? join('/var/lib/caracal', id) : join(dataDir, 'postgres');
  return {
    root,
    envFile: join(root, 'caracal.env'),
    secretsDir: join(root, 'secrets'),
    runtimeJson: join(root, 'runtime.json'),
    lockFile: join(root, '.lock'),
    upgradeLog: join(root, 'upgrade.log'),
    logsDir: join(root, 'logs'),
    dataDir,
    spoolDir: join(root, 'spool'),
    controlDir: join(root, 'control'),
    supervisorState: join(dataDir, 'supervisor.json'),
    redisDir: join(dataDir, 'redis'),
    postgresBase,
    postgresData: join(postgresBase, 'pgdata'),
    postgresLog: join(postgresBase, 'postgres.log'),
  };
}
