// `caracal upgrade --from <release> [--key PUB] [--yes] [--dry-run] [--json]`: move a running stack to a verified
// release with no maintenance window (SPEC §3, R-MIG-2). Everything that can refuse the release is checked before
// anything changes; the changing part is journaled step by step and completes when run again after an interruption.
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import * as prompts from '@clack/prompts';
import { checkAppliedAgainst, planMigrations, readApplied, runMigrations, type AppliedRow } from '@caracal/db';
import { CliError, UsageError } from '../errors.js';
import { acquireLock, type Lock } from '../home/lock.js';
import { adminDatabaseUrl, loadContext, type StackContext } from '../stack/context.js';
import { rolePasswords } from '../stack/derived.js';
import { readSupervisorState, runningSupervisor } from '../stack/supervisor-control.js';
import { upgradeControl } from '../upgrade/control.js';
import { Journal, readJournal, unfinishedRun } from '../upgrade/journal.js';
import { performUpgrade, UpgradeFailure, type PerformResult, type Side } from '../upgrade/perform.js';
import { thisHost } from '../upgrade/platform.js';
import { buildPlan, printPlan, stackView, type UpgradePlan } from '../upgrade/plan.js';
import { openRelease, type Release } from '../upgrade/release-source.js';
import { readRuntimeRecord, writeRuntimeRecord, type RuntimeRecord } from '../upgrade/runtime-state.js';
import { existingStage, stagedRoot, stageRelease } from '../upgrade/stage.js';
import { compareVersions } from '../upgrade/versions.js';
import { installRoot } from '../version.js';
import { connectAdmin } from './migrate.js';
import type { Io } from './io.js';

export const UPGRADE_EXIT_HELP = `
Exit codes:
  0  upgraded, already at that version, or (--dry-run) the plan was printed
  1  refused (unverified release, other platform, downgrade, migrations disagree, lock held, ...) with nothing
     changed; or failed and rolled back; or interrupted (run \`caracal upgrade\` again to complete it)
  2  usage error (unknown flag, missing --from, --yes needed off a terminal)`;

export interface UpgradeOptions {
  from?: string;
  key?: string;
  yes?: boolean;
  dryRun?: boolean;
  json?: boolean;
  readyTimeout?: number;
}

export interface UpgradeReport {
  ok: boolean;
  outcome: 'upgraded' | 'already-current' | 'planned' | 'failed' | 'interrupted';
  from: string;
  to: string;
  release: string;
  root: string | null;
  resumed: boolean;
  plan: UpgradePlan | null;
  migrations: { expand: string[]; contract: string[] };
  services: PerformResult['services'];
  elapsedMs: number;
  error?: string;
}

const DEFAULT_READY_TIMEOUT_S = 60;

function takeLock(path: string): Lock {
  try {
    return acquireLock(path, 'upgrade');
  } catch (e) {
    if (e instanceof CliError) throw new CliError(`${path}: ${e.message}; nothing was changed`, e.exitCode, e.hint);
    throw e;
  }
}

