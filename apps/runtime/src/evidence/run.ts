// Runs the evidence checks one after another against one context (R-EVD-1): each gets its start and end time, a
// check that throws FAILs with what it threw (the pack still builds), and the audit-chains heads are kept.
import type { ChainHeads, CheckDefinition, CheckStatus, EvidenceContext, RawOutput } from './check.js';

export interface CheckResult {
  id: string;
  pillar: CheckDefinition['pillar'];
  title: string;
  what: string;
  controls: readonly string[];
  command: string;
  status: CheckStatus;
  reason: string;
  started_at: string;
  ended_at: string;
  raw: RawOutput[];
}

export interface RunResult {
  results: CheckResult[];
  /** The heads the audit-chains check read, or null when no check returned any. */
  heads: ChainHeads | null;
}

const CHECK_ID = /^[a-z0-9-]+$/;
const RAW_NAME = /^[a-z0-9][a-z0-9._-]*$/;

/** Why a check's raw outputs cannot be written as `raw/<id>/<name>`, or undefined. */
function rawProblem(raw: readonly RawOutput[]): string | undefined {
  const seen = new Set<string>();
  for (const r of raw) {
    if (!RAW_NAME.test(r.name) || r.name === 'checks.junit.xml') return `raw output name ${JSON.stringify(r.name)} is not a valid file name`;
    if (seen.has(r.name)) return `raw output name ${r.name} is used twice`;
    seen.add(r.name);
  }
  return undefined;
}

export async function runChecks(checks: readonly CheckDefinition[], ctx: EvidenceContext, progress: (r: CheckResult) => void = () => {}): Promise<RunResult> {
  const ids = new Set<string>();
  for (const c of checks) {
    if (!CHECK_ID.test(c.id) || ids.has(c.id)) throw new Error(`check id ${JSON.stringify(c.id)} is invalid or repeated`);
    ids.add(c.id);
  }
  const results: CheckResult[] = [];
  let heads: ChainHeads | null = null;
  for (const check of checks) {
    const started = ctx.now().toISOString();
    let outcome: Awaited<ReturnType<CheckDefinition['run']>>;
    try {
      outcome = await check.run(ctx);
    } catch (e) {
      outcome = { status: 'FAIL', reason: `the check could not complete: ${(e as Error)?.message ?? String(e)}`, raw: [] };
    }
    const problem = rawProblem(outcome.raw);
    if (problem) outcome = { status: 'FAIL', reason: `the check returned unusable evidence: ${problem}`, raw: [] };
    if (outcome.heads) heads = outcome.heads;
    const { id, pillar, title, what, controls, command } = check;
    const result: CheckResult = { id, pillar, title, what, controls, command, status: outcome.status, reason: outcome.reason, started_at: started, ended_at: ctx.now().toISOString(), raw: outcome.raw };
    results.push(result);
    progress(result);
  }
  return { results, heads };
}

/** The command's verdict: 1 when a check FAILs, else 0 (SKIPPED is not a failure; it always says why). */
export const exitOf = (results: readonly CheckResult[]) => (results.some((r) => r.status === 'FAIL') ? 1 : 0);
