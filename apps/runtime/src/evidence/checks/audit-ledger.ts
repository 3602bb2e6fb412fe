// The one pass over the whole audit ledger that both audit checks read (R-EVD-1): every zone's chain and the admin
// chain verified, read once per pack (memoised on the context), zones in parallel worker threads when the ledger
// is large, each zone streamed so memory stays bounded whatever its size.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { KeyObject } from 'node:crypto';
import type { Redis } from 'ioredis';
import { readSecretFile } from '@caracal/config';
import { chainKey, GENESIS, verifyAdminChain, withTransaction, type AdminChainReport, type Pool, type PoolClient } from '@caracal/db';
import type { ZoneReport } from '@caracal/ledger';
import type { ChainHeads, EvidenceContext } from '../check.js';
import type { WorkerInit, WorkerReply } from './audit-worker.js';
import { cliTree } from '../../version.js';
import { listZones, readZoneJob, type ZoneRef } from './audit-zone-meta.js';
import { scanZone, type ZoneJob, type ZoneScan } from './audit-zone-scan.js';

/** Rows above which zones are verified in worker threads (below it, starting them costs more than it saves). */
export const PARALLEL_FROM_ROWS = 50_000;
const MAX_WORKERS = 4;

export interface ZoneResult extends ZoneRef {
  report: ZoneReport;
  /** The previous pack's head sequence for this zone and the content hash found there (null: no such row). */
  watched: { seq: number; content_sha256: string | null } | null;
  head: ChainHeads['zones'][string];
}

export interface AdminResult {
  report: AdminChainReport;
  /** Every statement of the admin chain's read, as sent (whitespace collapsed). */
  statements: string[];
  watched: { seq: number; content_sha256: string | null } | null;
}

export interface LedgerScan {
  zones: ZoneResult[];
  admin: AdminResult;
  heads: ChainHeads;
  workers: number;
}

export const ADMIN_AT_SQL = 'SELECT content_sha256 FROM caracal.admin_audit_events WHERE seq = $1';

export function auditKey(secretsDir: string): KeyObject {
  const r = readSecretFile(join(secretsDir, 'auditHmacKey'));
  if (!r.ok) throw new Error(`the audit HMAC key cannot be read: ${r.problem}`);
  return chainKey(r.value);
}

/** The zone's head as the pack records it: its last row (or where retention left it), signed when Redis says so. */
function zoneHead(job: ZoneJob, report: ZoneReport): ChainHeads['zones'][string] {
  const seq = report.last_seq ?? job.anchor?.through_seq ?? 0;
  const content = report.last_content_sha256 ?? job.anchor?.content_sha256 ?? GENESIS;
  const signed = job.head && job.headValid && job.head.seq === seq && job.head.content_sha256 === content;
  return { seq, content_sha256: content, head_sig: signed ? job.head!.sig : null };
}

async function scanHere(db: Pool, key: KeyObject, jobs: readonly ZoneJob[]): Promise<ZoneScan[]> {
  const client = await db.connect();
  let failed: Error | undefined;
  try {
    const out: ZoneScan[] = [];
    for (const job of jobs) out.push(await scanZone(client, key, job));
    return out;
  } catch (e) {
    failed = e as Error;
    throw e;
  } finally {
    // A connection that failed mid-COPY is not handed back to the pool.
    client.release(failed);
  }
}

/** The worker's module, by the CLI's tree: the CLI may run from its bundle, which does not hold it. */
const AUDIT_WORKER = () => join(cliTree(), 'apps', 'runtime', 'dist', 'evidence', 'checks', 'audit-worker.js');

/** Hands the jobs, largest first, to `n` workers as each becomes free; results come back in job order. */
async function scanInWorkers(secretsDir: string, jobs: readonly ZoneJob[], n: number): Promise<ZoneScan[]> {
  const out = new Array<ZoneScan>(jobs.length);
  const workers: Worker[] = [];
  let next = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const worker = new Worker(AUDIT_WORKER(), { workerData: { secretsDir } satisfies WorkerInit });
      workers.push(worker);
      let current = -1;
      const feed = () => {
        current = next < jobs.length ? next++ : -1;
        worker.postMessage(current < 0 ? null : jobs[current]);
      };
      worker.on('message', (r: WorkerReply) => {
        if (!r.ok) return reject(new Error(`zone ${jobs[current]!.zoneId}: ${r.message}`));
        out[current] = r.scan;
        feed();
      });
      worker.on('error', reject);
      // A worker that ends with a job in hand died with it.
      worker.on('exit', (code) => (current < 0 ? resolve() : reject(new Error(`zone ${jobs[current]!.zoneId}: the verifying thread exited (${code})`))));
      feed();
    });
  try {
    await Promise.all(Array.from({ length: n }, one));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return out;
}

