// The Audit evidence checks against a managed stack (R-EVD-1): zones and admin actions through the CLI, audit
// events published signed onto the audit stream and chained by the real audit service, all under a Redis key
// prefix. A healthy pack passes audit-chains (continuity SKIPPED without --previous); a later pack extends it;
// one row edited (zone or admin chain) FAILs audit-chains naming zone and seq; the newest rows of a zone deleted
// with every head re-signed to match still verify as a chain, and only --previous catches it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainKey } from '../../../../packages/db/dist/index.js';
import { signHead } from '../../../../packages/ledger/dist/index.js';
import { STREAMS, StreamKeys, signAuditData } from '../../../../packages/streams/dist/index.js';
import { startEvidenceStack, type EvidenceStack } from '../../../../test-support/evidence-stack.js';
import { ledgerScan } from '../../dist/evidence/checks/audit-ledger.js';
import type { EvidenceContext } from '../../dist/evidence/check.js';

const PREFIX = 'evp:';
const PER_ZONE = 8;

interface Summary {
  path: string;
  checks: Array<{ id: string; status: string; reason: string }>;
  exit: number;
}

let stack: EvidenceStack;
let su: pg.Client;
let redis: Redis;
const keys = new StreamKeys(PREFIX);
const zones: Record<string, string> = {};
let packs = 0;

const secret = (name: string) => readFileSync(join(stack.home, 'secrets', name), 'utf8').trim();
const sql = async (text: string, params: unknown[] = []) => (await su.query(text, params)).rows;
const rowCount = async () => Number((await sql('SELECT count(*) AS n FROM caracal.audit_events'))[0].n);

