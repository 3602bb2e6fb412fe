// What an upgrade would do, worked out without changing anything: versions, the staged root, migrations by phase
// and the services in the order they roll (what `--dry-run` prints).
import type { MigrationPlan } from '@caracal/db';
import type { Output } from '../output.js';
import { table } from '../output.js';
import type { UnfinishedRun } from './journal.js';
import { ROLL_ORDER } from './perform.js';

export interface UpgradePlan {
  from: string;
  to: string;
  release: string;
  stage: { root: string; reuse: boolean };
  migrations: { applied: number; expand: string[]; contract: string[] };
  supervisor: { from: string; to: string };
  services: Array<{ service: string; from: string; to: string; workers: number | null }>;
  resume: { run: string; lastStep: string } | null;
}

/** The supervisor as its state file describes it; every field optional, since older supervisors wrote less. */
export interface StackView {
  version?: string;
  root?: string;
  services: Record<string, { version?: string; workers?: number }>;
}

export function stackView(state: unknown): StackView | undefined {
  if (typeof state !== 'object' || state === null) return undefined;
  const s = state as { version?: unknown; root?: unknown; services?: Record<string, { version?: unknown; workers?: unknown; pid?: unknown }> };
  const services: StackView['services'] = {};
  for (const [name, v] of Object.entries(s.services ?? {})) {
    const workers = Array.isArray(v?.workers) ? v.workers.length : typeof v?.pid === 'number' ? 1 : undefined;
    services[name] = { ...(typeof v?.version === 'string' ? { version: v.version } : {}), ...(workers !== undefined ? { workers } : {}) };
  }
  return { ...(typeof s.version === 'string' ? { version: s.version } : {}), ...(typeof s.root === 'string' ? { root: s.root } : {}), services };
}

export interface PlanInput {
  running: string;
  to: string;
  release: string;
  stage: { root: string; reuse: boolean };
  migrations: MigrationPlan;
  stack: StackView | undefined;
  resume: UnfinishedRun | undefined;
}

export function buildPlan(p: PlanInput): UpgradePlan {
  return {
    from: p.running,
    to: p.to,
    release: p.release,
    stage: p.stage,
    migrations: { applied: p.migrations.applied.length, expand: p.migrations.expand, contract: p.migrations.contract },
    supervisor: { from: p.stack?.version ?? p.running, to: p.to },
    services: ROLL_ORDER.map((service) => {
      const s = p.stack?.services[service];
      return { service, from: s?.version ?? p.running, to: p.to, workers: s?.workers ?? null };
    }),
    resume: p.resume ? { run: p.resume.run, lastStep: p.resume.lastStep } : null,
  };
}

export function printPlan(plan: UpgradePlan, out: Pick<Output, 'data'>): void {
  const none = (xs: string[]) => (xs.length > 0 ? xs.join(', ') : '(none)');
  out.data(`upgrade plan: caracal ${plan.from} -> ${plan.to}${plan.resume ? ` (resumes run ${plan.resume.run}, last step ${plan.resume.lastStep})` : ''}`);
  out.data(`release     ${plan.release} (verified)`);
  out.data(`stage       ${plan.stage.root}${plan.stage.reuse ? ' (already staged, reused)' : ''}`);
  out.data(`expand      ${none(plan.migrations.expand)}  (while ${plan.from} serves; ${plan.migrations.applied} already applied)`);
  out.data(`supervisor  ${plan.supervisor.from} -> ${plan.supervisor.to} (handed over, listening sockets kept open)`);
  out.data('roll, one service at a time:');
  out.data(table(['SERVICE', 'FROM', 'TO', 'WORKERS'], plan.services.map((s) => [s.service, s.from, s.to, s.workers === null ? '-' : String(s.workers)])));
  out.data(`contract    ${none(plan.migrations.contract)}  (after every service runs ${plan.to})`);
  out.data('dry run: nothing was changed');
}