const oneLine = (sql: string) => sql.replace(/\s+/g, ' ').trim();

async function scanAdmin(db: Pool, key: KeyObject, watchSeq: number | null): Promise<AdminResult> {
  // One snapshot for the whole chain, so rows appended meanwhile cannot look like a break.
  return withTransaction(db, async (c) => {
    const statements: string[] = [];
    // The ledger's own verifier reads the rows; this records each statement it sends, for raw/.
    const recorded = {
      query: (text: string, params?: unknown[]) => {
        if (!statements.includes(oneLine(text))) statements.push(oneLine(text));
        return c.query(text, params);
      },
    };
    for (const sql of ['SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY', 'SET LOCAL search_path = caracal, pg_temp']) await recorded.query(sql);
    const report = await verifyAdminChain(recorded as unknown as PoolClient, key);
    if (watchSeq === null) return { report, statements, watched: null };
    const at = (await recorded.query(ADMIN_AT_SQL, [watchSeq])).rows[0] as { content_sha256: string } | undefined;
    return { report, statements, watched: { seq: watchSeq, content_sha256: at?.content_sha256 ?? null } };
  });
}

async function scanLedger(ctx: EvidenceContext, db: Pool, redis: Redis, parallelFromRows: number): Promise<LedgerScan> {
  const key = auditKey(ctx.home.secretsDir);
  const previous = ctx.previous?.heads;
  const refs = await listZones(db);
  const jobs = await Promise.all(refs.map((z) => readZoneJob(db, redis, key, z.zone_id, previous?.zones[z.zone_id]?.seq ?? null)));
  // Largest first, so the last zone to finish is a small one.
  const order = jobs.map((j, i) => i).sort((a, b) => jobs[b]!.lastSeq - jobs[a]!.lastSeq);
  const planned = order.map((i) => jobs[i]!);
  const rows = jobs.reduce((n, j) => n + Math.max(0, j.lastSeq - (j.anchor?.through_seq ?? 0)), 0);
  const busy = jobs.filter((j) => j.lastSeq > 0).length;
  const workers = rows > parallelFromRows && busy > 1 ? Math.min(availableParallelism(), busy, MAX_WORKERS) : 0;
  const [adminResult, scans] = await Promise.all([
    scanAdmin(db, key, previous?.admin?.seq ?? null),
    workers > 0 ? scanInWorkers(ctx.home.secretsDir, planned, workers) : scanHere(db, key, planned),
  ]);
  const zones = order
    .map((i, k): ZoneResult => ({ ...refs[i]!, report: scans[k]!.report, watched: jobs[i]!.watchSeq === null ? null : { seq: jobs[i]!.watchSeq!, content_sha256: scans[k]!.watched }, head: zoneHead(jobs[i]!, scans[k]!.report) }))
    .sort((a, b) => a.zone_id.localeCompare(b.zone_id));
  const a = adminResult.report;
  const heads: ChainHeads = {
    zones: Object.fromEntries(zones.map((z) => [z.zone_id, z.head])),
    admin: a.last_seq === null ? null : { seq: a.last_seq, content_sha256: a.last_content_sha256! },
  };
  return { zones, admin: adminResult, heads, workers };
}

const scans = new WeakMap<EvidenceContext, Promise<LedgerScan>>();

/** The ledger scan of this pack: run by whichever audit check asks first, shared with the other. */
export function ledgerScan(ctx: EvidenceContext, db: Pool, redis: Redis, parallelFromRows = PARALLEL_FROM_ROWS): Promise<LedgerScan> {
  let scan = scans.get(ctx);
  if (!scan) {
    scan = scanLedger(ctx, db, redis, parallelFromRows);
    scans.set(ctx, scan);
  }
  return scan;
}