async function appliedRows(ctx: StackContext): Promise<AppliedRow[]> {
  const client = await connectAdmin(adminDatabaseUrl(ctx));
  try {
    return await readApplied(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function runUpgrade(opts: UpgradeOptions, io: Io, interrupted: () => boolean = () => false): Promise<UpgradeReport> {
  const started = Date.now();
  if (!opts.dryRun && !opts.yes && !io.out.interactive) throw new UsageError('add --yes to upgrade without a prompt (or --dry-run to see the plan)');
  const ctx = loadContext(io.env);
  const lock = takeLock(ctx.home.lockFile);
  try {
    const runtime = readRuntimeRecord(ctx.home.runtimeJson);
    const pending = unfinishedRun(readJournal(ctx.home.upgradeLog));
    const source = opts.from ?? pending?.source;
    if (!source) throw new UsageError('--from is required: name the release directory or its caracal-<version>.tar.gz');
    if (!opts.from) io.out.info(`resuming the unfinished upgrade to ${pending!.version} (last step ${pending!.lastStep}: ${pending!.lastOutcome}) from ${source}`);
    if (!opts.dryRun && !runningSupervisor(ctx.home)) throw new CliError('the stack is not running (no supervisor); nothing was changed', 1, 'an upgrade rolls a running stack: start it with `caracal up`');
    const release = await io.out.step('verify release', () => openRelease(source, opts.key, thisHost(), io));
    try {
      return await upgradeLocked(ctx, runtime, release, { ...opts, from: source }, io, interrupted, pending, started);
    } finally {
      release.remove();
    }
  } finally {
    lock.release();
  }
}

async function upgradeLocked(
  ctx: StackContext,
  runtime: RuntimeRecord,
  release: Release,
  opts: UpgradeOptions & { from: string },
  io: Io,
  interrupted: () => boolean,
  pending: ReturnType<typeof unfinishedRun>,
  started: number,
): Promise<UpgradeReport> {
  const to = release.version;
  const report = (outcome: UpgradeReport['outcome'], extra: Partial<UpgradeReport> = {}): UpgradeReport => ({
    ok: outcome !== 'failed' && outcome !== 'interrupted',
    outcome,
    from: runtime.version,
    to,
    release: resolve(opts.from),
    root: null,
    resumed: pending !== undefined,
    plan: null,
    migrations: { expand: [], contract: [] },
    services: [],
    elapsedMs: Date.now() - started,
    ...extra,
  });
  if (pending && pending.version !== to) {
    throw new CliError(`an upgrade to ${pending.version} is unfinished (${ctx.home.upgradeLog}, last step ${pending.lastStep}); release ${to} is refused until it completes; nothing was changed`, 1, 'run `caracal upgrade` without --from to complete it');
  }
  const order = compareVersions(to, runtime.version);
  if (order < 0) throw new CliError(`release ${to} is older than the running ${runtime.version} (${ctx.home.runtimeJson}): downgrades are refused; nothing was changed`);
  if (order === 0) return report('already-current', { root: runtime.root ?? null });
  if (interrupted()) throw new CliError('interrupted before any change; nothing was changed');

  const applied = await appliedRows(ctx);
  const disagreement = checkAppliedAgainst(release.migrationManifest, release.migrations, applied)[0];
  if (disagreement) {
    throw new CliError(`release ${to} disagrees with the migrations applied to the database: ${disagreement.file} ${disagreement.problem} (caracal-${to}/infra/postgres/migrations/manifest.json); nothing was changed`, 1, `release ${to} does not continue the schema history this database has`);
  }
  const stack = stackView(readSupervisorState(ctx.home));
  const plan = buildPlan({
    running: runtime.version,
    to,
    release: resolve(opts.from),
    stage: { root: stagedRoot(ctx.home.root, to), reuse: existingStage(ctx.home.root, release) !== undefined },
    migrations: planMigrations(release.migrations, applied),
    stack,
    resume: pending,
  });
  if (opts.dryRun) return report('planned', { plan });
  if (!opts.yes) await confirm(`Upgrade the running stack from ${runtime.version} to ${to}?`);

  // The old version's root: as an interrupted run recorded it, or as an earlier upgrade recorded it in runtime.json,
  // or where the supervisor says it started it, or this CLI's own.
  const from: Side = {
    version: runtime.version,
    root: pending?.fromRoot ?? runtime.root ?? (stack?.version === runtime.version ? stack.root : undefined) ?? installRoot(io.env),
  };
  const journal = new Journal(ctx.home.upgradeLog, pending?.run ?? newRunId(), { version: to, from: runtime.version, source: resolve(opts.from) }, io.out.warn);
  journal.write('verified', 'ok', { archiveSha256: release.archiveSha256, fromRoot: from.root });
  let root: string;
  try {
    const staged = await io.out.step(`stage ${to}`, () => stageRelease(ctx.home.root, release));
    journal.write('staged', staged.reused ? 'reused' : 'ok', { root: staged.root });
    root = staged.root;
  } catch (e) {
    journal.write('failed', 'failed', { error: (e as Error).message, ...(pending ? {} : { stackOn: runtime.version }) });
    throw e;
  }
  try {
    const result = await performUpgrade(from, { version: to, root }, {
      control: upgradeControl(ctx.home),
      migrate: (allowContract) =>
        runMigrations({ adminUrl: adminDatabaseUrl(ctx), files: release.migrations, rolePrefix: ctx.settings.CARACAL_DB_ROLE_PREFIX, rolePasswords: rolePasswords(ctx), allowContract }),
      journal,
      writeRuntime: (side) => writeRuntimeRecord(ctx.home.runtimeJson, side.version, side.root),
      interrupted,
      out: io.out,
      readyTimeoutMs: (opts.readyTimeout ?? DEFAULT_READY_TIMEOUT_S) * 1000,
      resumed: pending !== undefined,
    });
    return report('upgraded', { root, plan, migrations: { expand: result.expand, contract: result.contract }, services: result.services });
  } catch (e) {
    if (e instanceof UpgradeFailure && opts.json) {
      io.out.json(report(e.interrupted ? 'interrupted' : 'failed', { root, plan, migrations: { expand: e.result.expand, contract: e.result.contract }, services: e.result.services, error: e.message }));
    }
    throw e;
  }
}

const newRunId = () => `${new Date().toISOString().replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}`;

async function confirm(message: string): Promise<void> {
  const answer = await prompts.confirm({ message });
  if (prompts.isCancel(answer) || answer !== true) throw new CliError('not confirmed; nothing was changed');
}

export function printUpgrade(r: UpgradeReport, io: Io, json: boolean | undefined): void {
  if (json) return io.out.json(r);
  if (r.outcome === 'already-current') return io.out.data(`already at ${r.to}`);
  if (r.outcome === 'planned' && r.plan) return printPlan(r.plan, io.out);
  io.out.data(`upgraded ${r.from} -> ${r.to} in ${(r.elapsedMs / 1000).toFixed(1)} s (${r.root})`);
  for (const s of r.services) io.out.data(`${s.service.padEnd(12)} ${s.outcome}${s.ms !== undefined ? ` (${(s.ms / 1000).toFixed(1)} s)` : ''}`);
  if (r.migrations.expand.length > 0) io.out.data(`expand      ${r.migrations.expand.join(', ')}`);
  if (r.migrations.contract.length > 0) io.out.data(`contract    ${r.migrations.contract.join(', ')}`);
}

/** Runs `fn` with SIGINT/SIGTERM turned into a flag: the step in flight finishes, then the upgrade stops. */
export async function withInterrupts<T>(io: Io, fn: (interrupted: () => boolean) => Promise<T>): Promise<T> {
  let flagged = false;
  const onSignal = (signal: string) => {
    if (!flagged) io.out.info(`${signal}: finishing the step in flight, then stopping; \`caracal upgrade\` completes the upgrade later`);
    flagged = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await fn(() => flagged);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
