// The provenance, runtime, configuration, key and governance checks, grouped for the report order in index.ts.
import type { CheckDefinition } from '../check.js';
import { configEnvFile } from './config-env-file.js';
import { configMetricsAuth } from './config-metrics-auth.js';
import { configMode } from './config-mode.js';
import { configRedis } from './config-redis.js';
import { configSecretFiles } from './config-secret-files.js';
import { keyFreshness } from './key-freshness.js';
import { releaseProvenance } from './release-provenance.js';
import { runtimeReadiness } from './runtime-readiness.js';
import { secretFreshness } from './secret-freshness.js';
import { threatModel } from './threat-model.js';

export const PROVENANCE_CHECK: CheckDefinition = releaseProvenance;
export const RUNTIME_CHECK: CheckDefinition = runtimeReadiness;
export const CONFIG_CHECKS: readonly CheckDefinition[] = [configMode, configSecretFiles, configEnvFile, configRedis, configMetricsAuth];
export const KEY_CHECKS: readonly CheckDefinition[] = [keyFreshness, secretFreshness];
export const THREAT_MODEL_CHECK: CheckDefinition = threatModel;
