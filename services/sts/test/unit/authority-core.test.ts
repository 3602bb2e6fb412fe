// The STS's shape (issue 8 item 11): Redis keys only from the shared keyspace, SQL only in the authority
// repository modules, the key store and the policy-set store, and every grant declares the parameters it accepts.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as clientCredentials from '../../src/token/grants/client-credentials.js';
import * as tokenExchange from '../../src/token/grants/token-exchange.js';

const SRC = new URL('../../src', import.meta.url).pathname;
const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : [join(dir, n)]));
const sources = files(SRC).map((f) => ({ path: relative(SRC, f), text: readFileSync(f, 'utf8') }));
// The view's queries are its LISTEN and its own probe notifications; it reads no table.
const SQL_HOMES = new Set(['authority/repository.ts', 'authority/approvals.ts', 'authority/zone-directory.ts', 'keys/key-store.ts', 'policy/store.ts', 'authority/view.ts']);

describe('authority core', () => {
  it('builds no Redis key by hand', () => {
    expect(sources.filter((s) => /caracal:(jti|gwnonce|rl)/.test(s.text)).map((s) => s.path)).toEqual([]);
  });

  it('keeps SQL in the repository modules', () => {
    const withSql = sources.filter((s) => /\.query[<(]/.test(s.text)).map((s) => s.path);
    expect(withSql.filter((p) => !SQL_HOMES.has(p))).toEqual([]);
  });

  it('builds the decision input in one place', () => {
    expect(sources.filter((s) => s.text.includes('schema_version: 1,')).map((s) => s.path)).toEqual(['authority/decision-input.ts']);
  });

  it('has every grant declare its handler and accepted parameters', () => {
    for (const g of [clientCredentials, tokenExchange]) {
      expect(typeof g.handle).toBe('function');
      expect(g.PARAMETERS.has('grant_type')).toBe(false);
    }
    expect([...clientCredentials.PARAMETERS].sort()).toEqual(['client_id', 'client_secret', 'scope']);
    expect(tokenExchange.PARAMETERS.has('subject_token')).toBe(true);
  });
});
