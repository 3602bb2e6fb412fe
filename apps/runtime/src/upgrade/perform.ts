// The changing part of an upgrade, once the release is verified and staged: expand migrations while the old
// version serves, hand the supervisor over to the new root, roll the services one at a time behind their readiness
// (consumers before producers), roll everything back when one fails, contract migrations once every service runs
// the new version, then record the new version. Each step is journaled; each is idempotent, so running the upgrade
// again after an interruption completes it.
import type { RunResult } from '@caracal/db';
import { CliError } from '../errors.js';
import type { Output } from '../output.js';
import type { ServiceView, SupervisorView, UpgradeControl } from './control.js';
import type { Journal } from './journal.js';

/** Audit first (it consumes what the others emit), then coordinator and api, then sts, then the gateway. */
export const ROLL_ORDER = ['audit', 'coordinator', 'api', 'sts', 'gateway'] as const;

export interface Side {
  version: string;
  root: string;
}

export interface PerformDeps {
  control: UpgradeControl;
  /** Runs the release's migrations: expand only, or with the contract step. */
  migrate: (allowContract: boolean) => Promise<RunResult>;
  journal: Journal;
  writeRuntime: (to: Side) => void;
  interrupted: () => boolean;
  out: Pick<Output, 'info' | 'step'>;
  readyTimeoutMs: number;
  /** Completing an interrupted run: services may already run the new version. */
  resumed?: boolean;
  now?: () => number;
}

export type ServiceOutcome = 'pending' | 'rolled' | 'unchanged' | 'failed' | 'rolledBack';

export interface PerformResult {
  services: Array<{ service: string; outcome: ServiceOutcome; ms?: number; error?: string }>;
  expand: string[];
  contract: string[];
}

/** A failed or interrupted upgrade: the message says where every service is; `result` is what got done. */
export class UpgradeFailure extends CliError {
  constructor(
    message: string,
    hint: string | undefined,
    readonly result: PerformResult,
    readonly interrupted = false,
  ) {
    super(message, 1, hint);
    this.name = 'UpgradeFailure';
  }
}

const RERUN = 'run `caracal upgrade` again to complete the upgrade';

export const isOn = (view: ServiceView | SupervisorView | undefined, side: Side): boolean =>
  view?.root !== undefined ? view.root === side.root : view?.version === side.version;

export async function performUpgrade(from: Side, to: Side, deps: PerformDeps): Promise<PerformResult> {
  const result: PerformResult = { services: ROLL_ORDER.map((service) => ({ service, outcome: 'pending' })), expand: [], contract: [] };
  try {
    return await steps(from, to, deps, result);
  } catch (e) {
    if (e instanceof UpgradeFailure) throw e;
    // Anything unforeseen (the supervisor unreachable, the database gone) still ends the run in the journal.
    const message = `${(e as Error).message}; ${await describeStack(deps.control, from, to)}`;
    deps.journal.write('failed', 'failed', { error: message });
    throw new UpgradeFailure(message, RERUN, result);
  }
}

