// bench/audit: the audit ledger's sustained ingest (events/s from XADD to committed chain row, 10 zones) against
// plain INSERTs of the same rows without chaining (the reference, same run, same batch size and parallelism),
// `caracal audit verify`'s verification throughput (rows/s; once right after the ingest, then again over the same
// rows) against its own reference (the same rows, already in memory, put through the content hash and chain HMAC in
// a plain loop: the cryptography alone, no database), and a run with the consumer killed (SIGKILL) a quarter of the
// way through that must lose and duplicate nothing. The ingest's cost per event (audit process and its Postgres
// backends, CPU from /proc) is measured twice: draining a backlog, and under live traffic paced as producers emit it
// (--live-rate events/s for --live-seconds), where batches are small. The ingest also prints the Redis server's, this
// process's (publishing) and the whole machine's CPU per event, and the machine's CPU per event that the 0.7x target
// would allow. Uses the machine's Postgres and Redis (a throwaway database and key prefix).
// Usage: pnpm bench:audit [--events N] [--zones N] [--batch N] [--live-rate N] [--live-seconds N] [--live-zones N]
// Environment: AUDIT_LINGER_MS (the audit service's setting; its default otherwise) and AUDIT_NODE_ARGS (Node.js
// arguments for the audit process only, e.g. to profile it).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { chainHmac, chainKey, createPool, loadMigrations, roleName, runMigrations, SERVICE_NAMES } from '../packages/db/dist/index.js';
import { canonicalEvent, contentSha256, isoSql, rowContentSha256, verifyZone } from '../packages/ledger/dist/index.js';
import { STREAMS, StreamKeys } from '../packages/streams/dist/index.js';
import { auditEvent as event, publishAuditEvents as publish } from './lib/audit-events.mjs';
import { arg, machineBusy } from './lib/load.mjs';
import { cpuSeconds, freePort, machine, Misbehaviour, onCleanup, redisServerCpu, REPO, runBench, sleep, source, treeCpuSeconds, writeOut } from './lib/stack.mjs';

const EVENTS = arg('--events', 200_000);
const ZONES = arg('--zones', 10);
const BATCH = arg('--batch', 1000);
const LIVE_RATE = arg('--live-rate', 1000);
const LIVE_SECONDS = arg('--live-seconds', 10);
const LIVE_ZONES = arg('--live-zones', 10);
// The speed issue's targets: ingest at 0.7x the same-run plain INSERT, live cost per event within 1.5x the drain's,
// verification at 200,000 rows/s.
const TARGET_INGEST_RATIO = 0.7;
const TARGET_LIVE_RATIO = 1.5;
const TARGET_VERIFY = 200_000;
const BASE_URL = process.env.CARACAL_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.CARACAL_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const hex = (n = 32) => randomBytes(n).toString('hex');

async function adminQuery(url, sql, params = []) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

async function database() {
  const name = `caracal_bench_audit_${hex(4)}`;
  await adminQuery(BASE_URL, `CREATE DATABASE ${name}`);
  const u = new URL(BASE_URL);
  u.pathname = `/${name}`;
  const adminUrl = u.toString();
  onCleanup(async () => {
    await adminQuery(BASE_URL, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
    await adminQuery(BASE_URL, `DROP DATABASE IF EXISTS ${name}`);
    for (const r of (await adminQuery(BASE_URL, 'SELECT rolname FROM pg_roles WHERE rolname LIKE $1', [`${name}\\_%`])).rows) await adminQuery(BASE_URL, `DROP ROLE IF EXISTS "${r.rolname}"`);
  });
  const passwords = Object.fromEntries(SERVICE_NAMES.map((s) => [s, hex(16)]));
  await runMigrations({ adminUrl, files: loadMigrations(join(REPO, 'infra/postgres/migrations')), rolePrefix: name, rolePasswords: passwords });
  const roleUrl = (s) => {
    const x = new URL(adminUrl);
    x.username = roleName(name, s);
    x.password = passwords[s];
    return x.toString();
  };
  return { name, adminUrl, roleUrl };
}

async function startAudit(env) {
  // AUDIT_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p") are given to the audit process only, for profiling
  // or to compare V8 settings.
  const nodeArgs = (process.env.AUDIT_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, join(REPO, 'services/audit/dist/main.js')], { env: { ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] });
  child.port = port;
  child.once('exit', (code, signal) => {
    if (signal !== 'SIGKILL' && signal !== 'SIGTERM') exited = `the audit service exited (${code ?? signal})`;
  });
  onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
  return child;
}

