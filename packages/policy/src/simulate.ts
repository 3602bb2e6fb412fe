// A dry run of a decision (for `caracal policy simulate`): the built-in contract and the given policy sets on one
// decision input, without minting anything. Every set is evaluated even when the contract denies, so an operator
// sees what each would answer; the decision is the STS's: the contract's allow AND every set's complete allow.
import { DEFAULT_POLICY_MEMORY, type PolicyMemory } from './engine.js';
import { evaluateContract, type DecisionInput, type DecisionResult } from './contract.js';
import { combineVerdicts, evaluateSet } from './evaluate.js';
import { timeFacts } from './input.js';
import { loadSetModule, openSetBundle, unusable } from './set-bundle.js';
import { errorVerdict, type SetVerdict } from './verdict.js';

export interface SimulatedSet {
  name: string;
  version: number;
  bundle: Uint8Array;
  sha256: string;
  entrypoint: string;
}

export interface SimulateOptions {
  /** The instant put in `context.time` when the input has none. */
  now?: Date;
  memory?: PolicyMemory;
  budgetMs?: number;
}

export interface Simulation {
  decision: 'allow' | 'deny';
  reason: string;
  evaluation_status: 'complete' | 'error';
  determining_policies: string[];
  diagnostics: string[];
  step_up: string[];
  contract: DecisionResult;
  sets: SetVerdict[];
}

export class SimulationInputError extends Error {
  override readonly name = 'SimulationInputError';
}

const isStrings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** The fields the contract reads must be there with their types; the rest goes to the sets as given. */
function checkInput(input: unknown): asserts input is DecisionInput {
  const i = input as Partial<DecisionInput> | null;
  const fail = (what: string) => {
    throw new SimulationInputError(`the decision input needs ${what}`);
  };
  if (typeof i !== 'object' || i === null || Array.isArray(i)) fail('to be a JSON object');
  if (typeof i!.principal !== 'object' || i!.principal === null || typeof i!.principal.id !== 'string') fail('principal.id (a string)');
  if (!isStrings(i!.principal!.labels ?? [])) fail('principal.labels to be an array of strings');
  if (typeof i!.action?.id !== 'string') fail('action.id (bootstrap, mint or gateway_use)');
  if (!isStrings(i!.context?.requested_scopes)) fail('context.requested_scopes (an array of strings)');
  if (i!.resource != null && !isStrings(i!.resource.scopes)) fail('resource.scopes (an array of strings) when resource is given');
  if (i!.delegation_edge != null && !isStrings(i!.delegation_edge.scopes)) fail('delegation_edge.scopes (an array of strings) when an edge is given');
}

export async function simulate(input: unknown, sets: readonly SimulatedSet[], opts: SimulateOptions = {}): Promise<Simulation> {
  checkInput(input);
  const given = input as DecisionInput & { context: { time?: unknown } };
  const facts = { ...given, principal: { ...given.principal, labels: given.principal.labels ?? [] }, context: { ...given.context, time: given.context.time ?? timeFacts(opts.now ?? new Date()) } };
  const contract = evaluateContract(facts);
  const verdicts: SetVerdict[] = [];
  for (const s of sets) {
    const name = `${s.name}@v${s.version}`;
    const bundle = openSetBundle(s.sha256, s.bundle);
    const why = unusable(bundle, s.entrypoint);
    if (why) {
      verdicts.push(errorVerdict(name, why));
      continue;
    }
    try {
      const module = await loadSetModule(bundle, opts.memory ?? DEFAULT_POLICY_MEMORY);
      verdicts.push(evaluateSet(name, module, s.entrypoint, facts, opts.budgetMs ?? 25).verdict);
    } catch (e) {
      verdicts.push(errorVerdict(name, e instanceof Error ? e.message : String(e)));
    }
  }
  const policy = combineVerdicts(verdicts);
  const step_up = policy.stepUp;
  if (contract.decision !== 'allow' || contract.evaluation_status !== 'complete') {
    return { decision: 'deny', reason: contract.reason, evaluation_status: contract.evaluation_status === 'complete' ? 'complete' : 'error', determining_policies: contract.determining_policies, diagnostics: [...contract.diagnostics, ...policy.diagnostics], step_up, contract, sets: verdicts };
  }
  if (!policy.allow) {
    return { decision: 'deny', reason: policy.reason!, evaluation_status: policy.reason === 'policy_error' ? 'error' : 'complete', determining_policies: policy.determining_policies, diagnostics: policy.diagnostics, step_up, contract, sets: verdicts };
  }
  return { decision: 'allow', reason: contract.reason, evaluation_status: 'complete', determining_policies: [...contract.determining_policies, ...policy.determining_policies], diagnostics: policy.diagnostics, step_up, contract, sets: verdicts };
}
