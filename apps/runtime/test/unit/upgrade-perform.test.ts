// The changing part of `caracal upgrade` against a supervisor double: order (expand, supervisor, services
// consumers-first, contract last), rollback of everything rolled when one service fails, the journal of each step,
// interruption between steps, and a second run completing an interrupted one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunResult } from '@caracal/db';
import type { RollReply, SupervisorView, UpgradeControl } from '../../src/upgrade/control.js';
import { Journal, readJournal, unfinishedRun } from '../../src/upgrade/journal.js';
import { performUpgrade, ROLL_ORDER, UpgradeFailure, type Side } from '../../src/upgrade/perform.js';

const A: Side = { version: '0.1.0', root: '/opt/caracal/0.1.0' };
const B: Side = { version: '0.2.0', root: '/home/op/.caracal/versions/0.2.0' };

/** Keeps a root per service and for itself, as the supervisor's state reports them. */
class FakeSupervisor implements UpgradeControl {
  root = A.root;
  services: Record<string, string> = Object.fromEntries(ROLL_ORDER.map((s) => [s, A.root]));
  calls: string[] = [];
  failRoll: { service: string; root: string; reply: RollReply } | undefined;
  throwOnRoll: string | undefined;
  onCall: ((call: string) => void) | undefined;

  private record(call: string) {
    this.calls.push(call);
    this.onCall?.(call);
  }

  status = async (): Promise<SupervisorView> => ({
    pid: 1,
    root: this.root,
    version: this.root === B.root ? B.version : A.version,
    services: Object.fromEntries(Object.entries(this.services).map(([s, root]) => [s, { root, version: root === B.root ? B.version : A.version }])),
  });

  roll = async (service: string, root: string): Promise<RollReply> => {
    this.record(`roll ${service} ${root === B.root ? 'B' : 'A'}`);
    if (this.throwOnRoll === service) throw new Error('connection reset');
    if (this.failRoll?.service === service && this.failRoll.root === root) return this.failRoll.reply;
    if (this.services[service] === root) return { ok: true, unchanged: true };
    this.services[service] = root;
    return { ok: true, ms: 5 };
  };

  handover = async (root: string) => {
    this.record(`handover ${root === B.root ? 'B' : 'A'}`);
    this.root = root;
    return { pid: 2 };
  };
}

let dir: string;
let log: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'caracal-perform-'));
  log = join(dir, 'upgrade.log');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function harness(sup: FakeSupervisor, o: { expandFails?: boolean; contractFails?: boolean; interruptAfter?: string } = {}) {
  const events: string[] = [];
  let interrupted = false;
  const runtime: Side[] = [];
  const migrate = async (allowContract: boolean): Promise<RunResult> => {
    events.push(allowContract ? 'contract' : 'expand');
    sup.calls.push(allowContract ? 'contract' : 'expand');
    if (!allowContract && o.expandFails) throw new Error('0013_add_zone_label.up.sql failed and was rolled back: boom');
    if (allowContract && o.contractFails) throw new Error('0014_drop_legacy.up.sql failed and was rolled back: locked');
    return { applied: allowContract ? ['0014_drop_legacy.up.sql'] : ['0013_add_zone_label.up.sql'], skipped: [], pendingContract: allowContract ? [] : ['0014_drop_legacy.up.sql'] };
  };
  sup.onCall = (call) => {
    if (o.interruptAfter && call === o.interruptAfter) interrupted = true;
  };
  const deps = {
    control: sup,
    migrate,
    journal: new Journal(log, 'run-1', { version: B.version, from: A.version, source: '/releases/0.2.0' }, () => undefined),
    writeRuntime: (to: Side) => void runtime.push(to),
    interrupted: () => interrupted,
    out: { info: () => undefined, step: <T>(_label: string, fn: () => Promise<T>) => fn() },
    readyTimeoutMs: 10_000,
  };
  return { deps, events, runtime };
}

const steps = () => readJournal(log).map((l) => `${l.step}:${l.outcome}`);

