// Evidence check `audit-chains` (R-EVD-1, R-AUD-3, R-AUD-5): every zone's audit chain and the admin-audit chain
// verify over every row, and the chain heads read are signed into the manifest for the next pack's continuity.
import { CHAIN_WALK } from '@caracal/ledger';
import type { CheckDefinition, CheckOutcome, ChainHeads, EvidenceContext, RawOutput } from '../check.js';
import { ledgerScan, type LedgerScan, type ZoneResult } from './audit-ledger.js';
import { ANCHOR_SQL, LAST_SEQ_SQL, MARK_SQL, ZONES_SQL } from './audit-zone-meta.js';
import { ROW_COPY } from './audit-zone-scan.js';
import { verdict, withDb, withRedis } from './support.js';

export const zoneLabel = (z: { zone_id: string; slug: string | null }) => `zone ${z.slug ?? '(not in the zones table)'} (${z.zone_id})`;

/** One line per broken chain: the first break by sequence, with how many more there are. */
export function chainProblems(scan: Pick<LedgerScan, 'zones' | 'admin'>): string[] {
  const first = <B extends { seq: number; kind: string; detail: string }>(breaks: readonly B[], omitted: number) => {
    const b = [...breaks].sort((x, y) => x.seq - y.seq)[0]!;
    const more = breaks.length + omitted - 1;
    return `seq ${b.seq}: ${b.kind}: ${b.detail}${more > 0 ? ` (and ${more} more break(s))` : ''}`;
  };
  const problems = scan.zones.filter((z) => !z.report.ok).map((z) => `${zoneLabel(z)}: ${first(z.report.breaks, z.report.breaks_omitted)}`);
  const a = scan.admin.report;
  if (!a.ok) problems.push(`admin chain: ${first(a.breaks, a.breaks_omitted)}`);
  return problems;
}

const zoneRaw = (z: ZoneResult) => ({
  zone_id: z.zone_id,
  slug: z.slug,
  rows: z.report.checked,
  first_seq: z.report.first_seq,
  head: z.head,
  published_head: z.report.published_head,
  recorded_head: z.report.recorded_head,
  anchor: z.report.anchor,
  verdict: z.report.ok ? 'PASS' : 'FAIL',
  breaks: z.report.breaks,
  breaks_omitted: z.report.breaks_omitted,
  warnings: z.report.warnings,
});

function judge(scan: LedgerScan, keyPrefix: string): CheckOutcome {
  const rows = scan.zones.reduce((n, z) => n + z.report.checked, 0);
  const a = scan.admin.report;
  const raw: RawOutput[] = [
    { name: 'zones.json', command: ZONES_SQL, output: scan.zones.map((z) => ({ zone_id: z.zone_id, slug: z.slug })) },
    {
      name: 'zone-chains.json',
      command: [
        `per zone: ${MARK_SQL}`,
        `HGETALL ${keyPrefix}caracal.audit.head.<zone_id> (and caracal.audit.anchor.<zone_id> when an anchor exists)`,
        ANCHOR_SQL,
        LAST_SEQ_SQL,
        `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; ${CHAIN_WALK}; SELECT set_config('caracal.zone_id', <zone_id>, true); ${ROW_COPY}; COMMIT`,
      ].join('\n'),
      output: { zones: scan.zones.map(zoneRaw), rows_total: rows, worker_threads: scan.workers },
    },
    {
      name: 'admin-chain.json',
      command: `BEGIN; ${scan.admin.statements.join('; ')} (the page query repeated after the last seq read); COMMIT`,
      output: { ...a, verdict: a.ok ? 'PASS' : 'FAIL' },
    },
    { name: 'heads.json', command: 'the chain heads read above, as signed into manifest.json chain_heads', output: scan.heads },
  ];
  const admin = a.checked === 0 ? 'the admin chain (empty)' : `the admin chain (${a.checked} rows, head seq ${a.last_seq})`;
  return verdict(chainProblems(scan), `${scan.zones.length} zone chains (${rows} rows) and ${admin} verify; heads recorded`, raw);
}

export const auditChains: CheckDefinition = {
  id: 'audit-chains',
  pillar: 'Audit',
  title: 'Audit chains verify',
  what:
    "Every row of every zone's audit chain and of the admin-audit chain is re-hashed, its chain HMAC checked under the audit key and its link to the row before followed, and the end of each chain compared with the signed heads; the heads read are signed into the manifest.",
  controls: ['R6', 'SOC2-CC7', 'SOC2-PI1', 'ASI09', 'EU-AIA-12', 'NIST-MEASURE'],
  command: `${ROW_COPY} (per zone) and the admin-audit chain in seq order, checked with the audit HMAC key`,
  run: async (ctx: EvidenceContext) => {
    let heads: ChainHeads | undefined;
    const outcome = await withDb(ctx, (db) =>
      withRedis(ctx, async (redis) => {
        const scan = await ledgerScan(ctx, db, redis);
        heads = scan.heads;
        return judge(scan, ctx.settings.CARACAL_REDIS_KEY_PREFIX);
      }),
    );
    return heads ? { ...outcome, heads } : outcome;
  },
};
