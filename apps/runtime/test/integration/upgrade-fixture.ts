// Test helpers for `caracal upgrade`: release A built from this checkout, releases derived from it in seconds
// (B adds one expand migration its services use; C's sts never becomes ready; others broken on purpose), and a
// managed stack started from A's unpacked tree, whose processes a test can snapshot to prove they were untouched.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { Pool } from 'undici';
import { deriveRelease, labelMigration, readsLabel, type DeriveOptions } from '../../../../bench/lib/derive-release.mjs';
import { REPO } from '../../../../test-support/cli.js';
import { freePort } from '../../../../test-support/deps.js';
import { buildRelease, throwawayKey, type KeyPair } from './release-fixture.js';

export const SERVICES = ['api', 'coordinator', 'sts', 'gateway', 'audit'];

/** How many migrations A (this checkout) ships; derived releases number theirs after it. */
export const A_MIGRATIONS = readdirSync(join(REPO, 'infra', 'postgres', 'migrations')).filter((f) => /^\d{4}_.+\.up\.sql$/.test(f)).length;
/** The number a derived release's next migration takes. */
export const NEXT_MIGRATION = String(A_MIGRATIONS + 1).padStart(4, '0');
/** B's expand migration (after A's), which B's services use: their readiness reads the new column. */
export const LABEL_MIGRATION = labelMigration(A_MIGRATIONS + 1);
export { readsLabel };

/** C's sts loads and then waits forever: it never listens and never reports ready, and it does not exit. */
export function stsNeverReady(tree: string): void {
  // Both entries: an archive keeps no modification times, so which one `caracal up` starts is not for the test to pick.
  for (const file of ['main.js', 'service.mjs']) {
    const entry = join(tree, 'services', 'sts', 'dist', file);
    writeFileSync(entry, `setInterval(() => {}, 1 << 30);\nawait new Promise(() => {});\n${readFileSync(entry, 'utf8')}`);
  }
}

export interface Releases {
  key: KeyPair;
  dir: string;
  a: string;
  aVersion: string;
  derive: (version: string, o?: Omit<DeriveOptions, 'from' | 'outParent' | 'version' | 'key'>) => Promise<string>;
}

export async function buildReleases(dir: string): Promise<Releases> {
  const key = await throwawayKey(dir, 'key');
  const a = await buildRelease(join(dir, 'built'), key);
  const out = join(dir, 'derived');
  mkdirSync(out, { recursive: true });
  return {
    key,
    dir,
    a,
    aVersion: a.split('/').pop()!,
    derive: (version, o = {}) => deriveRelease({ from: a, outParent: out, version, key, ...o }),
  };
}

export interface CliRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A managed stack run by the CLI of release A's unpacked tree, as an installed A would run it. */
export class ManagedStack {
  readonly home: string;
  readonly ports: Record<string, number> = {};
  readonly cliPath: string;

  private constructor(
    readonly dir: string,
    readonly tree: string,
  ) {
    this.home = join(dir, 'home');
    this.cliPath = join(tree, 'apps', 'runtime', 'bin', 'caracal.js');
  }

  static async start(dir: string, release: string, version: string): Promise<ManagedStack> {
    const unpacked = join(dir, 'installed');
    mkdirSync(unpacked, { recursive: true });
    execFileSync('tar', ['-xzf', join(release, `caracal-${version}.tar.gz`), '-C', unpacked]);
    const stack = new ManagedStack(dir, join(unpacked, `caracal-${version}`));
    for (const n of [...SERVICES, 'pg', 'redis']) stack.ports[n] = await freePort();
    const init = await stack.cli(['init', '--yes', '--pg-port', String(stack.ports.pg), '--redis-port', String(stack.ports.redis), ...SERVICES.flatMap((s) => ['--port', `${s}=${stack.ports[s]}`])]);
    if (init.exitCode !== 0) throw new Error(`init failed: ${init.stderr}`);
    const up = await stack.cli(['up']);
    if (up.exitCode !== 0) throw new Error(`up failed: ${up.stderr}`);
    return stack;
  }

  get env(): Record<string, string> {
    return { PATH: process.env.PATH!, NO_COLOR: '1', CI: '1', CARACAL_HOME: this.home };
  }

