// The admin chain is read in numeric seq order: past nine rows a text ordering would put 10 before 2, and the chain
// would read as broken (R-AUD-5).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAdminAudit, chainKey, readAdminAudit, verifyAdminChain } from '../../src/index.js';
import { migratedDatabase, type MigratedDb } from './migrated-db.js';

let db: MigratedDb;
let client: pg.Client;
const key = randomBytes(32).toString('hex');

beforeAll(async () => {
  db = await migratedDatabase('adminorder');
  client = new pg.Client({ connectionString: db.adminUrl });
  await client.connect();
  await client.query('SET search_path = caracal');
  for (let i = 1; i <= 12; i++) await appendAdminAudit(client as never, key, { actor: 'admin:test', action: 'zone.create', target: `zone-${i}`, detail: { i } });
});
afterAll(async () => {
  await client?.end();
  await db?.drop();
});

describe('readAdminAudit', () => {
  it('pages through twelve rows in numeric order', async () => {
    const seen: number[] = [];
    let after = 0;
    for (;;) {
      const { rows, more } = await readAdminAudit(client as never, after, 5);
      seen.push(...rows.map((r) => r.seq));
      after = rows.at(-1)?.seq ?? after;
      if (!more) break;
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('the chain of twelve verifies', async () => {
    expect(await verifyAdminChain(client as never, chainKey(key))).toMatchObject({ ok: true, checked: 12, first_seq: 1, last_seq: 12, breaks: [] });
  });
});