describe('performUpgrade', () => {
  it('expands, hands the supervisor over, rolls audit → gateway, contracts, then records the version', async () => {
    const sup = new FakeSupervisor();
    const h = harness(sup);
    const r = await performUpgrade(A, B, h.deps);
    expect(sup.calls).toEqual(['expand', 'handover B', 'roll audit B', 'roll coordinator B', 'roll api B', 'roll sts B', 'roll gateway B', 'contract']);
    expect(h.runtime).toEqual([B]);
    expect(r.services.map((s) => s.outcome)).toEqual(['rolled', 'rolled', 'rolled', 'rolled', 'rolled']);
    expect(r).toMatchObject({ expand: ['0013_add_zone_label.up.sql'], contract: ['0014_drop_legacy.up.sql'] });
    expect(steps()).toEqual(['migrated:ok', 'supervisor:ok', ...ROLL_ORDER.map((s) => `rolled:${s}:ok`), 'contracted:ok', 'done:ok']);
    const lines = readJournal(log);
    expect(lines.every((l) => l.version === '0.2.0' && l.from === '0.1.0' && l.run === 'run-1' && !Number.isNaN(Date.parse(l.at)))).toBe(true);
    expect(unfinishedRun(lines)).toBeUndefined();
  });

  it('a service that fails readiness: it stays on the old workers, the rolled ones and the supervisor go back, exit 1', async () => {
    const sup = new FakeSupervisor();
    sup.failRoll = { service: 'sts', root: B.root, reply: { ok: false, error: 'not_ready', detail: 'no ready message within 10000 ms' } };
    const h = harness(sup);
    const err = await performUpgrade(A, B, h.deps).catch((e) => e);
    expect(err).toBeInstanceOf(UpgradeFailure);
    expect(err.exitCode).toBe(1);
    expect(err.message).toBe(
      'sts did not become ready on 0.2.0 within 10 s (not_ready: no ready message within 10000 ms); rolled back api, coordinator, audit, the supervisor: every service runs 0.1.0',
    );
    expect(sup.calls.slice(2)).toEqual(['roll audit B', 'roll coordinator B', 'roll api B', 'roll sts B', 'roll api A', 'roll coordinator A', 'roll audit A', 'handover A']);
    expect(sup.root).toBe(A.root);
    expect(Object.values(sup.services).every((root) => root === A.root)).toBe(true);
    expect(h.events).toEqual(['expand']);
    expect(h.runtime).toEqual([]);
    expect(steps()).toEqual([
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
    expect(readJournal(log).at(-1)).toMatchObject({ stackOn: '0.1.0' });
    // Rolled back cleanly: nothing is left to complete.
    expect(unfinishedRun(readJournal(log))).toBeUndefined();
    expect(err.result.services.map((s: { outcome: string }) => s.outcome)).toEqual(['rolledBack', 'rolledBack', 'rolledBack', 'failed', 'pending']);
  });

  it('a roll whose reply is lost is rolled back from the supervisor state', async () => {
    const sup = new FakeSupervisor();
    sup.throwOnRoll = 'api';
    const err = await performUpgrade(A, B, harness(sup).deps).catch((e) => e);
    expect(err.message).toContain('rolling api to 0.2.0 failed: connection reset; rolled back coordinator, audit, the supervisor: every service runs 0.1.0');
    expect(sup.root).toBe(A.root);
  });

  it('a rollback that fails says where every service is and leaves the run to be completed', async () => {
    const sup = new FakeSupervisor();
    sup.failRoll = { service: 'api', root: B.root, reply: { ok: false, error: 'exited', detail: 'code 1' } };
    const h = harness(sup);
    // coordinator cannot go back either.
    const roll = sup.roll;
    sup.roll = async (service: string, root: string): Promise<RollReply> => (service === 'coordinator' && root === A.root ? { ok: false, error: 'not_ready' } : roll(service, root));
    const err = await performUpgrade(A, B, h.deps).catch((e) => e);
    expect(err.message).toContain('rolling back failed for coordinator: audit, api, sts, gateway on 0.1.0; coordinator on 0.2.0; the supervisor on 0.1.0');
    expect(unfinishedRun(readJournal(log))).toMatchObject({ version: '0.2.0', source: '/releases/0.2.0' });
  });

  it('a failing expand migration touches no service', async () => {
    const sup = new FakeSupervisor();
    const err = await performUpgrade(A, B, harness(sup, { expandFails: true }).deps).catch((e) => e);
    expect(err.message).toBe('0013_add_zone_label.up.sql failed and was rolled back: boom; every service still runs 0.1.0, nothing else was changed');
    expect(sup.calls).toEqual(['expand']);
    expect(steps()).toEqual(['migrated:failed', 'failed:failed']);
  });

  it('a failing contract step keeps the new version running and is retried by the next run', async () => {
    const sup = new FakeSupervisor();
    const err = await performUpgrade(A, B, harness(sup, { contractFails: true }).deps).catch((e) => e);
    expect(err.message).toContain('every service runs 0.2.0, the contract step is not complete');
    expect(Object.values(sup.services).every((root) => root === B.root)).toBe(true);
    sup.calls = [];
    const h = harness(sup);
    await performUpgrade(A, B, h.deps);
    expect(sup.calls).toEqual(['expand', 'roll audit B', 'roll coordinator B', 'roll api B', 'roll sts B', 'roll gateway B', 'contract']);
    expect(h.runtime).toEqual([B]);
  });

  it('interrupted mid-roll: the step in flight finishes, the journal says where each service is, a second run completes it', async () => {
    const sup = new FakeSupervisor();
    const first = harness(sup, { interruptAfter: 'roll api B' });
    const err = await performUpgrade(A, B, first.deps).catch((e) => e);
    expect(err).toBeInstanceOf(UpgradeFailure);
    expect(err.interrupted).toBe(true);
    expect(err.message).toBe('interrupted after rolled:api: audit, coordinator, api on 0.2.0; sts, gateway on 0.1.0; the supervisor on 0.2.0');
    expect(readJournal(log).at(-1)).toMatchObject({ step: 'failed', outcome: 'interrupted', after: 'rolled:api' });
    expect(first.runtime).toEqual([]);
    expect(unfinishedRun(readJournal(log))).toMatchObject({ run: 'run-1', version: '0.2.0', lastStep: 'failed', lastOutcome: 'interrupted' });

    sup.calls = [];
    const second = harness(sup);
    const r = await performUpgrade(A, B, second.deps);
    expect(sup.calls).toEqual(['expand', 'roll audit B', 'roll coordinator B', 'roll api B', 'roll sts B', 'roll gateway B', 'contract']);
    expect(r.services.map((s) => s.outcome)).toEqual(['unchanged', 'unchanged', 'unchanged', 'rolled', 'rolled']);
    expect(steps().slice(-9)).toEqual(['migrated:ok', 'supervisor:unchanged', 'rolled:audit:unchanged', 'rolled:coordinator:unchanged', 'rolled:api:unchanged', 'rolled:sts:ok', 'rolled:gateway:ok', 'contracted:ok', 'done:ok']);
    expect(second.runtime).toEqual([B]);
    expect(unfinishedRun(readJournal(log))).toBeUndefined();
  });

  it('interrupted during the expand step: it finishes and no service is touched', async () => {
    const sup = new FakeSupervisor();
    const h = harness(sup, { interruptAfter: 'expand' });
    sup.onCall = undefined;
    const migrate = h.deps.migrate;
    let flagged = false;
    const deps = { ...h.deps, migrate: async (c: boolean) => ((flagged = true), migrate(c)), interrupted: () => flagged };
    const err = await performUpgrade(A, B, deps).catch((e) => e);
    expect(err.message).toBe('interrupted after migrated: every service runs 0.1.0, the supervisor 0.1.0');
    expect(sup.calls).toEqual(['expand']);
  });

  it('the journal is written 0600', async () => {
    await performUpgrade(A, B, harness(new FakeSupervisor()).deps);
    const { statSync } = await import('node:fs');
    expect(statSync(log).mode & 0o777).toBe(0o600);
  });
});

describe('unfinishedRun', () => {
  const line = (run: string, step: string, outcome: string, extra: Record<string, unknown> = {}) => JSON.stringify({ at: '2026-01-01T00:00:00.000Z', run, step, outcome, version: '0.2.0', from: '0.1.0', source: '/r/0.2.0', ...extra });

  it('is the latest run unless it is done or ended with the stack back on the version it came from', async () => {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(log, [line('r1', 'verified', 'ok', { fromRoot: '/opt/a' }), line('r1', 'staged', 'ok'), line('r1', 'rolled:audit', 'ok'), line('r1', 'failed', 'interrupted')].join('\n'));
    expect(unfinishedRun(readJournal(log))).toEqual({ run: 'r1', version: '0.2.0', from: '0.1.0', source: '/r/0.2.0', fromRoot: '/opt/a', lastStep: 'failed', lastOutcome: 'interrupted' });
    writeFileSync(log, [line('r1', 'verified', 'ok'), line('r1', 'failed', 'failed', { stackOn: '0.1.0' })].join('\n'));
    expect(unfinishedRun(readJournal(log))).toBeUndefined();
    writeFileSync(log, [line('r1', 'rolled:api', 'ok'), line('r1', 'done', 'ok')].join('\n'));
    expect(unfinishedRun(readJournal(log))).toBeUndefined();
    // A killed writer can leave a torn last line: it is not a step.
    writeFileSync(log, `${line('r2', 'staged', 'ok')}\n{"at":"2026-01-01T00:00:01.000Z","run":"r2","st`);
    expect(unfinishedRun(readJournal(log))).toMatchObject({ run: 'r2', lastStep: 'staged' });
  });
});
