// One zone's chain verified from a binary COPY of its rows (R-AUD-3, R-EVD-1): the ledger's byte path recomputes
// every content hash and chain_hmac from the streamed bytes, and its ChainVerifier judges sequence, links and signed
// heads. Runs on the main thread for a small ledger and inside the audit worker threads for a large one.
import type { KeyObject } from 'node:crypto';
import { CHAIN_WALK, ChainVerifier, chainSelect, copyChain, copyStatement, type ChainAnchor, type ChainHead, type CopyClient, type ZoneReport } from '@caracal/ledger';

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

/** The exact statement each zone's rows are read with (caracal.zone_id is set to the zone first, for RLS). */
export const ROW_COPY = copyStatement(chainSelect());

/** Streams the zone's rows (one read-only transaction bound to the zone) through the ledger's ChainVerifier. */
export async function scanZone(client: CopyClient, key: KeyObject, job: ZoneJob): Promise<ZoneScan> {
  const verifier = new ChainVerifier(job.zoneId, key, job.anchor, job.head, job.headValid, job.anchorVouched, job.mark);
  let watched: string | null = null;
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    await client.query(CHAIN_WALK);
    await client.query("SELECT set_config('caracal.zone_id', $1, true)", [job.zoneId]);
    await copyChain(client, key, undefined, (seq, content, prev, contentOk, hmacOk) => {
      verifier.pushChecked(seq, content, prev, contentOk, hmacOk);
      if (seq === job.watchSeq) watched = content;
    });
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  }
  return { report: verifier.finish(), watched };
}
