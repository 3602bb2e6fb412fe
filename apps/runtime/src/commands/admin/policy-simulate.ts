// `caracal policy simulate --zone Z --input request.json [--set NAME@VERSION] [--json]` (R-POL-1, R-POL-3): a dry
// run of a decision through the admin API. The built-in contract and the zone's active policy sets (with --set, that
// version in place of its set's active one) evaluate one decision input; nothing is minted or changed. The exit code
// is the final decision: 0 allow, 1 deny.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { adminApi, apiPath } from '../../admin/client.js';
import type { ZoneOpt } from '../../admin/define.js';
import { matching, zoneRef } from '../../admin/flags.js';
import { printable } from '../../admin/render.js';
import { EXIT, UsageError } from '../../errors.js';
import { table } from '../../output.js';
import type { ProgramResult } from '../../program.js';
import type { Io } from '../io.js';

export const POLICY_SIMULATE_EXIT_HELP = `
The decision input is the R-POL-1 JSON the STS evaluates: principal (id, labels, ...), resource (scopes, ...) or
null, action.id (bootstrap, mint or gateway_use), delegation_edge or null, context (requested_scopes, and for
gateway_use audience and required_scope; context.time defaults to now). Nothing is minted or changed.

Exit codes:
  0  the final decision is allow (the contract allows and every active set allows, complete)
  1  the final decision is deny (the contract denies, a set denies, or a set fails to load or evaluate), or the
     API refused the request (unknown zone or --set version, an input of the wrong shape) or is unreachable
  2  usage error (missing --input, an unreadable file or one that is not JSON, bad --zone or --set)`;

interface Verdict {
  decision: 'allow' | 'deny';
  evaluation_status: string;
  diagnostics: string[];
}

export interface SimulationReport extends Verdict {
  reason: string;
  determining_policies: string[];
  step_up: string[];
  contract: Verdict & { reason: string };
  sets: Array<Verdict & { policy: string; step_up: string[] }>;
}

interface SimulateOptions extends ZoneOpt {
  input: string;
  set?: string;
}

const candidate = matching('--set', /^[a-z0-9][a-z0-9._-]{0,63}@[1-9][0-9]{0,8}$/, 'NAME@VERSION of a stored version, e.g. payments@3');

/** The decision input file, parsed; an unreadable file or one that is not JSON is a usage error naming it. */
export function readDecisionInput(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`--input ${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, 'name a JSON file holding one decision input');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--input ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

export async function runPolicySimulate(opts: SimulateOptions, io: Io): Promise<SimulationReport> {
  const input = readDecisionInput(opts.input);
  const query = opts.set === undefined ? '' : `?set=${encodeURIComponent(opts.set)}`;
  return adminApi(io).call<SimulationReport>('POST', `${apiPath`/v1/zones/${opts.zone}/policy-sets/simulate`}${query}`, input, { timeoutMs: 60_000 });
}

const notes = (v: { reason?: string; diagnostics: string[] }) => [v.reason, ...v.diagnostics].filter(Boolean).join('; ');

/** One row per evaluator: the contract, each set, then the final decision. */
export function printSimulation(r: SimulationReport, io: Io, json: boolean | undefined): void {
  if (json) return io.out.json(r);
  const rows = [
    ['contract', 'caracal.contract', r.contract.decision, r.contract.evaluation_status, notes(r.contract)],
    ...r.sets.map((s) => ['set', s.policy, s.decision, s.evaluation_status, notes({ diagnostics: [...s.diagnostics, ...(s.step_up.length ? [`step-up: ${s.step_up.join(',')}`] : [])] })]),
    ['final', r.determining_policies.join(','), r.decision, r.evaluation_status, r.reason],
  ];
  io.out.data(table(['STEP', 'POLICY', 'DECISION', 'STATUS', 'REASONS'], rows.map((row) => row.map(printable))));
}

export function registerPolicySimulate(policy: Command, io: Io, result: ProgramResult): void {
  policy
    .command('simulate')
    .description('dry run of a decision: the built-in contract and the zone\'s active policy sets on one decision input, without minting; prints each decision with its reasons')
    .requiredOption('--zone <zone>', 'zone id or slug', zoneRef)
    .option('--input <file>', 'JSON file holding the decision input (R-POL-1)')
    .option('--set <name@version>', 'evaluate this stored version in place of its set\'s active one (the check before `policy activate`)', candidate)
    .option('--json', "print the API's JSON")
    .addHelpText('after', POLICY_SIMULATE_EXIT_HELP)
    .action(async (opts: Partial<SimulateOptions> & ZoneOpt) => {
      if (opts.input === undefined) throw new UsageError('--input <file> is required', 'write the decision input as JSON to a file and pass it with --input');
      const r = await runPolicySimulate({ ...opts, input: opts.input }, io);
      printSimulation(r, io, opts.json);
      result.exitCode = r.decision === 'allow' ? EXIT.ok : EXIT.failure;
    });
}