  async cli(args: readonly string[], timeoutMs = 170_000): Promise<CliRun> {
    const r = await execa(process.execPath, [this.cliPath, ...args], { env: this.env, extendEnv: false, reject: false, stdin: 'ignore', timeout: timeoutMs });
    return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
  }

  /** The supervisor's state file as written now. */
  state(): Record<string, unknown> {
    return JSON.parse(readFileSync(join(this.home, 'data', 'supervisor.json'), 'utf8')) as Record<string, unknown>;
  }

  /** Every PID the state file names (the supervisor's and each worker's), whatever its shape. */
  pids(): number[] {
    return [...JSON.stringify(this.state()).matchAll(/"pid":(\d+)/g)].map((m) => Number(m[1])).sort((x, y) => x - y);
  }

  /** What a refused upgrade must leave exactly as it was. */
  snapshot() {
    return {
      pids: this.pids(),
      runtime: readFileSync(join(this.home, 'runtime.json'), 'utf8'),
      versions: existsSync(join(this.home, 'versions')) ? execFileSync('ls', ['-A', join(this.home, 'versions')], { encoding: 'utf8' }) : null,
    };
  }

  url(service: string): string {
    return `http://127.0.0.1:${this.ports[service]}`;
  }

  secret(name: string): string {
    return readFileSync(join(this.home, 'secrets', name), 'utf8');
  }

  /** A write through the api and a read back: the running version serves the schema it finds. */
  async createZone(slug: string): Promise<number> {
    const headers = { authorization: `Bearer ${this.secret('caracalAdminToken')}`, 'content-type': 'application/json' };
    const created = await fetch(`${this.url('api')}/v1/zones`, { method: 'POST', headers, body: JSON.stringify({ slug, name: slug }) });
    if (created.status !== 201) return created.status;
    const list = await fetch(`${this.url('api')}/v1/zones`, { headers });
    const body = (await list.json()) as { items?: Array<{ slug: string }> } | Array<{ slug: string }>;
    const items = Array.isArray(body) ? body : (body.items ?? []);
    return items.some((z) => z.slug === slug) ? 201 : 500;
  }

  async stop(): Promise<void> {
    await this.cli(['purge', 'all', '--yes']);
  }

  journal(): Array<Record<string, unknown>> {
    const file = join(this.home, 'upgrade.log');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

export interface TrafficReport {
  sent: number;
  /** Answers by status; `unexpected` lists the non-2xx ones as `<status> <method> <path>`. */
  statuses: Record<string, number>;
  unexpected: Record<string, number>;
  /** Requests that got no HTTP answer (reset, refused, closed early), with the first few reasons. */
  connectionErrors: number;
  firstErrors: string[];
}

export interface Request {
  origin: string;
  path: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
}

/**
 * `connections` loops, each on kept-alive connections, sending `next()` until stopped (pausing `pauseMs` between
 * requests, so the rate stays under the services' rate limits); every answer is counted.
 */
export function keepAliveTraffic(next: () => Request, connections = 4, pauseMs = 10): { stop: () => Promise<TrafficReport> } {
  const pools = new Map<string, Pool>();
  const pool = (origin: string) => pools.get(origin) ?? pools.set(origin, new Pool(origin, { connections, keepAliveTimeout: 60_000 })).get(origin)!;
  const report: TrafficReport = { sent: 0, statuses: {}, unexpected: {}, connectionErrors: 0, firstErrors: [] };
  let running = true;
  const loop = async () => {
    while (running) {
      const req = next();
      report.sent += 1;
      try {
        const res = await pool(req.origin).request({ method: req.method ?? 'GET', path: req.path, headers: req.headers, body: req.body });
        await res.body.text();
        report.statuses[res.statusCode] = (report.statuses[res.statusCode] ?? 0) + 1;
        const what = `${res.statusCode} ${req.method ?? 'GET'} ${req.path}`;
        if (res.statusCode > 299) report.unexpected[what] = (report.unexpected[what] ?? 0) + 1;
      } catch (e) {
        report.connectionErrors += 1;
        if (report.firstErrors.length < 5) report.firstErrors.push(`${req.method ?? 'GET'} ${req.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  };
  const loops = Array.from({ length: connections }, loop);
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      await Promise.all([...pools.values()].map((p) => p.close()));
      return report;
    },
  };
}
