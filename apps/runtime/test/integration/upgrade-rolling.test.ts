// `caracal upgrade` on a real managed stack started from release A, under kept-alive traffic: a release whose sts
// never becomes ready is rolled back (journal rolledBack:sts, exit 1, every service on A, nothing lost); the upgrade
// to B expands the schema while A serves (A keeps working on it), is interrupted with SIGINT, and a second run
// completes it with every service and the supervisor on B, contract step done and runtime.json rewritten.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './release-fixture.js';
import { buildReleases, keepAliveTraffic, LABEL_MIGRATION, ManagedStack, readsLabel, SERVICES, stsNeverReady, type Releases, type Request } from './upgrade-fixture.js';

interface ServiceState {
  version: string;
  root: string;
  workers: Array<{ pid: number | null; status: string }>;
}

describe('caracal upgrade rolls a running stack', () => {
  const tmp = tempDir('upgrade-rolling');
  let rel: Releases;
  let stack: ManagedStack;
  let b: string;
  let c: string;
  let client: { client_id: string; client_secret: string };

  const upgrade = (...args: string[]) => stack.cli(['upgrade', '--key', rel.key.publicFile, '--yes', ...args]);
  const services = () => (stack.state() as { services: Record<string, ServiceState> }).services;
  const supervisor = () => stack.state() as { version: string; root: string; pid: number };
  const lastRun = () => {
    const lines = stack.journal();
    return lines.filter((l) => l.run === lines.at(-1)!.run);
  };
  /** Mixed kept-alive traffic: token POSTs at the sts, health of the other four (the api's routes are rate-limited). */
  const traffic = () => {
    let n = 0;
    const kinds: Array<() => Request> = [
      () => ({ origin: stack.url('sts'), path: '/oauth/2/token', method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', ...client }).toString() }),
      () => ({ origin: stack.url('api'), path: '/health' }),
      () => ({ origin: stack.url('gateway'), path: '/health' }),
      () => ({ origin: stack.url('coordinator'), path: '/health' }),
      () => ({ origin: stack.url('audit'), path: '/health' }),
    ];
    return keepAliveTraffic(() => kinds[n++ % kinds.length]!());
  };

  beforeAll(async () => {
    rel = await buildReleases(tmp.dir);
    b = await rel.derive('0.2.0', { migrations: [LABEL_MIGRATION], patch: readsLabel });
    c = await rel.derive('0.3.0', { patch: stsNeverReady });
    stack = await ManagedStack.start(join(tmp.dir, 'stack'), rel.a, rel.aVersion);
    const zone = JSON.parse((await stack.cli(['zone', 'create', 'traffic', '--name', 'Traffic', '--json'])).stdout);
    expect(zone.slug).toBe('traffic');
    const app = JSON.parse((await stack.cli(['app', 'create', '--zone', 'traffic', '--name', 'traffic-agent', '--json'])).stdout);
    client = { client_id: app.client_id, client_secret: app.client_secret };
  });
  afterAll(async () => {
    await stack?.stop();
    tmp.remove();
  });

  it('a release whose sts never becomes ready is rolled back: journal rolledBack:sts, exit 1, every service on A, no request lost', async () => {
    const aRoot = supervisor().root;
    const load = traffic();
    const r = await upgrade('--from', c, '--ready-timeout', '8', '--json');
    const seen = await load.stop();
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toContain('sts did not become ready on 0.3.0 within 8 s');
    expect(r.stderr).toContain(`rolled back api, coordinator, audit, the supervisor: every service runs ${rel.aVersion}`);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, outcome: 'failed', from: rel.aVersion, to: '0.3.0' });
    expect(lastRun().map((l) => `${l.step}:${l.outcome}`)).toEqual([
      'verified:ok',
      'staged:ok',
      'migrated:ok',
      'supervisor:ok',
      'rolled:audit:ok',
      'rolled:coordinator:ok',
      'rolled:api:ok',
      'rolledBack:sts:ok',
      'rolledBack:api:ok',
      'rolledBack:coordinator:ok',
      'rolledBack:audit:ok',
      'rolledBack:supervisor:ok',
      'failed:failed',
    ]);
    for (const s of SERVICES) expect(services()[s], s).toMatchObject({ version: rel.aVersion, root: aRoot });
    expect(supervisor()).toMatchObject({ version: rel.aVersion, root: aRoot });
    expect(JSON.parse(readFileSync(join(stack.home, 'runtime.json'), 'utf8')).version).toBe(rel.aVersion);
    expect(seen.connectionErrors, seen.firstErrors.join('; ')).toBe(0);
    expect(seen.unexpected).toEqual({});
    expect(seen.sent).toBeGreaterThan(100);
    expect((await stack.cli(['status', '--ready'])).exitCode).toBe(0);
  });

  it('A → B: expand while A serves (A keeps working on the expanded schema), SIGINT stops it, a second run completes it', async () => {
    const aRoot = supervisor().root;
    const bRoot = join(stack.home, 'versions', '0.2.0');
    const child = spawn(process.execPath, [stack.cliPath, 'upgrade', '--from', b, '--key', rel.key.publicFile, '--yes'], { env: stack.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
    // Interrupt as soon as the expand step is journaled.
    for (let i = 0; i < 600 && !stack.journal().some((l) => l.version === '0.2.0' && l.step === 'migrated'); i++) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    expect(await exited).toBe(1);
    expect(stderr).toMatch(/interrupted after (migrated|supervisor)/);
    expect(lastRun().at(-1)).toMatchObject({ step: 'failed', outcome: 'interrupted', version: '0.2.0' });
    // Every service still runs A, on a schema that has B's column: A writes and reads through it.
    for (const s of SERVICES) expect(services()[s], s).toMatchObject({ version: rel.aVersion, root: aRoot });
    expect(await stack.createZone('written-by-a-after-expand')).toBe(201);
    expect((await stack.cli(['status', '--ready'])).exitCode).toBe(0);

    const load = traffic();
    const again = await upgrade('--json');
    const seen = await load.stop();
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).toContain('resuming the unfinished upgrade to 0.2.0');
    const report = JSON.parse(again.stdout);
    expect(report).toMatchObject({ ok: true, outcome: 'upgraded', from: rel.aVersion, to: '0.2.0', root: bRoot, resumed: true });
    expect(report.services.map((s: { service: string }) => s.service)).toEqual(['audit', 'coordinator', 'api', 'sts', 'gateway']);
    for (const s of SERVICES) {
      expect(services()[s], s).toMatchObject({ version: '0.2.0', root: bRoot });
      expect(services()[s]!.workers.every((w) => w.status === 'ready')).toBe(true);
    }
    expect(supervisor()).toMatchObject({ version: '0.2.0', root: bRoot });
    expect(JSON.parse(readFileSync(join(stack.home, 'runtime.json'), 'utf8'))).toMatchObject({ version: '0.2.0', root: bRoot });
    const steps = lastRun().map((l) => l.step);
    expect(steps.slice(-3)).toEqual(['rolled:gateway', 'contracted', 'done']);
    expect(steps.filter((s) => s === 'staged')).toHaveLength(2);
    expect(lastRun().find((l) => l.step === 'staged' && l.outcome === 'reused')).toBeDefined();
    expect(seen.connectionErrors, seen.firstErrors.join('; ')).toBe(0);
    expect(seen.unexpected).toEqual({});
    expect(await stack.createZone('written-by-b')).toBe(201);
  });

  it('once on B: the same release is a no-op and A is refused as a downgrade', async () => {
    const same = await upgrade('--from', b);
    expect(same.exitCode).toBe(0);
    expect(same.stdout.trim()).toBe('already at 0.2.0');
    const down = await upgrade('--from', rel.a);
    expect(down.exitCode).toBe(1);
    expect(down.stderr).toContain(`release ${rel.aVersion} is older than the running 0.2.0`);
  });
});
