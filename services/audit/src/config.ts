// Configuration of the audit service, parsed once in main.ts (R-SHAPE-4, R-MODE-1).
import type { Env } from '@caracal/config';
import { baseSchema, loadServiceConfig } from '@caracal/service-kit';
import type { z } from 'zod';

const schema = baseSchema(9090);

export type AuditConfig = z.output<typeof schema>;

export const spec = {
  schema,
  stableRequired: [],
};

export function loadConfig(env: Env): AuditConfig {
  return loadServiceConfig(spec, env);
}
