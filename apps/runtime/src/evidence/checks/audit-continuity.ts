// Evidence check `audit-continuity` (R-EVD-1): with `--previous PACK`, each zone's chain and the admin chain must
// extend the head that pack signed: the row at that sequence is still there with the same content hash, and the
// chain up to it is unbroken. Deleting the newest rows, even with the heads re-signed to match, shows up here.
import type { CheckDefinition, ChainHeads, EvidenceContext } from '../check.js';
import { chainProblems, zoneLabel } from './audit-chains.js';
import { ADMIN_AT_SQL, ledgerScan, type LedgerScan } from './audit-ledger.js';
import { ROW_COPY } from './audit-zone-scan.js';
import { skipped, verdict, withDb, withRedis } from './support.js';

type Head = { seq: number; content_sha256: string };
interface Chain {
  label: string;
  /** Where the chain ends now. */
  head: Head;
  /** The content hash found at the previous head's sequence (null: no row there). */
  at: string | null;
  /** The first break's sequence, or null when the chain verifies. */
  firstBreak: { seq: number; kind: string } | null;
  /** Retention's anchor: rows up to it were dropped, and the chain verified from its signed mark. */
  anchor: Head | null;
}

export interface ContinuityRow {
  chain: string;
  previous: Head;
  current: Head | null;
  content_at_previous_seq: string | null;
  verdict: 'PASS' | 'FAIL';
  detail: string;
}

/** Whether `now` extends `before`, and why not. */
export function extendsHead(before: Head, now: Chain): { ok: boolean; detail: string } {
  const n = before.seq;
  if (n === 0) return { ok: true, detail: 'the previous pack recorded an empty chain' };
  if (now.head.seq < n) {
    return { ok: false, detail: `the chain now ends at seq ${now.head.seq} but the previous pack's head was seq ${n}: the newest audit rows were deleted` };
  }
  if (now.anchor && now.anchor.seq >= n) {
    if (now.anchor.seq > n) return { ok: true, detail: `retention dropped the rows through seq ${now.anchor.seq} (past the previous head seq ${n}) under a signed anchor` };
    const same = now.anchor.content_sha256 === before.content_sha256;
    return same ? { ok: true, detail: `the retention anchor at seq ${n} holds the previous head` } : { ok: false, detail: `the retention anchor at seq ${n} differs from the previous pack's head` };
  }
  if (now.at === null) return { ok: false, detail: `no row holds seq ${n}, the previous pack's head` };
  if (now.at !== before.content_sha256) return { ok: false, detail: `the row at seq ${n} (the previous pack's head) no longer has the content hash that pack signed: it was rewritten` };
  if (now.firstBreak && now.firstBreak.seq <= n) return { ok: false, detail: `the chain up to the previous pack's head (seq ${n}) is broken at seq ${now.firstBreak.seq} (${now.firstBreak.kind})` };
  return { ok: true, detail: `extends the previous head at seq ${n} (now at seq ${now.head.seq})` };
}

const firstBreak = (breaks: ReadonlyArray<{ seq: number; kind: string }>) => (breaks.length ? [...breaks].sort((a, b) => a.seq - b.seq)[0]! : null);

/** One row per chain the previous pack recorded. */
export function continuityRows(previous: ChainHeads, scan: Pick<LedgerScan, 'zones' | 'admin'>): ContinuityRow[] {
  const rows: ContinuityRow[] = [];
  const add = (chain: string, before: Head, now: Chain | null) => {
    const r = now ? extendsHead(before, now) : { ok: before.seq === 0, detail: before.seq === 0 ? 'the zone is gone and held no rows' : `the zone held rows through seq ${before.seq} and has none now: the newest audit rows were deleted` };
    rows.push({ chain, previous: { seq: before.seq, content_sha256: before.content_sha256 }, current: now?.head ?? null, content_at_previous_seq: now?.at ?? null, verdict: r.ok ? 'PASS' : 'FAIL', detail: r.detail });
  };
  const byId = new Map(scan.zones.map((z) => [z.zone_id, z]));
  for (const [zoneId, before] of Object.entries(previous.zones).sort(([a], [b]) => a.localeCompare(b))) {
    const z = byId.get(zoneId);
    const label = z ? zoneLabel(z) : `zone ${zoneId}`;
    add(label, before, z ? { label, head: z.head, at: z.watched?.content_sha256 ?? null, firstBreak: firstBreak(z.report.breaks), anchor: z.report.anchor && { seq: z.report.anchor.through_seq, content_sha256: z.report.anchor.content_sha256 } } : null);
  }
  if (previous.admin) {
    const a = scan.admin.report;
    const head = { seq: a.last_seq ?? 0, content_sha256: a.last_content_sha256 ?? '' };
    add('admin chain', previous.admin, { label: 'admin chain', head, at: scan.admin.watched?.content_sha256 ?? null, firstBreak: firstBreak(a.breaks), anchor: null });
  }
  return rows;
}

export const auditContinuity: CheckDefinition = {
  id: 'audit-continuity',
  pillar: 'Audit',
  title: 'Audit chains extend the previous pack',
  what:
    "With --previous, each zone's chain and the admin chain must extend the head the previous (verified, signed) pack recorded: the row at that sequence unchanged and the chain up to it intact, so no row before it was rewritten or removed between the two packs.",
  controls: ['R6', 'SOC2-CC7', 'SOC2-PI1', 'EU-AIA-12', 'NIST-MEASURE'],
  command: `the previous pack's signed chain_heads compared with the rows at those sequences (${ROW_COPY} per zone; ${ADMIN_AT_SQL})`,
  run: async (ctx: EvidenceContext) => {
    const previous = ctx.previous;
    if (!previous) return skipped('no previous pack given (--previous PACK): continuity with an earlier pack cannot be shown');
    return withDb(ctx, (db) =>
      withRedis(ctx, async (redis) => {
        let scan: LedgerScan;
        try {
          scan = await ledgerScan(ctx, db, redis);
        } catch (e) {
          return skipped(`the audit chains could not be read (see audit-chains): ${(e as Error)?.message ?? String(e)}`);
        }
        const rows = continuityRows(previous.heads, scan);
        const raw = [
          {
            name: 'continuity.json',
            command: `previous pack ${previous.path} (generated ${previous.generatedAt}, verified): manifest.json chain_heads; current rows as read by audit-chains (${ROW_COPY} per zone; ${ADMIN_AT_SQL})`,
            output: { previous: previous.heads, chains: rows, chain_problems: chainProblems(scan) },
          },
        ];
        const problems = rows.filter((r) => r.verdict === 'FAIL').map((r) => `${r.chain}: ${r.detail}`);
        return verdict(problems, `${rows.length} chain(s) extend the heads of the previous pack of ${previous.generatedAt}`, raw);
      }),
    );
  },
};
