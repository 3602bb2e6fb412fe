// R-AUD-1, R-MODE-1: AUDIT_SPILL_DIR and AUDIT_SPILL_MAX_BYTES. A stable-mode producer with nowhere to keep
// evidence refuses to start naming the key; dev mode falls back to a per-service, per-user temp directory.
import type { Env } from '@caracal/config';
import { describe, expect, it } from 'vitest';
import { spillDirFor } from '../../src/audit.js';
import { StartupError } from '../../src/run-service.js';
import { baseSchema, loadServiceConfig, type BaseConfig } from '../../src/service-config.js';
import { problems, STABLE } from './config-fixtures.js';

const load = (env: Env): BaseConfig => loadServiceConfig({ schema: baseSchema(3000) }, env);
const user = { tmpdir: () => '/tmp/x', name: () => 'alice' };

describe('audit spill settings', () => {
  it('default to no directory and a 1 GiB cap', () => {
    const cfg = load(STABLE);
    expect(cfg.AUDIT_SPILL_DIR).toBeUndefined();
    expect(cfg.AUDIT_SPILL_MAX_BYTES).toBe(1024 ** 3);
  });

  it('take an absolute directory and a byte cap', () => {
    const cfg = load({ ...STABLE, AUDIT_SPILL_DIR: '/var/lib/caracal/spool/api', AUDIT_SPILL_MAX_BYTES: '4096' });
    expect(cfg).toMatchObject({ AUDIT_SPILL_DIR: '/var/lib/caracal/spool/api', AUDIT_SPILL_MAX_BYTES: 4096 });
  });

  it.each([
    [{ AUDIT_SPILL_DIR: 'spool/api' }, 'AUDIT_SPILL_DIR: must be an absolute path'],
    [{ AUDIT_SPILL_MAX_BYTES: '0' }, 'AUDIT_SPILL_MAX_BYTES: must be at least 1'],
    [{ AUDIT_SPILL_MAX_BYTES: '1.5' }, 'AUDIT_SPILL_MAX_BYTES: must be an integer'],
  ])('refuse %o, naming the key', (extra, problem) => {
    expect(problems({ ...STABLE, ...extra })).toContain(problem);
  });

  it('a stable-mode producer without AUDIT_SPILL_DIR refuses to start, naming the key', () => {
    const cfg = load(STABLE);
    expect(() => spillDirFor('gateway', cfg, user)).toThrow(StartupError);
    expect(() => spillDirFor('gateway', cfg, user)).toThrow('gateway: invalid configuration:\n  - AUDIT_SPILL_DIR: is required in stable mode');
  });

  it('dev mode falls back to a directory per service and user under the temp dir', () => {
    const cfg = load({ CARACAL_MODE: 'dev', DATABASE_URL: STABLE.DATABASE_URL, REDIS_URL: STABLE.REDIS_URL });
    expect(spillDirFor('sts', cfg, user)).toBe('/tmp/x/caracal-audit-spill-sts-alice');
    expect(spillDirFor('sts', { ...cfg, AUDIT_SPILL_DIR: '/srv/spool' }, user)).toBe('/srv/spool');
  });
});
