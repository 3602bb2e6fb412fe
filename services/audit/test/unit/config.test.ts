// The audit service's configuration (R-SHAPE-4, R-MODE-1): every problem reported at once, naming the key; no
// audit key means no start, even in dev mode.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

const env = (extra: Record<string, string | undefined> = {}) => ({
  CARACAL_MODE: 'dev',
  DATABASE_URL: 'postgres://u@127.0.0.1/db',
  REDIS_URL: 'redis://127.0.0.1:6379',
  AUDIT_HMAC_KEY: 'ab'.repeat(32),
  ...extra,
});

describe('audit config', () => {
  it('has safe defaults', () => {
    expect(loadConfig(env())).toMatchObject({ PORT: 9090, AUDIT_BATCH_SIZE: 1000, AUDIT_LINGER_MS: 50, AUDIT_MAX_DELIVERIES: 5, AUDIT_RETENTION_MONTHS: 13, AUDIT_EXPORT_FORMATS: ['parquet', 'jsonl'], AUDIT_SWEEP_INTERVAL_S: 3600 });
  });

  it('refuses to start without the audit key, even in dev mode', () => {
    expect(() => loadConfig(env({ AUDIT_HMAC_KEY: undefined }))).toThrow(/AUDIT_HMAC_KEY: is required by the audit service/);
  });

  it('reports every bad setting together, naming each', () => {
    let message = '';
    try {
      loadConfig(env({ AUDIT_EXPORT_FORMATS: 'parquet,csv', AUDIT_BATCH_SIZE: '0', AUDIT_RETENTION_MONTHS: '0', CARACAL_INSTANCE_ID: 'a b' }));
    } catch (err) {
      message = (err as Error).message;
    }
    for (const key of ['AUDIT_EXPORT_FORMATS', 'AUDIT_BATCH_SIZE', 'AUDIT_RETENTION_MONTHS', 'CARACAL_INSTANCE_ID']) expect(message).toContain(`${key}:`);
  });

  it('refuses a repeated export format', () => {
    expect(() => loadConfig(env({ AUDIT_EXPORT_FORMATS: 'jsonl,jsonl' }))).toThrow(/AUDIT_EXPORT_FORMATS: must list parquet and\/or jsonl/);
  });
});
