// `caracal doctor`: a preflight report (Node, Postgres/Redis binaries or URLs, ports, Docker, file modes).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { findPostgres, findRedisServer, installCommand, which } from '../managed/binaries.js';
import { portFree } from '../managed/ports.js';
import { isRoot, runProcess, type Runner } from '../managed/run.js';
import { table } from '../output.js';
import { loadSettings, type StackSettings } from '../home/settings.js';
import { homeLayout, isInitialised, services } from '../stack/context.js';
import { runningSupervisor } from '../stack/supervisor-control.js';
import type { Io } from './io.js';

export type Level = 'ok' | 'warn' | 'fail';
export interface DoctorCheck {
  check: string;
  level: Level;
  detail: string;
}

export function nodeVersionOk(version: string): boolean {
  const [maj = 0, min = 0] = version.replace(/^v/, '').split('.').map(Number);
  return maj > 20 || (maj === 20 && min >= 19);
}

function modeOf(path: string): number | undefined {
  try {
    return statSync(path).mode & 0o777;
  } catch {
    return undefined;
  }
}

function fileModes(io: Io): DoctorCheck[] {
  const home = homeLayout(io.env);
  const out: DoctorCheck[] = [];
  const envMode = modeOf(home.envFile);
  if (envMode !== undefined) out.push({ check: 'caracal.env mode', level: envMode === 0o600 ? 'ok' : 'fail', detail: `${envMode.toString(8)} (expected 600)` });
  const dirMode = modeOf(home.secretsDir);
  if (dirMode !== undefined) {
    out.push({ check: 'secrets/ mode', level: dirMode === 0o700 ? 'ok' : 'fail', detail: `${dirMode.toString(8)} (expected 700)` });
    const bad = readdirSync(home.secretsDir).filter((f) => {
      const m = modeOf(join(home.secretsDir, f));
      return m === undefined || (m & 0o222) !== 0 || statSync(join(home.secretsDir, f)).size === 0;
    });
    out.push({ check: 'secret files', level: bad.length ? 'fail' : 'ok', detail: bad.length ? `writable or empty: ${bad.join(', ')}` : 'read-only, non-empty' });
  }
  return out;
}

export async function docker(run: Runner, env: NodeJS.ProcessEnv, needed: boolean): Promise<DoctorCheck> {
  const level: Level = needed ? 'fail' : 'warn';
  if (!which('docker', env)) return { check: 'docker', level, detail: 'docker CLI not installed (only needed for the compose runtime)' };
  const compose = await run('docker', ['compose', 'version']);
  if (compose.exitCode !== 0) return { check: 'docker', level, detail: 'docker compose plugin missing' };
  const info = await run('docker', ['info', '--format', '{{.ServerVersion}}']);
  if (info.exitCode !== 0) return { check: 'docker', level, detail: 'docker daemon unreachable' };
  return { check: 'docker', level: 'ok', detail: `engine ${info.stdout.trim()}` };
}

export async function runDoctor(io: Io, run: Runner = runProcess): Promise<DoctorCheck[]> {
  const home = homeLayout(io.env);
  const checks: DoctorCheck[] = [];
  checks.push({ check: 'node', level: nodeVersionOk(process.version) ? 'ok' : 'fail', detail: `${process.version} (needs >= 20.19)` });
  let settings: StackSettings | undefined;
  if (isInitialised(home)) {
    try {
      settings = loadSettings(home.envFile);
    } catch (err) {
      checks.push({ check: 'caracal.env', level: 'fail', detail: (err as Error).message.split('\n').join(' ') });
    }
  } else checks.push({ check: 'home', level: 'warn', detail: `${home.root} not initialised (run caracal init)` });

  if ((settings?.CARACAL_DATABASE ?? 'managed') === 'managed') {
    const pgBin = findPostgres(io.env);
    checks.push(pgBin ? { check: 'postgres binaries', level: 'ok', detail: pgBin.bindir } : { check: 'postgres binaries', level: 'fail', detail: `missing; ${installCommand(['postgres'], isRoot())}` });
  } else checks.push({ check: 'postgres', level: 'ok', detail: 'external (checked by caracal up)' });
  if ((settings?.CARACAL_REDIS ?? 'managed') === 'managed') {
    const r = findRedisServer(io.env);
    checks.push(r ? { check: 'redis-server', level: 'ok', detail: r } : { check: 'redis-server', level: 'fail', detail: `missing; ${installCommand(['redis'], isRoot())}` });
  } else checks.push({ check: 'redis', level: 'ok', detail: 'external (checked by caracal up)' });

  if (settings) {
    const ours = existsSync(home.supervisorState) && runningSupervisor(home) !== undefined;
    for (const s of services) {
      const port = settings.ports[s];
      const free = await portFree(port, settings.CARACAL_BIND_HOST);
      checks.push({ check: `port ${port} (${s})`, level: free || ours ? 'ok' : 'fail', detail: free ? 'free' : ours ? 'in use by this stack' : 'in use by another process' });
    }
  }
  checks.push(await docker(run, io.env, settings?.CARACAL_RUNTIME === 'compose'));
  checks.push(...fileModes(io));
  return checks;
}

export function printDoctor(checks: DoctorCheck[], io: Io, json: boolean | undefined): void {
  if (json) return io.out.json({ ok: !checks.some((c) => c.level === 'fail'), checks });
  io.out.data(table(['CHECK', 'RESULT', 'DETAIL'], checks.map((c) => [c.check, c.level.toUpperCase(), c.detail])));
}
