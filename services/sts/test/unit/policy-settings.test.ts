// The STS's policy settings (R-POL-3): defaults and ranges, checked when the configuration is loaded.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

describe('policy settings of the STS', () => {
  const env = { CARACAL_MODE: 'dev', DATABASE_URL: 'postgres://sts@127.0.0.1/caracal', REDIS_URL: 'redis://127.0.0.1:6379' };

  it('defaults: a 25 ms budget, a check every 5 s, 16 MiB per module', () => {
    expect(loadConfig(env)).toMatchObject({ POLICY_EVAL_BUDGET_MS: 25, POLICY_RECHECK_MS: 5000, POLICY_MEMORY_MAX_PAGES: 256 });
  });

  it('refuses values out of range', () => {
    expect(() => loadConfig({ ...env, POLICY_RECHECK_MS: '50' })).toThrow(/POLICY_RECHECK_MS/);
    expect(() => loadConfig({ ...env, POLICY_EVAL_BUDGET_MS: '0' })).toThrow(/POLICY_EVAL_BUDGET_MS/);
    expect(() => loadConfig({ ...env, POLICY_MEMORY_MAX_PAGES: '4' })).toThrow(/POLICY_MEMORY_MAX_PAGES/);
    expect(() => loadConfig({ ...env, POLICY_EVAL_BUDGET_MS: 'fast' })).toThrow(/POLICY_EVAL_BUDGET_MS/);
  });
});
