// One zone's chain verified from a binary COPY of its rows (R-AUD-3, R-EVD-1): the content hash recomputed over the
// streamed bytes, chain_hmac checked, and the ledger's own ChainVerifier judging sequence, links and signed heads.
// Runs on the main thread for a small ledger and inside the audit worker threads for a large one.
import type { KeyObject } from 'node:crypto';
import type { ClientBase } from 'pg';
import { ChainVerifier, isoSql, rowContentSha256, type ChainAnchor, type ChainHead, type StoredRow, type ZoneReport } from '@caracal/ledger';
import { copyStatement, copyTuples, type Tuple } from './audit-copy.js';
import { ChainHmac, sha256Hex } from './audit-hmac.js';

/** What the main thread read about a zone before its rows (the same order as the ledger's verifyZone). */
export interface ZoneJob {
  zoneId: string;
  anchor: ChainAnchor | null;
  /** The head published in Redis and whether its signature verified. */
  head: ChainHead | null;
  headValid: boolean;
  /** False when the anchor is not the one a valid signed anchor mark vouches for. */
  anchorVouched: boolean;
  /** The highest head recorded in Postgres. */
  mark: ChainHead | null;
  /** The previous pack's head sequence: the content hash found there is kept for the continuity check. */
  watchSeq: number | null;
}

export interface ZoneScan {
  report: ZoneReport;
  /** The content_sha256 of the row at `watchSeq`, or null when no row holds it. */
  watched: string | null;
}

// Column order: the content hash's own field order sits at 2..14 so a row hashes from one copy loop; the last
// column is the jsonb text only for rows from before data_canonical (migration 0009). The ORDER BY names the
// table's columns: the text alias `chain_seq` would sort 10 before 2.
export const ROW_SELECT = `SELECT chain_seq::text, hash_version::text, event_id::text, zone_id::text, ${isoSql('occurred_at')}, source, event_type,
  decision, reason, request_id, application_id, resource, subject, data_canonical, ${isoSql('recorded_at')},
  content_sha256, prev_content_sha256, chain_hmac, CASE WHEN data_canonical IS NULL THEN data::text END
  FROM caracal.audit_events WHERE zone_id = current_setting('caracal.zone_id')::uuid ORDER BY audit_events.chain_seq, audit_events.recorded_at`;

/**
 * The plan for a zone's whole chain: the primary key's index (zone_id, chain_seq, recorded_at) walked in order on
 * each monthly partition, merged. Left alone the planner reads a zone by bitmap and sorts ~1 KB rows in work_mem
 * (spilling to disk), with parallel workers and JIT on top: about twice the server time on a 1M-row ledger.
 */
export const PLAN_SETTINGS = ['SET LOCAL enable_sort = off', 'SET LOCAL jit = off', 'SET LOCAL max_parallel_workers_per_gather = 0'];

/** The exact statement each zone's rows are read with (caracal.zone_id is set to the zone first, for RLS). */
export const ROW_COPY = copyStatement(ROW_SELECT);

const FIELDS = 19;
const F = { seq: 0, version: 1, first: 2, data: 13, recorded: 14, content: 15, prev: 16, hmac: 17, legacyData: 18 } as const;
const SEP = 0x1f;
const ASCII_1 = 0x31;
const ASCII_2 = 0x32;
const SHORT = 96;

const text = (t: Tuple, f: number): string | null => (t.lens[f]! < 0 ? null : t.buf.toString('utf8', t.starts[f], t.starts[f]! + t.lens[f]!));

/** The row as the ledger's generic code takes it: for rows the byte path does not cover. */
export function storedRow(t: Tuple): StoredRow {
  const legacy = text(t, F.legacyData);
  return {
    chain_seq: Number(text(t, F.seq)),
    hash_version: Number(text(t, F.version)),
    event_id: text(t, 2) ?? '',
    zone_id: text(t, 3) ?? '',
    occurred_at: text(t, 4) ?? '',
    source: text(t, 5) ?? '',
    event_type: text(t, 6) ?? '',
    decision: text(t, 7),
    reason: text(t, 8),
    request_id: text(t, 9),
    application_id: text(t, 10),
    resource: text(t, 11),
    subject: text(t, 12),
    data_canonical: text(t, F.data),
    data: legacy === null ? undefined : (JSON.parse(legacy) as unknown),
    recorded_at: text(t, F.recorded) ?? '',
    content_sha256: text(t, F.content) ?? '',
    prev_content_sha256: text(t, F.prev) ?? '',
    chain_hmac: text(t, F.hmac) ?? '',
  };
}

/**
 * The row's content hash straight from the COPY bytes: the fields in their fixed order, each followed by 0x1F,
 * NULL as empty (exactly what rowContentSha256 hashes). Versions 1 and 2 with data_canonical only; anything else
 * goes through the ledger's generic code.
 */
export class ContentHasher {
  private scratch = Buffer.alloc(4096);

  hash(t: Tuple): string {
    const v = t.lens[F.version] === 1 ? t.buf[t.starts[F.version]!] : -1;
    if ((v !== ASCII_1 && v !== ASCII_2) || t.lens[F.data]! < 0) return rowContentSha256(storedRow(t));
    const last = v === ASCII_2 ? F.recorded : F.data;
    let need = 0;
    for (let f = F.first; f <= last; f++) need += Math.max(0, t.lens[f]!) + 1;
    if (need > this.scratch.length) this.scratch = Buffer.alloc(need * 2);
    const out = this.scratch;
    const buf = t.buf;
    let pos = 0;
    for (let f = F.first; f <= last; f++) {
      const n = t.lens[f]!;
      // Short fields byte by byte: a Buffer#copy call costs more than copying a few dozen bytes.
      if (n > SHORT) pos += buf.copy(out, pos, t.starts[f], t.starts[f]! + n);
      else for (let i = t.starts[f]!, end = i + n; i < end; i++) out[pos++] = buf[i]!;
      out[pos++] = SEP;
    }
    return sha256Hex(out.subarray(0, pos));
  }
}

/** Streams the zone's rows (one read-only transaction bound to the zone) through the ledger's ChainVerifier. */
export async function scanZone(client: ClientBase, key: KeyObject, job: ZoneJob): Promise<ZoneScan> {
  const verifier = new ChainVerifier(job.zoneId, key, job.anchor, job.head, job.headValid, job.anchorVouched, job.mark);
  const hasher = new ContentHasher();
  const hmac = new ChainHmac(key);
  let watched: string | null = null;
  const onTuple = (t: Tuple) => {
    const { buf, starts, lens } = t;
    const content = text(t, F.content) ?? '';
    const prev = text(t, F.prev) ?? '';
    const seq = Number(buf.toString('latin1', starts[F.seq], starts[F.seq]! + lens[F.seq]!));
    const hmacOk = hmac.hex(buf, starts[F.content]!, lens[F.content]!, starts[F.prev]!, lens[F.prev]!, content, prev) === text(t, F.hmac);
    verifier.pushChecked(seq, content, prev, hasher.hash(t) === content, hmacOk);
    if (seq === job.watchSeq) watched = content;
  };
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    for (const setting of PLAN_SETTINGS) await client.query(setting);
    await client.query("SELECT set_config('caracal.zone_id', $1, true)", [job.zoneId]);
    await copyTuples(client, ROW_SELECT, FIELDS, onTuple);
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  }
  return { report: verifier.finish(), watched };
}