async function must(args: string[]): Promise<string> {
  const r = await stack.cli(args);
  if (r.exitCode !== 0) throw new Error(`caracal ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

/** Publishes `perZone` signed events per zone as a producer would, and waits until the audit service chained them. */
async function publish(perZone: number): Promise<void> {
  const target = (await rowCount()) + perZone * Object.keys(zones).length;
  const p = redis.pipeline();
  for (let i = 0; i < perZone; i++) {
    for (const zone of Object.values(zones)) {
      const event = { id: crypto.randomUUID(), source: 'sts', type: 'mandate.issued', zone_id: zone, occurred_at: new Date().toISOString(), decision: 'allow', reason: 'granted', request_id: `req-${i}`, data: { i, note: 'tab\there "quoted" \\ ünï' } };
      const s = signAuditData(JSON.stringify(event), secret('auditHmacKey'));
      p.xadd(keys.key(STREAMS.auditEvents), '*', 'data', s.data, 'sig', s.sig);
    }
  }
  await p.exec();
  const until = Date.now() + 60_000;
  while ((await rowCount()) < target) {
    if (Date.now() > until) throw new Error(`the audit service chained ${await rowCount()} of ${target} rows`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // The head is published (and its mark recorded) after the rows commit: wait for every zone's mark to catch up.
  for (const zone of Object.values(zones)) {
    const last = Number((await sql('SELECT max(chain_seq) AS s FROM caracal.audit_events WHERE zone_id = $1', [zone]))[0].s);
    while (Number((await sql('SELECT coalesce(max(seq), 0) AS s FROM caracal.audit_chain_heads WHERE zone_id = $1', [zone]))[0].s) < last) {
      if (Date.now() > until) throw new Error(`zone ${zone}: no head mark at seq ${last}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function pack(previous?: string): Promise<Summary> {
  const out = join(stack.scratch, `pack-${++packs}`);
  const r = await stack.cli(['evidence-pack', '--out', out, '--json', ...(previous ? ['--previous', previous] : [])]);
  expect(r.exitCode, r.stderr).not.toBe(2);
  const s = JSON.parse(r.stdout) as Summary;
  expect(s.exit).toBe(r.exitCode);
  return s;
}
const check = (s: Summary, id: string) => s.checks.find((c) => c.id === id)!;
const raw = (s: Summary, name: string) => JSON.parse(readFileSync(join(s.path, 'raw', 'audit-chains', name), 'utf8')) as { command: string; output: any };
const manifest = (s: Summary) => JSON.parse(readFileSync(join(s.path, 'manifest.json'), 'utf8'));

beforeAll(async () => {
  stack = await startEvidenceStack('evaudit');
  // Every key under a prefix: the check must find the heads without adding the prefix twice.
  await must(['down']);
  const envFile = join(stack.home, 'caracal.env');
  writeFileSync(envFile, readFileSync(envFile, 'utf8').replace(/^CARACAL_REDIS_KEY_PREFIX=.*$/m, `CARACAL_REDIS_KEY_PREFIX=${PREFIX}`));
  await must(['up']);
  su = new pg.Client({ connectionString: stack.databaseUrl });
  await su.connect();
  redis = new Redis(stack.redisUrl);
  for (const slug of ['north', 'south', 'east']) zones[slug] = JSON.parse(await must(['zone', 'create', slug, '--name', slug, '--json'])).id;
  await publish(PER_ZONE);
});

afterAll(async () => {
  await su?.end();
  redis?.disconnect();
  await stack?.stop();
});

describe('evidence-pack: audit chains and continuity', () => {
  let first: Summary;
  let second: Summary;

  it('a healthy ledger: audit-chains PASS with every zone head recorded and signed; continuity SKIPPED without --previous', async () => {
    first = await pack();
    expect(check(first, 'audit-chains')).toMatchObject({ status: 'PASS' });
    expect(check(first, 'audit-chains').reason).toMatch(new RegExp(`^4 zone chains \\(${3 * PER_ZONE} rows\\) and the admin chain \\(\\d+ rows, head seq \\d+\\) verify`));
    expect(check(first, 'audit-continuity')).toEqual({ id: 'audit-continuity', status: 'SKIPPED', reason: expect.stringContaining('no previous pack given') });
    expect(first.exit).toBe(0);
    const heads = manifest(first).chain_heads;
    for (const zone of Object.values(zones)) {
      expect(heads.zones[zone]).toMatchObject({ seq: PER_ZONE, content_sha256: expect.stringMatching(/^[0-9a-f]{64}$/), head_sig: expect.stringMatching(/^[0-9a-f]{64}$/) });
    }
    expect(heads.admin.seq).toBeGreaterThanOrEqual(3);
    const chains = raw(first, 'zone-chains.json');
    expect(chains.command).toContain('COPY (SELECT chain_seq, hash_version, event_id, zone_id, occurred_at');
    expect(chains.output.rows_total).toBe(3 * PER_ZONE);
    // The admin chain's statements as the ledger's verifier sent them.
    expect(raw(first, 'admin-chain.json').command).toMatch(/SELECT seq::int8::text AS seq, .* FROM admin_audit_events WHERE seq > \$1 .* ORDER BY admin_audit_events\.seq LIMIT \$6/);
    expect(chains.output.zones.find((z: any) => z.zone_id === zones.north)).toMatchObject({ slug: 'north', rows: PER_ZONE, verdict: 'PASS', published_head: { seq: PER_ZONE }, recorded_head: { seq: PER_ZONE } });
  });

  it('a later pack with --previous: every chain extends the previous heads', async () => {
    await publish(2);
    await must(['zone', 'create', 'west', '--name', 'west', '--json']);
    second = await pack(first.path);
    expect(check(second, 'audit-chains').status).toBe('PASS');
    expect(check(second, 'audit-continuity')).toMatchObject({ status: 'PASS', reason: expect.stringMatching(/^5 chain\(s\) extend the heads of the previous pack/) });
    expect(second.exit).toBe(0);
    expect(manifest(second).chain_heads.zones[zones.north!].seq).toBe(PER_ZONE + 2);
  });

  it('one zone row edited: audit-chains FAILs naming the zone and seq, and so does continuity; PASS again once restored', async () => {
    const [row] = await sql('SELECT reason FROM caracal.audit_events WHERE zone_id = $1 AND chain_seq = 4', [zones.north]);
    await sql("UPDATE caracal.audit_events SET reason = 'edited' WHERE zone_id = $1 AND chain_seq = 4", [zones.north]);
    try {
      const s = await pack(second.path);
      expect(s.exit).toBe(1);
      expect(check(s, 'audit-chains')).toMatchObject({ status: 'FAIL', reason: `zone north (${zones.north}): seq 4: content_mismatch: the row no longer hashes to its content_sha256` });
      expect(check(s, 'audit-continuity')).toMatchObject({ status: 'FAIL', reason: expect.stringContaining(`zone north (${zones.north}): the chain up to the previous pack's head (seq ${PER_ZONE + 2}) is broken at seq 4`) });
    } finally {
      await sql('UPDATE caracal.audit_events SET reason = $2 WHERE zone_id = $1 AND chain_seq = 4', [zones.north, row.reason]);
    }
    const again = await pack(second.path);
    expect(check(again, 'audit-chains').status).toBe('PASS');
    expect(again.exit).toBe(0);
  });

  it('one admin row edited (append-only trigger disabled): audit-chains FAILs naming the admin chain and seq', async () => {
    const [row] = await sql('SELECT actor FROM caracal.admin_audit_events WHERE seq = 2');
    await sql('ALTER TABLE caracal.admin_audit_events DISABLE TRIGGER admin_audit_events_append_only');
    try {
      await sql("UPDATE caracal.admin_audit_events SET actor = 'someone-else' WHERE seq = 2");
      const s = await pack();
      expect(check(s, 'audit-chains')).toMatchObject({ status: 'FAIL', reason: 'admin chain: seq 2: content_mismatch: the row does not hash to its content_sha256' });
      expect(s.exit).toBe(1);
    } finally {
      await sql('UPDATE caracal.admin_audit_events SET actor = $1 WHERE seq = 2', [row.actor]);
      await sql('ALTER TABLE caracal.admin_audit_events ENABLE TRIGGER admin_audit_events_append_only');
    }
    expect(check(await pack(), 'audit-chains').status).toBe('PASS');
  });

  it('the newest rows of a zone deleted and every head re-signed to match: the chain verifies, --previous FAILs continuity', async () => {
    const south = zones.south!;
    const keep = 5;
    const top = PER_ZONE + 2;
    const rows = await sql('SELECT * FROM caracal.audit_events WHERE zone_id = $1 AND chain_seq > $2', [south, keep]);
    const marks = await sql('SELECT * FROM caracal.audit_chain_heads WHERE zone_id = $1 AND seq > $2', [south, keep]);
    const headKey = keys.key(`caracal.audit.head.${south}`);
    const head = await redis.hgetall(headKey);
    const [at] = await sql('SELECT content_sha256 FROM caracal.audit_events WHERE zone_id = $1 AND chain_seq = $2', [south, keep]);
    await sql('DELETE FROM caracal.audit_events WHERE zone_id = $1 AND chain_seq > $2', [south, keep]);
    await sql('DELETE FROM caracal.audit_chain_heads WHERE zone_id = $1 AND seq > $2', [south, keep]);
    // What an intruder holding the audit key would do: a valid signed head at the new end.
    const forged = signHead(chainKey(secret('auditHmacKey')), { zone_id: south, seq: keep, content_sha256: at.content_sha256, published_at: new Date().toISOString() });
    await redis.hset(headKey, { seq: String(forged.seq), content_sha256: forged.content_sha256, published_at: forged.published_at, sig: forged.sig });
    try {
      const alone = await pack();
      expect(check(alone, 'audit-chains').status).toBe('PASS');
      const s = await pack(second.path);
      expect(s.exit).toBe(1);
      expect(check(s, 'audit-chains').status).toBe('PASS');
      expect(check(s, 'audit-continuity')).toMatchObject({
        status: 'FAIL',
        reason: `zone south (${south}): the chain now ends at seq ${keep} but the previous pack's head was seq ${top}: the newest audit rows were deleted`,
      });
    } finally {
      await sql('INSERT INTO caracal.audit_events SELECT * FROM json_populate_recordset(NULL::caracal.audit_events, $1)', [JSON.stringify(rows)]);
      await sql('INSERT INTO caracal.audit_chain_heads SELECT * FROM json_populate_recordset(NULL::caracal.audit_chain_heads, $1)', [JSON.stringify(marks)]);
      await redis.hset(headKey, head);
    }
    const again = await pack(second.path);
    expect(check(again, 'audit-continuity').status).toBe('PASS');
    expect(again.exit).toBe(0);
  });

  it('zones verified in worker threads give the same result as on the main thread', async () => {
    const db = new pg.Pool({ connectionString: stack.databaseUrl, options: '-c default_transaction_read_only=on', max: 4 });
    const prefixed = new Redis(stack.redisUrl, { keyPrefix: PREFIX });
    try {
      const ctx = () => ({ home: { secretsDir: join(stack.home, 'secrets') }, previous: null }) as unknown as EvidenceContext;
      const here = await ledgerScan(ctx(), db, prefixed);
      const threads = await ledgerScan(ctx(), db, prefixed, 0);
      expect(here.workers).toBe(0);
      expect(threads.workers).toBeGreaterThan(1);
      expect(threads.zones).toEqual(here.zones);
      expect(threads.heads).toEqual(here.heads);
      expect(here.zones.every((z) => z.report.ok)).toBe(true);
    } finally {
      await db.end();
      prefixed.disconnect();
    }
  });
});
