// How one policy set's answer reads (R-POL-1). The entrypoint (e.g. `caracal/allow`) evaluates to either
//   - a boolean: true allows, false denies; or
//   - an object { allow: boolean } or { decision: "allow" | "deny" }, with optional `reasons` and `diagnostics`
//     (arrays of strings, recorded in the audit event) and `step_up` (an array of scopes that need an approver
//     before they are minted, R-STS-5).
// An undefined entrypoint (no rule matched) denies. Anything else — several results, another type, a malformed
// field — is an evaluation error, which denies as well.

export interface SetVerdict {
  /** `name@vN`: what `determining_policies` names. */
  set: string;
  status: 'complete' | 'error';
  allow: boolean;
  diagnostics: string[];
  stepUp: string[];
}

/** Diagnostics are audited: at most this many per set, each cut to MAX_DIAGNOSTIC_CHARS. */
export const MAX_DIAGNOSTICS = 16;
export const MAX_DIAGNOSTIC_CHARS = 200;

export const errorVerdict = (set: string, why: string): SetVerdict => ({ set, status: 'error', allow: false, diagnostics: [why.slice(0, MAX_DIAGNOSTIC_CHARS)], stepUp: [] });

const strings = (v: unknown): string[] | undefined => (v === undefined ? [] : Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined);

function allowOf(o: Record<string, unknown>): boolean | undefined {
  if (typeof o.allow === 'boolean' && o.decision === undefined) return o.allow;
  if (o.allow === undefined && (o.decision === 'allow' || o.decision === 'deny')) return o.decision === 'allow';
  return undefined;
}

export function readResult(set: string, results: readonly { result: unknown }[]): SetVerdict {
  if (results.length === 0) return { set, status: 'complete', allow: false, diagnostics: ['the entrypoint is undefined for this input'], stepUp: [] };
  if (results.length > 1) return errorVerdict(set, 'the entrypoint has several results');
  const r = results[0]!.result;
  if (typeof r === 'boolean') return { set, status: 'complete', allow: r, diagnostics: [], stepUp: [] };
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return errorVerdict(set, 'the entrypoint is neither a boolean nor an object');
  const o = r as Record<string, unknown>;
  const allow = allowOf(o);
  const [reasons, diagnostics, stepUp] = [strings(o.reasons), strings(o.diagnostics), strings(o.step_up)];
  if (allow === undefined) return errorVerdict(set, 'the result has neither a boolean `allow` nor a `decision` of allow|deny');
  if (!reasons || !diagnostics || !stepUp) return errorVerdict(set, '`reasons`, `diagnostics` and `step_up` must be arrays of strings');
  const notes = [...reasons, ...diagnostics].slice(0, MAX_DIAGNOSTICS).map((d) => d.slice(0, MAX_DIAGNOSTIC_CHARS));
  return { set, status: 'complete', allow, diagnostics: notes, stepUp };
}
