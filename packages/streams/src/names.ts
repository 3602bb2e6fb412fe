// Stream names and the consumer groups that read them (R-STR-1).

export const STREAMS = {
  auditEvents: 'caracal.audit.events',
  auditDlq: 'caracal.audit.events.dlq',
  sessionsRevoke: 'caracal.sessions.revoke',
  policyInvalidate: 'caracal.policy.invalidate',
  keysInvalidate: 'caracal.keys.invalidate',
  agentsLifecycle: 'caracal.agents.lifecycle',
  delegationsInvalidate: 'caracal.delegations.invalidate',
} as const;

export type StreamName = (typeof STREAMS)[keyof typeof STREAMS];

/** Approximate cap per stream: bounded memory, and Redis runs with `noeviction` (R-STR-4). */
export const STREAM_MAXLEN = 100_000;

/** DLQ stream of any stream: `<name>.dlq`. */
export const dlqOf = (stream: string): string => `${stream}.dlq`;
