// The least-privilege matrix each service role must hold (R-DB-2): anything beyond it is a finding.
import type { ServiceName } from '../../src/index.js';

export type Verb = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';
export const VERBS: readonly Verb[] = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];

const S: Verb[] = ['SELECT'];
const SI: Verb[] = ['SELECT', 'INSERT'];
const SU: Verb[] = ['SELECT', 'UPDATE'];
const SIU: Verb[] = ['SELECT', 'INSERT', 'UPDATE'];
const SIUD: Verb[] = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];

export const EXPECTED: Record<ServiceName, Record<string, Verb[]>> = {
  api: {
    zones: SIU,
    applications: SIU,
    policy_sets: SIU,
    admin_tokens: SIU,
    resources: SIUD,
    grants: SIUD,
    policy_set_versions: SI,
    revocations: SI,
    admin_audit_events: SI,
    // 0015: the api runs an outbox relay (status columns only) and prunes published rows.
    outbox: SIUD,
    authority_sessions: SU,
    agent_sessions: SU,
    delegation_edges: SU,
    approvals: SU,
    audit_events: S,
    // 0008: verification reads the retention anchors.
    audit_chain_anchors: S,
    // 0012: verification reads the recorded chain heads.
    audit_chain_heads: S,
    // 0005: the api rotates zone signing keys.
    signing_keys: SIU,
  },
  coordinator: {
    zones: S,
    applications: S,
    authority_sessions: S,
    agent_sessions: SIU,
    delegation_edges: SIU,
    revocations: SI,
    admin_audit_events: SI,
    idempotency_keys: SIUD,
    outbox: SIUD,
    // 0013: session mandates are verified with the zones' public keys (public columns only, never private_sealed).
    signing_keys: S,
    // 0014: a root delegation's scopes are bounded by the source application's grants (scope columns only).
    grants: S,
  },
  sts: {
    zones: S,
    applications: S,
    resources: S,
    grants: S,
    policy_sets: S,
    policy_set_versions: S,
    agent_sessions: S,
    delegation_edges: S,
    revocations: S,
    authority_sessions: SI,
    approvals: SIU,
    signing_keys: SIU,
  },
  gateway: { zones: S, revocations: S },
  audit: { zones: S, audit_events: SI, audit_chain_anchors: S, audit_chain_heads: SI },
};

/** UPDATE limited to these columns (never `zone_id`): a row can be changed in place but never moved to another zone. */
export const UPDATE_COLUMNS: Partial<Record<ServiceName, Record<string, string[]>>> = {
  api: { outbox: ['attempts', 'next_attempt_at', 'published_at', 'dead_at', 'last_error'] },
};

export function may(service: ServiceName, table: string, verb: Verb): boolean {
  return EXPECTED[service][table]?.includes(verb) ?? false;
}
