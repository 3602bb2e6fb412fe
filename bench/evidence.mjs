// bench/evidence: `caracal evidence-pack` on a large ledger (default 1,000,000 audit rows across 10 zones) against
// two references on the same tables in the same run: `SELECT count(*)` and reading every row once
// (`COPY (SELECT * FROM caracal.audit_events) TO '/dev/null'`, server side). The rows are ingested the real way:
// signed events on the audit stream of a `caracal up` stack, chained by its audit service. Prints a JSON summary
// (also written to bench/out/evidence.json); exits non-zero when the pack is not built or a chain does not verify.
// Usage: pnpm bench:evidence [--events N] [--zones N] [--runs N]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { STREAMS, StreamKeys } from '../packages/streams/dist/index.js';
import { publishAuditEvents } from './lib/audit-events.mjs';
import { arg } from './lib/load.mjs';
import { admin, machine, Misbehaviour, onCleanup, REPO, runBench, secret, sleep, source, startStack, writeOut } from './lib/stack.mjs';

const EVENTS = arg('--events', 1_000_000);
const ZONES = arg('--zones', 10);
const RUNS = arg('--runs', 3);
const WAVE = 100_000;
const TARGET_RATIO = 3;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs the CLI, resolving with its exit code, output and wall time; never throws. */
function cli(home, args) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [join(REPO, 'apps/runtime/bin/caracal.js'), ...args], { env: { ...process.env, CARACAL_HOME: home, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('close', (code) => resolve({ code, stdout, stderr, seconds: (performance.now() - t0) / 1000 }));
  });
}

async function timed(client, sql) {
  const t0 = performance.now();
  await client.query(sql);
  return (performance.now() - t0) / 1000;
}

await runBench(async () => {
  const stack = await startStack('evidence');
  const db = new pg.Client({ connectionString: secret(stack.home, 'databaseUrl') });
  await db.connect();
  onCleanup(() => db.end());
  const redis = new Redis(secret(stack.home, 'redisUrl'));
  onCleanup(() => redis.disconnect());
  const keys = new StreamKeys('');

  // 1. The ledger: EVENTS signed events over ZONES zones, in waves the audit service chains before the next one.
  const zones = [];
  for (let i = 0; i < ZONES; i++) zones.push((await admin(stack, 'POST', '/v1/zones', { slug: `ev-${i}`, name: `Evidence ${i}` })).id);
  const count = async () => Number((await db.query('SELECT count(*) AS n FROM caracal.audit_events WHERE zone_id = ANY($1::uuid[])', [zones])).rows[0].n);
  const i0 = performance.now();
  for (let sent = 0; sent < EVENTS; ) {
    const n = Math.min(WAVE, EVENTS - sent);
    await publishAuditEvents(redis, keys, secret(stack.home, 'auditHmacKey'), zones, n);
    sent += n;
    const w0 = performance.now();
    while ((await count()) < sent) {
      if (performance.now() - w0 > 300_000) throw new Misbehaviour(`the audit service chained ${await count()} of ${sent} events in 300 s`);
      await sleep(500);
    }
    await redis.xtrim(keys.key(STREAMS.auditEvents), 'MAXLEN', 0);
    console.error(`ledger: ${sent} of ${EVENTS} rows chained`);
  }
  const total = Number((await db.query('SELECT count(*) AS n FROM caracal.audit_events')).rows[0].n);
  const ingestSeconds = (performance.now() - i0) / 1000;
  await db.query('VACUUM ANALYZE caracal.audit_events');

  // 2. References and the pack, interleaved, RUNS times each (one warm-up read first, not timed).
  await timed(db, "COPY (SELECT * FROM caracal.audit_events) TO '/dev/null'");
  const out = mkdtempSync(join(tmpdir(), 'caracal-bench-evidence-'));
  onCleanup(() => rmSync(out, { recursive: true, force: true }));
  const counts = [];
  const copies = [];
  const packs = [];
  let last;
  for (let r = 0; r < RUNS; r++) {
    counts.push(await timed(db, 'SELECT count(*) FROM caracal.audit_events'));
    copies.push(await timed(db, "COPY (SELECT * FROM caracal.audit_events) TO '/dev/null'"));
    last = await cli(stack.home, ['evidence-pack', '--out', join(out, `pack-${r}`), '--json']);
    if (last.code === 2 || !last.stdout) throw new Misbehaviour(`evidence-pack exited ${last.code}: ${last.stderr.slice(-600)}`);
    packs.push(last.seconds);
    console.error(`run ${r + 1}: count ${counts.at(-1).toFixed(2)} s, copy ${copies.at(-1).toFixed(2)} s, pack ${last.seconds.toFixed(2)} s (exit ${last.code})`);
  }
  const summary = JSON.parse(last.stdout);
  const chains = summary.checks.find((c) => c.id === 'audit-chains');
  if (chains?.status !== 'PASS') throw new Misbehaviour(`audit-chains did not pass: ${chains?.reason}`);
  const verify = await cli(stack.home, ['evidence-pack', 'verify', summary.archive]);
  if (verify.code !== 0) throw new Misbehaviour(`verify of the archive exited ${verify.code}: ${verify.stderr.slice(-600)}`);

  const pack = median(packs);
  const copy = median(copies);
  const result = {
    bench: 'evidence',
    ...source(),
    machine: machine(),
    ledger: { rows_total: total, bench_rows: EVENTS, zones: ZONES, ingest_seconds: +ingestSeconds.toFixed(1) },
    runs: RUNS,
    pack_seconds: { median: +pack.toFixed(2), all: packs.map((s) => +s.toFixed(2)) },
    reference_count_seconds: { median: +median(counts).toFixed(3), all: counts.map((s) => +s.toFixed(3)) },
    reference_copy_seconds: { median: +copy.toFixed(2), all: copies.map((s) => +s.toFixed(2)) },
    pack_vs_copy: +(pack / copy).toFixed(2),
    target_ratio: TARGET_RATIO,
    met: pack / copy <= TARGET_RATIO,
    pack_exit: last.code,
    checks: summary.checks.map((c) => ({ id: c.id, status: c.status })),
    archive_verify_seconds: +verify.seconds.toFixed(2),
  };
  writeOut('evidence', result);
  console.log(JSON.stringify(result, null, 2));
});
