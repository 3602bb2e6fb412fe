// The STS's authority view settings (authority/view.ts): defaults and ranges, checked when the configuration is
// loaded; and a view whose notification channel never listened serves and keeps nothing.
import { describe, expect, it } from 'vitest';
import { AuthorityView } from '../../src/authority/view.js';
import { loadConfig } from '../../src/config.js';

describe('authority view settings of the STS', () => {
  const env = { CARACAL_MODE: 'dev', DATABASE_URL: 'postgres://sts@127.0.0.1/caracal', REDIS_URL: 'redis://127.0.0.1:6379' };

  it('defaults: 20,000 contexts, served from memory for at most 2 s past the last proof', () => {
    expect(loadConfig(env)).toMatchObject({ AUTHORITY_VIEW_MAX_ENTRIES: 20_000, AUTHORITY_VIEW_STALE_MS: 2000 });
    expect(loadConfig({ ...env, AUTHORITY_VIEW_MAX_ENTRIES: '0' }).AUTHORITY_VIEW_MAX_ENTRIES).toBe(0);
  });

  it('refuses values out of range, naming the variable', () => {
    expect(() => loadConfig({ ...env, AUTHORITY_VIEW_MAX_ENTRIES: '-1' })).toThrow(/AUTHORITY_VIEW_MAX_ENTRIES/);
    expect(() => loadConfig({ ...env, AUTHORITY_VIEW_MAX_ENTRIES: 'many' })).toThrow(/AUTHORITY_VIEW_MAX_ENTRIES/);
    expect(() => loadConfig({ ...env, AUTHORITY_VIEW_STALE_MS: '50' })).toThrow(/AUTHORITY_VIEW_STALE_MS/);
    expect(() => loadConfig({ ...env, AUTHORITY_VIEW_STALE_MS: '60001' })).toThrow(/AUTHORITY_VIEW_STALE_MS/);
  });

  it('a view that is not listening gives no mark, keeps nothing and serves nothing', () => {
    const view = new AuthorityView<object>({ pool: undefined as never, logger: undefined as never, maxEntries: 10, staleMs: 1000, ttlMs: 60_000 });
    expect(view.fresh()).toBe(false);
    const mark = view.mark('zone');
    expect(mark).toBeUndefined();
    view.put('zone', 'key', { allowed: true }, 60_000, mark);
    view.put('zone', 'key', { allowed: true }, 60_000, '0/0');
    expect(view.size).toBe(0);
    expect(view.get('zone', 'key')).toBeUndefined();
  });
});
