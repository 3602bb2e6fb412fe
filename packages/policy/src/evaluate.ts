// Evaluating zone policy sets on a decision input (R-POL-1, R-POL-3), the same for the STS and a dry run: each set's
// module is run once, timed against a budget, and its answer read by `readResult`; the sets' verdicts combine into
// one decision, where every set must answer a complete allow.
import { PolicyEvaluationError, type PolicyModule } from './engine.js';
import { errorVerdict, readResult, type SetVerdict } from './verdict.js';

export interface PolicyDecision {
  allow: boolean;
  reason?: 'policy_denied' | 'policy_error';
  /** The sets that decided: the denying (or failing) ones on a deny, every set on an allow. */
  determining_policies: string[];
  /** Each set's reasons and diagnostics, prefixed with the set. */
  diagnostics: string[];
  /** Scopes the sets want an approver for (R-STS-5). */
  stepUp: string[];
}

export interface SetEvaluation {
  verdict: SetVerdict;
  /** The module raised an error (out of memory, an abort): its instance should be loaded again before its next use. */
  moduleFailed: boolean;
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Runs one set's entrypoint on `input`. A wasm call cannot be interrupted, so the budget is measured: an evaluation
 * that ran longer than `budgetMs` is an error verdict, as is any error the module raises.
 */
export function evaluateSet(set: string, module: PolicyModule, entrypoint: string, input: unknown, budgetMs: number): SetEvaluation {
  const started = performance.now();
  let results: { result: unknown }[];
  try {
    results = module.evaluate(input, entrypoint);
  } catch (e) {
    const why = e instanceof PolicyEvaluationError ? e.message : `policy evaluation failed: ${messageOf(e)}`;
    return { verdict: errorVerdict(set, why), moduleFailed: true };
  }
  const tookMs = performance.now() - started;
  if (tookMs > budgetMs) return { verdict: errorVerdict(set, `the evaluation took ${tookMs.toFixed(1)} ms, over the ${budgetMs} ms budget`), moduleFailed: false };
  return { verdict: readResult(set, results), moduleFailed: false };
}

/** No set, no objection: an empty list allows (the contract alone decides). */
export function combineVerdicts(verdicts: readonly SetVerdict[]): PolicyDecision {
  const diagnostics = verdicts.flatMap((v) => v.diagnostics.map((d) => `${v.set}: ${d}`));
  const failed = verdicts.filter((v) => v.status !== 'complete');
  const denied = verdicts.filter((v) => v.status === 'complete' && !v.allow);
  const stepUp = [...new Set(verdicts.flatMap((v) => v.stepUp))];
  if (failed.length > 0) return { allow: false, reason: 'policy_error', determining_policies: failed.map((v) => v.set), diagnostics, stepUp };
  if (denied.length > 0) return { allow: false, reason: 'policy_denied', determining_policies: denied.map((v) => v.set), diagnostics, stepUp };
  return { allow: true, determining_policies: verdicts.map((v) => v.set), diagnostics, stepUp };
}
