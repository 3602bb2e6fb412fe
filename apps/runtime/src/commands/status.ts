// `caracal status`: probe every service once (or until ready within --wait); exit 0 iff all are ok.
import { loadContext, serviceUrl, services } from '../stack/context.js';
import { waitForAll, type ProbeResult } from '../stack/probe.js';
import { runningSupervisor } from '../stack/supervisor-control.js';
import { table } from '../output.js';
import type { Io } from './io.js';

export interface StatusOptions {
  ready?: boolean;
  json?: boolean;
  wait?: number;
}

export interface StatusReport {
  ok: boolean;
  check: 'health' | 'ready';
  supervisor: { pid: number } | null;
  services: Array<ProbeResult & { pid: number | null; restarts: number }>;
}

export async function runStatus(opts: StatusOptions, io: Io): Promise<StatusReport> {
  const ctx = loadContext(io.env);
  const path = opts.ready ? '/ready' : '/health';
  const targets = services.map((service) => ({ service, url: serviceUrl(ctx, service) }));
  const results = await waitForAll(targets, path, { intervalMs: 1000, deadlineMs: (opts.wait ?? 0) * 1000 });
  const sup = runningSupervisor(ctx.home);
  return {
    ok: results.every((r) => r.ok),
    check: opts.ready ? 'ready' : 'health',
    supervisor: sup ? { pid: sup.pid } : null,
    services: results.map((r) => ({ ...r, pid: sup?.services[r.service]?.pid ?? null, restarts: sup?.services[r.service]?.restarts ?? 0 })),
  };
}

export function printStatus(r: StatusReport, io: Io, json: boolean | undefined): void {
  if (json) return io.out.json(r);
  const rows = r.services.map((s) => [s.service, s.ok ? 'ok' : 'FAIL', s.reason ?? '', s.pid ? String(s.pid) : '-', String(s.restarts), s.url]);
  io.out.data(table(['SERVICE', r.check.toUpperCase(), 'REASON', 'PID', 'RESTARTS', 'URL'], rows));
  if (!r.supervisor) io.out.info('supervisor: not running');
}
