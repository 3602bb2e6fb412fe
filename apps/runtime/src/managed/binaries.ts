// Finds the Postgres and Redis binaries the managed runtime needs, and says how to install them when missing.
import { accessSync, constants, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface PostgresBinaries {
  bindir: string;
  initdb: string;
  pgCtl: string;
}

export function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function which(cmd: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(':')) {
    if (dir && executable(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

function fromBindir(bindir: string): PostgresBinaries | undefined {
  const initdb = join(bindir, 'initdb');
  const pgCtl = join(bindir, 'pg_ctl');
  return executable(initdb) && executable(pgCtl) && executable(join(bindir, 'postgres')) ? { bindir, initdb, pgCtl } : undefined;
}

export function findPostgres(env: NodeJS.ProcessEnv, debianRoot = '/usr/lib/postgresql'): PostgresBinaries | undefined {
  // An explicit directory is authoritative: if it is wrong we say so rather than guess elsewhere.
  if (env.CARACAL_PG_BINDIR) return fromBindir(env.CARACAL_PG_BINDIR);
  const initdb = which('initdb', env);
  if (initdb) {
    const found = fromBindir(join(initdb, '..'));
    if (found) return found;
  }
  let versions: string[] = [];
  try {
    versions = readdirSync(debianRoot).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  } catch {
    return undefined;
  }
  for (const v of versions) {
    const found = fromBindir(join(debianRoot, v, 'bin'));
    if (found) return found;
  }
  return undefined;
}

export function findRedisServer(env: NodeJS.ProcessEnv): string | undefined {
  if (env.CARACAL_REDIS_SERVER) return executable(env.CARACAL_REDIS_SERVER) ? env.CARACAL_REDIS_SERVER : undefined;
  return which('redis-server', env);
}

export const DEBIAN_PACKAGES = { postgres: 'postgresql', redis: 'redis-server' } as const;

export function installCommand(missing: ReadonlyArray<keyof typeof DEBIAN_PACKAGES>, asRoot: boolean): string {
  const pkgs = missing.map((m) => DEBIAN_PACKAGES[m]).join(' ');
  return `${asRoot ? '' : 'sudo '}apt-get install -y ${pkgs}`;
}
