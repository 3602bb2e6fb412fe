// Configuration of the api service, parsed once in main.ts (R-SHAPE-4, R-MODE-1).
import { isAbsolute } from 'node:path';
import { bool, hexKey, type Env } from '@caracal/config';
import { baseSchema, loadServiceConfig, outboxKeys, outboxProblems } from '@caracal/service-kit';
import { z } from 'zod';

const schema = baseSchema(3000).extend({
  SECRET_STORE_KEK: hexKey(32).optional(),
  /** The bootstrap admin token (global, read/write/approve); further tokens live in the database. */
  CARACAL_ADMIN_TOKEN: hexKey(32).optional(),
  API_RATE_PER_MIN: z.coerce.number().int().min(1).max(1_000_000).default(600),
  /** How long a retired signing key keeps verifying: at least the longest mandate lifetime. */
  KEY_OVERLAP_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3600),
  /** Revocations and key rotations are announced through the outbox (R-STR-5). */
  ...outboxKeys,
  /** The control endpoint (R-CTL-1) answers only when this is true AND the gate file exists. */
  CARACAL_CONTROL_ENABLED: bool(false),
  /** The gate file: while it is absent the control endpoint answers 503, whatever CARACAL_CONTROL_ENABLED says. */
  CARACAL_CONTROL_GATE_FILE: z.string().refine((v) => isAbsolute(v), 'must be an absolute path').optional(),
  /** The STS issuer: control mandates must carry it as `iss`. */
  CARACAL_ISSUER_URL: z.string().url('must be a URL').optional(),
  /** The control token bucket of each subject: refill per minute and burst. */
  CONTROL_RATE_PER_MIN: z.coerce.number().int().min(1).max(100_000).default(60),
  CONTROL_BURST: z.coerce.number().int().min(1).max(10_000).default(10),
});

/** The control endpoint cannot be on without a gate file and an issuer to check mandates against. */
function controlProblems(c: z.output<typeof schema>): string[] {
  if (!c.CARACAL_CONTROL_ENABLED) return [];
  return [
    ...(c.CARACAL_CONTROL_GATE_FILE ? [] : ['CARACAL_CONTROL_GATE_FILE: is required when CARACAL_CONTROL_ENABLED=true']),
    ...(c.CARACAL_ISSUER_URL ? [] : ['CARACAL_ISSUER_URL: is required when CARACAL_CONTROL_ENABLED=true']),
  ];
}

export type ApiConfig = z.output<typeof schema>;

export const spec = {
  schema,
  stableRequired: ['SECRET_STORE_KEK', 'CARACAL_ADMIN_TOKEN'],
  refine: (c: ApiConfig) => [...outboxProblems(c), ...controlProblems(c)],
};

export function loadConfig(env: Env): ApiConfig {
  return loadServiceConfig(spec, env);
}
