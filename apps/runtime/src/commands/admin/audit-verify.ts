// `caracal audit verify`: the chain check of one zone or of every zone and the admin chain, run by the API
// (R-AUD-3, R-AUD-5). Every break is named with its zone (or the admin chain), sequence and kind; the verdict is
// the exit code.
import type { AdminChainReport } from '@caracal/db';
import type { ZoneReport } from '@caracal/ledger';
import { adminApi, apiPath, type AdminApi } from '../../admin/client.js';
import { printable } from '../../admin/render.js';
import type { Io } from '../io.js';
import { canReadAdminChain, verifyAdminChain } from './audit-admin.js';
import type { Zone } from './zone.js';

/** Deadline of calls that work through a whole chain or DLQ server-side: minutes on a large one, not seconds. */
export const LONG_CALL_MS = 10 * 60_000;

export interface ZoneVerification extends ZoneReport {
  slug: string;
}

export interface VerifyResult {
  ok: boolean;
  zones: ZoneVerification[];
  /** The admin chain's report when every zone was verified with a global token; otherwise absent. */
  admin?: AdminChainReport;
}

export interface VerifyHooks {
  onZone?: (z: ZoneVerification) => void;
  onAdmin?: (r: AdminChainReport) => void;
}

/** The zone given, or every zone the token can see. */
export async function zonesFor(api: AdminApi, zone: string | undefined): Promise<Zone[]> {
  if (zone !== undefined) return [await api.call<Zone>('GET', apiPath`/v1/zones/${zone}`)];
  return (await api.call<{ items: Zone[] }>('GET', '/v1/zones')).items;
}

/**
 * Verifies zone after zone, then (without --zone) the admin chain; the hooks see each report as soon as it arrives.
 * A zone-confined token cannot read the admin chain: that is said on stderr, and its zones still decide the verdict.
 */
export async function runAuditVerify(opts: { zone?: string }, io: Io, hooks: VerifyHooks = {}): Promise<VerifyResult> {
  const api = adminApi(io);
  const zones = await zonesFor(api, opts.zone);
  const result: VerifyResult = { ok: true, zones: [] };
  for (const zone of zones) {
    const report = await io.out.step(`verifying zone ${printable(zone.slug)}`, () =>
      api.call<ZoneReport>('POST', apiPath`/v1/zones/${zone.id}/audit/verify`, undefined, { timeoutMs: LONG_CALL_MS }),
    );
    const z = { slug: zone.slug, ...report };
    result.zones.push(z);
    result.ok &&= report.ok;
    hooks.onZone?.(z);
  }
  if (zones.length === 0) io.out.info('no zones to verify');
  if (opts.zone !== undefined) return result;
  if (!(await canReadAdminChain(api))) {
    io.out.warn('the admin chain was not verified: it needs a global admin token');
    return result;
  }
  result.admin = await verifyAdminChain(api, io, LONG_CALL_MS);
  result.ok &&= result.admin.ok;
  hooks.onAdmin?.(result.admin);
  return result;
}

/** Human lines: one per break, then one verdict per zone; warnings on stderr. */
export function printZoneVerification(z: ZoneVerification, io: Io): void {
  const label = `zone ${printable(z.slug)} (${z.zone_id})`;
  const lines = z.breaks.map((b) => `${label} seq ${b.seq}: ${b.kind}: ${printable(b.detail)}`);
  if (z.breaks_omitted > 0) lines.push(`${label}: … and ${z.breaks_omitted} more break(s)`);
  const verdict = z.ok ? 'OK' : `FAILED (${z.breaks.length + z.breaks_omitted} break(s))`;
  lines.push(`${label}: ${z.checked} rows checked, head seq ${z.last_seq ?? '-'}: ${verdict}`);
  io.out.data(lines.join('\n'));
  for (const w of z.warnings) io.out.warn(`${label}: ${printable(w)}`);
}