/** The reference: the same rows (hashes precomputed, nothing chained) INSERTed in batches of the same size, a zone per connection. */
async function plainInsert(db, zones, perZone) {
  await adminQuery(db.adminUrl, 'CREATE TABLE caracal.bench_plain (LIKE caracal.audit_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)');
  const rows = zones.map((z) => Array.from({ length: perZone }, (_, i) => {
    const e = canonicalEvent(event(z, i)).event;
    return { e, c: contentSha256(e) };
  }));
  const pool = new pg.Pool({ connectionString: db.adminUrl, max: zones.length });
  const per = Math.max(1, Math.floor(BATCH / zones.length));
  const m0 = machineBusy();
  const t0 = performance.now();
  await Promise.all(rows.map(async (list) => {
    const client = await pool.connect();
    try {
      for (let off = 0; off < list.length; off += per) {
        const chunk = list.slice(off, off + per);
        const cols = Array.from({ length: 16 }, () => []);
        chunk.forEach(({ e, c }, k) => [e.event_id, off + k + 1, new Date(), e.occurred_at, e.source, e.event_type, e.decision, e.reason, e.request_id, e.application_id, e.resource, e.subject, e.data, c, c, c].forEach((v, j) => cols[j].push(v)));
        await client.query(
          `INSERT INTO caracal.bench_plain (event_id, zone_id, chain_seq, recorded_at, occurred_at, source, event_type, decision, reason, request_id, application_id, resource, subject, data, content_sha256, prev_content_sha256, chain_hmac)
           SELECT e, $1, s, r, o, src, t, d, rs, rq, a, res, sub, j::jsonb, c, p, h FROM unnest($2::uuid[], $3::bigint[], $4::timestamptz[], $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[]) AS u(e, s, r, o, src, t, d, rs, rq, a, res, sub, j, c, p, h)`,
          [list[0].e.zone_id, ...cols],
        );
      }
    } finally {
      client.release();
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  const cores = m0.cores();
  await pool.end();
  const total = zones.length * perZone;
  return { rows: total, seconds: +seconds.toFixed(2), rows_per_s: Math.round(total / seconds), ...machineCost(cores, seconds, total) };
}

/** The whole machine's CPU over a timed phase: cores busy on average, and per item (row or event). */
const machineCost = (cores, seconds, items) => ({ machine_cores_busy: cores, machine_us_per_item: Math.round((cores * seconds * 1e6) / items) });

/**
 * Verification's reference: the same rows, read beforehand (not timed), each put through what verification
 * computes per row — the content hash over its canonical fields and the chain HMAC — in a plain loop, no database.
 */
async function hashLoop(db, zones, key) {
  const res = await adminQuery(
    db.adminUrl,
    `SELECT event_id, zone_id, chain_seq, ${isoSql('occurred_at')} AS occurred_at, ${isoSql('recorded_at')} AS recorded_at, source, event_type, decision, reason,
            request_id, application_id, resource, subject, data_canonical, hash_version, content_sha256, prev_content_sha256, chain_hmac
       FROM caracal.audit_events WHERE zone_id = ANY($1::uuid[]) ORDER BY zone_id, chain_seq`,
    [zones],
  );
  const t0 = performance.now();
  let mismatches = 0;
  for (const row of res.rows) {
    const content = rowContentSha256(row);
    if (content !== row.content_sha256 || chainHmac(key, content, row.prev_content_sha256) !== row.chain_hmac) mismatches++;
  }
  const seconds = (performance.now() - t0) / 1000;
  if (mismatches) throw new Misbehaviour(`hash loop: ${mismatches} row(s) did not hash to their stored values`);
  return { rows: res.rows.length, seconds: +seconds.toFixed(3), rows_per_s: Math.round(res.rows.length / seconds) };
}

/** CPU seconds of the Redis server the bench uses. */
const redisCpu = () => redisServerCpu(new URL(REDIS_URL).port || '6379');

/** CPU seconds of every Postgres backend of the audit role, by pid (from /proc). */
async function backendCpu(db) {
  const res = await adminQuery(db.adminUrl, 'SELECT pid FROM pg_stat_activity WHERE usename = $1', [roleName(db.name, 'audit')]);
  return new Map(res.rows.map((r) => [r.pid, cpuSeconds(r.pid)]));
}
/** Backend CPU spent since `before` (backends started since count from zero). */
const backendCpuSince = async (db, before) => [...(await backendCpu(db))].reduce((sum, [pid, cpu]) => sum + cpu - (before.get(pid) ?? 0), 0);

/** The audit service's appends so far, by path (its /metrics). */
async function appendPaths(child, bearer) {
  const body = await (await fetch(`http://127.0.0.1:${child.port}/metrics`, { headers: { authorization: `Bearer ${bearer}` } })).text();
  const count = (path) => Number(new RegExp(`^caracal_audit_appends_total\\{path="${path}"[^}]*\\} (\\d+)`, 'm').exec(body)?.[1] ?? 0);
  return { one_statement: count('one_statement'), two_step: count('two_step') };
}

let exited = '';
let progress;
/**
 * Rows chained so far in `zones`: each zone's highest sequence (a chain runs from 1 without gaps), summed, on one
 * kept connection. The timed phases poll this every few milliseconds: a count(*) over the growing ledger, on a new
 * connection each time, would take CPU from the very ingest it times. The kill run counts its rows exactly at the end.
 */
const countRows = async (zones) => {
  if (exited) throw new Misbehaviour(exited);
  const res = await progress.query('SELECT coalesce(sum((SELECT max(chain_seq) FROM caracal.audit_events e WHERE e.zone_id = z)), 0) AS n FROM unnest($1::uuid[]) AS z', [zones]);
  return Number(res.rows[0].n);
};

await runBench(async () => {
  const db = await database();
  progress = new pg.Client({ connectionString: db.adminUrl });
  await progress.connect();
  onCleanup(() => progress.end());
  const redis = new Redis(REDIS_URL);
  const keys = new StreamKeys(`caracal-bench:audit:${hex(4)}:`);
  onCleanup(async () => {
    for (let cursor = '0'; ; ) {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${keys.prefix}*`, 'COUNT', 500);
      if (found.length) await redis.del(...found);
      if ((cursor = next) === '0') break;
    }
    redis.disconnect();
  });
  const hmacKey = hex();
  const env = { PATH: process.env.PATH, CARACAL_MODE: 'stable', DATABASE_URL: db.roleUrl('audit'), REDIS_URL, REDIS_KEY_PREFIX: keys.prefix, STREAMS_HMAC_KEY: hex(), AUDIT_HMAC_KEY: hmacKey, METRICS_BEARER: hex(), LOG_LEVEL: 'warn', AUDIT_BATCH_SIZE: String(BATCH), AUDIT_RECLAIM_IDLE_MS: '2000', AUDIT_SWEEP_INTERVAL_S: '0' };
  // The service's own default unless AUDIT_LINGER_MS is set here (to compare live-traffic costs).
  if (process.env.AUDIT_LINGER_MS) env.AUDIT_LINGER_MS = process.env.AUDIT_LINGER_MS;
  const mkZones = async (tag) => (await adminQuery(db.adminUrl, "INSERT INTO caracal.zones (slug, name) SELECT $1 || '-' || g, 'bench' FROM generate_series(1, $2) g RETURNING id", [tag, ZONES])).rows.map((r) => r.id);

  // 1. Reference: plain INSERT of the same rows, no chaining.
  const reference = await plainInsert(db, await mkZones('ref'), Math.floor(EVENTS / ZONES));
  console.error(`reference INSERT: ${reference.rows_per_s} rows/s`);

  // 2. Sustained ingest: publish as fast as the pipeline allows while the service chains.
  const zones = await mkZones('ingest');
  let child = await startAudit(env);
  await sleep(1500);
  const cpu0 = cpuSeconds(child.pid);
  const pg0 = await backendCpu(db);
  const redis0 = redisCpu();
  const self0 = process.cpuUsage();
  const m0 = machineBusy();
  const t0 = performance.now();
  await publish(redis, keys, hmacKey, zones, EVENTS);
  const publishSeconds = (performance.now() - t0) / 1000;
  while ((await countRows(zones)) < EVENTS) await sleep(50);
  const ingestSeconds = (performance.now() - t0) / 1000;
  const ingestCores = m0.cores();
  const ingestSelf = process.cpuUsage(self0);
  const ingestRedis = redisCpu() - redis0;
  const ingestCpu = cpuSeconds(child.pid) - cpu0;
  const ingestPg = await backendCpuSince(db, pg0);
  const ingest = {
    events: EVENTS,
    zones: ZONES,
    seconds: +ingestSeconds.toFixed(2),
    events_per_s: Math.round(EVENTS / ingestSeconds),
    publish_seconds: +publishSeconds.toFixed(2),
    audit_process_cpu_s: +ingestCpu.toFixed(1),
    postgres_cpu_s: +ingestPg.toFixed(1),
    audit_us_per_event: Math.round((ingestCpu * 1e6) / EVENTS),
    postgres_us_per_event: Math.round((ingestPg * 1e6) / EVENTS),
    // the bench publishing the events (and counting rows) and the Redis server, then the whole machine meanwhile
    bench_us_per_event: Math.round((ingestSelf.user + ingestSelf.system) / EVENTS),
    redis_us_per_event: Math.round((ingestRedis * 1e6) / EVENTS),
    ...machineCost(ingestCores, ingestSeconds, EVENTS),
  };
  console.error(`ingest: ${ingest.events_per_s} events/s (CPU per event: audit ${ingest.audit_us_per_event} µs, PostgreSQL backends ${ingest.postgres_us_per_event}, Redis ${ingest.redis_us_per_event}, publishing ${ingest.bench_us_per_event}; the machine ${ingest.machine_cores_busy} cores busy, ${ingest.machine_us_per_item} µs per event; plain INSERT ${reference.machine_cores_busy} cores, ${reference.machine_us_per_item} µs per row)`);

  // 3. Verification throughput over the ingested chains (the same code `caracal audit verify` runs in the API).
  const pool = createPool({ connectionString: db.roleUrl('api'), applicationName: 'bench-verify' });
  const deps = { pool, redis, keys, key: chainKey(hmacKey) };
  const serverCpu = () => treeCpuSeconds((r) => /\/postgres$/.test(r.cmdline.split(' ')[0]) && r.cmdline.includes(' -D '));
  // CPU per row of the verifying process and of the whole PostgreSQL server (its backends, and autovacuum catching up
  // with the rows just ingested). Backends that exit meanwhile are counted too: the server's main process holds
  // the CPU of its reaped children.
  const verifyPass = async () => {
    const vs0 = serverCpu();
    const vn0 = process.cpuUsage();
    const vm0 = machineBusy();
    const v0 = performance.now();
    let checked = 0;
    for (const z of zones) {
      const r = await verifyZone(deps, z);
      if (!r.ok) throw new Misbehaviour(`zone ${z} did not verify: ${JSON.stringify(r.breaks.slice(0, 3))}`);
      checked += r.checked;
    }
    const verifySeconds = (performance.now() - v0) / 1000;
    const vn = process.cpuUsage(vn0);
    const vs = serverCpu() - vs0;
    const cores = vm0.cores();
    return {
      rows: checked,
      seconds: +verifySeconds.toFixed(2),
      rows_per_s: Math.round(checked / verifySeconds),
      node_us_per_row: +((vn.user + vn.system) / checked).toFixed(2),
      postgres_us_per_row: +((vs * 1e6) / checked).toFixed(2),
      ...machineCost(cores, verifySeconds, checked),
    };
  };
  // The first pass reads the rows right after the ingest; the second reads the same rows again, as a later `caracal
  // audit verify` (or the audit service's sweep) does. The first costs more CPU per row on both sides, and a VACUUM or
  // a CHECKPOINT just before it does not change that (bench/RESULTS.md). The target is judged on the first.
  const verify = await verifyPass();
  const verifySecond = await verifyPass();
  const verifyReference = await hashLoop(db, zones, deps.key);
  console.error(`verify: ${verify.rows_per_s} rows/s (CPU per row: ${verify.node_us_per_row} µs verifying, ${verify.postgres_us_per_row} µs PostgreSQL, ${verify.machine_us_per_item} µs the machine); hash loop over the same rows: ${verifyReference.rows_per_s} rows/s`);
  console.error(`verify again, second pass: ${verifySecond.rows_per_s} rows/s (CPU per row: ${verifySecond.node_us_per_row} µs verifying, ${verifySecond.postgres_us_per_row} µs PostgreSQL)`);

  // 4. Live traffic: events paced as producers emit them, in small pipelines every 10 ms, over fresh zones.
  const liveZones = (await mkZones('live')).slice(0, LIVE_ZONES);
  const liveEvents = LIVE_RATE * LIVE_SECONDS;
  const perTick = Math.max(1, Math.round(LIVE_RATE / 100));
  const paths0 = await appendPaths(child, env.METRICS_BEARER);
  const lc0 = cpuSeconds(child.pid);
  const lp0 = await backendCpu(db);
  const l0 = performance.now();
  for (let sent = 0, tick = 0; sent < liveEvents; tick++) {
    const n = Math.min(perTick, liveEvents - sent);
    await publish(redis, keys, hmacKey, liveZones, n);
    sent += n;
    const wait = l0 + (tick + 1) * 10 - performance.now();
    if (wait > 0) await sleep(wait);
  }
  while ((await countRows(liveZones)) < liveEvents) await sleep(20);
  const liveCpu = cpuSeconds(child.pid) - lc0;
  const livePg = await backendCpuSince(db, lp0);
  const paths1 = await appendPaths(child, env.METRICS_BEARER);
  const live = {
    events: liveEvents,
    rate: LIVE_RATE,
    zones: liveZones.length,
    seconds: +((performance.now() - l0) / 1000).toFixed(2),
    audit_process_cpu_s: +liveCpu.toFixed(2),
    postgres_cpu_s: +livePg.toFixed(2),
    audit_us_per_event: Math.round((liveCpu * 1e6) / liveEvents),
    postgres_us_per_event: Math.round((livePg * 1e6) / liveEvents),
    appends: { one_statement: paths1.one_statement - paths0.one_statement, two_step: paths1.two_step - paths0.two_step },
  };
  const perEvent = (x) => x.audit_us_per_event + x.postgres_us_per_event;
  console.error(`cost per event, audit + Postgres: live ${live.audit_us_per_event} + ${live.postgres_us_per_event} µs; drain ${ingest.audit_us_per_event} + ${ingest.postgres_us_per_event} µs`);

  // 5. Zero loss: SIGKILL the consumer a quarter of the way through another run, restart it, count.
  const killZones = await mkZones('kill');
  let killedAt = -1;
  const k0 = performance.now();
  const killOnce = async () => {
    child.kill('SIGKILL');
    await once(child, 'exit');
    killedAt = await countRows(killZones);
    child = await startAudit(env);
  };
  await publish(redis, keys, hmacKey, killZones, EVENTS, async () => {
    if (killedAt < 0 && (await countRows(killZones)) >= EVENTS / 4) await killOnce();
  });
  // Everything was published before a quarter was chained: kill as soon as it is.
  if (killedAt < 0) {
    while ((await countRows(killZones)) < EVENTS / 4) await sleep(5);
    await killOnce();
  }
  while ((await countRows(killZones)) < EVENTS && performance.now() - k0 < 300_000) await sleep(100);
  await sleep(3000); // anything reclaimed late must not add rows
  const stats = (await adminQuery(db.adminUrl, 'SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM caracal.audit_events WHERE zone_id = ANY($1::uuid[])', [killZones])).rows[0];
  const dlq = await redis.xlen(keys.key(STREAMS.auditDlq));
  let chainsOk = true;
  for (const z of killZones) chainsOk &&= (await verifyZone(deps, z)).ok;
  await pool.end();
  const kill = { events: EVENTS, killed_after_rows: killedAt, rows: Number(stats.n), distinct_ids: Number(stats.ids), lost: EVENTS - Number(stats.ids), duplicated: Number(stats.n) - Number(stats.ids), dlq, chains_verify: chainsOk, seconds: +((performance.now() - k0) / 1000).toFixed(2) };
  if (kill.lost || kill.duplicated || dlq || !chainsOk || killedAt < 0) throw new Misbehaviour(`kill run: ${JSON.stringify(kill)}`);

  const liveRatio = +(perEvent(live) / perEvent(ingest)).toFixed(2);
  const ingestRatio = +(ingest.events_per_s / reference.rows_per_s).toFixed(2);
  const result = {
    bench: 'audit',
    ...source(),
    machine: machine(),
    ingest,
    live: { ...live, linger_ms: env.AUDIT_LINGER_MS ?? 'service default', cost_vs_drain: liveRatio, postgres_cost_vs_drain: +(live.postgres_us_per_event / ingest.postgres_us_per_event).toFixed(2), target: TARGET_LIVE_RATIO, met: liveRatio <= TARGET_LIVE_RATIO },
    reference_plain_insert: reference,
    ingest_vs_plain_insert: {
      ratio: ingestRatio,
      target: TARGET_INGEST_RATIO,
      met: ingestRatio >= TARGET_INGEST_RATIO,
      // the machine's CPU per event that would still allow the target with every core busy, against what an event took
      machine_us_per_event_at_target: Math.round((machine().cpus * 1e6) / (TARGET_INGEST_RATIO * reference.rows_per_s)),
      machine_us_per_event: ingest.machine_us_per_item,
    },
    // machine_us_per_row_at_target: the machine's CPU per row that would still allow the target with every core busy
    verify: { ...verify, target: TARGET_VERIFY, met: verify.rows_per_s >= TARGET_VERIFY, machine_us_per_row_at_target: +((machine().cpus * 1e6) / TARGET_VERIFY).toFixed(2) },
    verify_second_pass: verifySecond,
    reference_hash_loop: verifyReference,
    verify_vs_hash_loop: +(verify.rows_per_s / verifyReference.rows_per_s).toFixed(2),
    kill_run: kill,
  };
  writeOut('audit', result);
  console.log(JSON.stringify(result, null, 2));
});