async function steps(from: Side, to: Side, deps: PerformDeps, result: PerformResult): Promise<PerformResult> {
  const now = deps.now ?? Date.now;
  const { journal, control } = deps;
  const entry = (service: string) => result.services.find((s) => s.service === service)!;
  const fail = (message: string, hint: string | undefined, stackOn?: string) => {
    journal.write('failed', 'failed', { error: message, ...(stackOn ? { stackOn } : {}) });
    return new UpgradeFailure(message, hint, result);
  };
  const checkpoint = async (after: string) => {
    if (!deps.interrupted()) return;
    const where = await describeStack(control, from, to);
    journal.write('failed', 'interrupted', { after, stack: where });
    throw new UpgradeFailure(`interrupted after ${after}: ${where}`, RERUN, result, true);
  };

  let started = now();
  try {
    const r = await deps.out.step('expand migrations', () => deps.migrate(false));
    result.expand = r.applied;
    journal.write('migrated', 'ok', { applied: r.applied, pendingContract: r.pendingContract, ms: now() - started });
  } catch (e) {
    const message = (e as Error).message;
    journal.write('migrated', 'failed', { error: message, ms: now() - started });
    if (deps.resumed) throw fail(`${message}; ${await describeStack(control, from, to)}`, RERUN);
    throw fail(`${message}; every service still runs ${from.version}, nothing else was changed`, 'fix the migration in a new release', from.version);
  }
  await checkpoint('migrated');

  started = now();
  const before = await control.status();
  if (isOn(before, to)) journal.write('supervisor', 'unchanged', { root: to.root });
  else {
    try {
      const { pid } = await deps.out.step(`hand the supervisor over to ${to.version}`, () => control.handover(to.root, to.version));
      journal.write('supervisor', 'ok', { pid, root: to.root, ms: now() - started });
    } catch (e) {
      journal.write('supervisor', 'failed', { error: (e as Error).message });
      throw fail(`the supervisor could not move to ${to.version}: ${(e as Error).message}; ${await describeStack(control, from, to)}`, RERUN);
    }
  }
  await checkpoint('supervisor');

  for (const service of ROLL_ORDER) {
    started = now();
    let failure: string;
    try {
      const r = await deps.out.step(`roll ${service} to ${to.version}`, () => control.roll(service, to.root, to.version, deps.readyTimeoutMs));
      if (r.ok) {
        const ms = r.ms ?? now() - started;
        Object.assign(entry(service), { outcome: r.unchanged ? 'unchanged' : 'rolled', ms });
        journal.write(`rolled:${service}`, r.unchanged ? 'unchanged' : 'ok', { ms, root: to.root });
        await checkpoint(`rolled:${service}`);
        continue;
      }
      failure = `${service} did not become ready on ${to.version} within ${deps.readyTimeoutMs / 1000} s (${r.error}${r.detail ? `: ${r.detail}` : ''})`;
    } catch (e) {
      if (e instanceof UpgradeFailure) throw e;
      failure = `rolling ${service} to ${to.version} failed: ${(e as Error).message}`;
    }
    Object.assign(entry(service), { outcome: 'failed', error: failure });
    // The supervisor stopped the new workers and kept the old ones serving.
    journal.write(`rolledBack:${service}`, 'ok', { error: failure, ms: now() - started });
    const { back, stuck } = await rollBack(from, to, deps, result);
    if (stuck.length > 0) throw fail(`${failure}; rolling back failed for ${stuck.join(', ')}: ${await describeStack(control, from, to)}`, RERUN);
    throw fail(`${failure}; ${back.length > 0 ? `rolled back ${back.join(', ')}` : 'nothing needed rolling back'}: every service runs ${from.version}`, `see \`caracal logs ${service}\``, from.version);
  }

  const after = await control.status();
  const behind = ROLL_ORDER.filter((s) => !isOn(after.services[s], to));
  if (behind.length > 0) throw fail(`after rolling, ${behind.join(', ')} ${behind.length === 1 ? 'does' : 'do'} not run ${to.version}; contract migrations were not applied`, RERUN);

  started = now();
  try {
    const r = await deps.out.step('contract migrations', () => deps.migrate(true));
    result.contract = r.applied;
    journal.write('contracted', 'ok', { applied: r.applied, ms: now() - started });
  } catch (e) {
    journal.write('contracted', 'failed', { error: (e as Error).message });
    throw fail(`${(e as Error).message}; every service runs ${to.version}, the contract step is not complete`, 'run `caracal upgrade` again to retry the contract step');
  }
  await checkpoint('contracted');
  deps.writeRuntime(to);
  journal.write('done', 'ok', { root: to.root });
  return result;
}

/** Every service on the new root goes back to the old one (last rolled first), then the supervisor does. */
async function rollBack(from: Side, to: Side, deps: PerformDeps, result: PerformResult): Promise<{ back: string[]; stuck: string[] }> {
  const { control, journal } = deps;
  const state = await control.status().catch(() => undefined);
  const back: string[] = [];
  const stuck: string[] = [];
  for (const service of [...ROLL_ORDER].reverse()) {
    if (state && !isOn(state.services[service], to)) continue;
    try {
      const r = await deps.out.step(`roll ${service} back to ${from.version}`, () => control.roll(service, from.root, from.version, deps.readyTimeoutMs));
      journal.write(`rolledBack:${service}`, r.ok ? 'ok' : 'failed', r.ok ? { root: from.root } : { error: r.error, detail: r.detail });
      if (!r.ok) stuck.push(service);
      else if (!r.unchanged) {
        result.services.find((s) => s.service === service)!.outcome = 'rolledBack';
        back.push(service);
      }
    } catch (e) {
      journal.write(`rolledBack:${service}`, 'failed', { error: (e as Error).message });
      stuck.push(service);
    }
  }
  if (!state || isOn(state, to)) {
    try {
      const { pid } = await deps.out.step(`hand the supervisor back to ${from.version}`, () => control.handover(from.root, from.version));
      journal.write('rolledBack:supervisor', 'ok', { pid, root: from.root });
      back.push('the supervisor');
    } catch (e) {
      journal.write('rolledBack:supervisor', 'failed', { error: (e as Error).message });
      stuck.push('the supervisor');
    }
  }
  return { back, stuck };
}

/** "audit, coordinator on 0.2.0; api, sts, gateway on 0.1.0; supervisor on 0.2.0", from the supervisor's state. */
export async function describeStack(control: UpgradeControl, from: Side, to: Side): Promise<string> {
  let state: SupervisorView;
  try {
    state = await control.status();
  } catch (e) {
    return `the supervisor's state is unknown (${(e as Error).message})`;
  }
  const groups = new Map<string, string[]>();
  for (const s of ROLL_ORDER) {
    const v = isOn(state.services[s], to) ? to.version : isOn(state.services[s], from) ? from.version : (state.services[s]?.version ?? 'an unknown version');
    groups.set(v, [...(groups.get(v) ?? []), s]);
  }
  const sup = isOn(state, to) ? to.version : from.version;
  if (groups.size === 1) return `every service runs ${[...groups.keys()][0]}, the supervisor ${sup}`;
  return `${[...groups].map(([v, ss]) => `${ss.join(', ')} on ${v}`).join('; ')}; the supervisor on ${sup}`;
}
