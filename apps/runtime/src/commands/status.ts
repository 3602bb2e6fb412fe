// `caracal status`: probe every service once (or until ready within --wait), and show what the supervisor runs:
// each service's version and its workers (ready/total, PIDs). Exit 0 iff every probe is ok.
import { loadContext, serviceUrl, services } from '../stack/context.js';
import { waitForAll, type ProbeResult } from '../stack/probe.js';
import { runningSupervisor, supervisorStatus, type SupervisorState } from '../stack/supervisor-control.js';
import { table } from '../output.js';
import type { Io } from './io.js';

export interface StatusOptions {
  ready?: boolean;
  json?: boolean;
  wait?: number;
}

export interface ServiceStatus extends ProbeResult {
  version: string | null;
  workers: { ready: number; total: number; desired: number };
  pids: number[];
  restarts: number;
}

export interface StatusReport {
  ok: boolean;
  check: 'health' | 'ready';
  supervisor: { pid: number; version: string | null; root: string | null } | null;
  services: ServiceStatus[];
}

export async function runStatus(opts: StatusOptions, io: Io): Promise<StatusReport> {
  const ctx = loadContext(io.env);
  const path = opts.ready ? '/ready' : '/health';
  const targets = services.map((service) => ({ service, url: serviceUrl(ctx, service) }));
  const results = await waitForAll(targets, path, { intervalMs: 1000, deadlineMs: (opts.wait ?? 0) * 1000 });
  // The live state over the control socket; the recorded one if the supervisor runs but does not answer.
  const sup: SupervisorState | undefined = await supervisorStatus(ctx.home, 2000).catch(() => runningSupervisor(ctx.home));
  return {
    ok: results.every((r) => r.ok),
    check: opts.ready ? 'ready' : 'health',
    supervisor: sup ? { pid: sup.pid, version: sup.version ?? null, root: sup.root ?? null } : null,
    services: results.map((r) => {
      const st = sup?.services[r.service];
      const workers = st?.workers ?? [];
      return {
        ...r,
        version: st?.version ?? null,
        workers: { ready: workers.filter((w) => w.status === 'ready').length, total: workers.length, desired: st?.desired ?? 0 },
        pids: workers.flatMap((w) => (w.pid ? [w.pid] : [])),
        restarts: st?.restarts ?? 0,
      };
    }),
  };
}

export function printStatus(r: StatusReport, io: Io, json: boolean | undefined): void {
  if (json) return io.out.json(r);
  const rows = r.services.map((s) => [
    s.service,
    s.ok ? 'ok' : 'FAIL',
    s.reason ?? '',
    s.version ?? '-',
    r.supervisor ? `${s.workers.ready}/${s.workers.total}` : '-',
    s.pids.length > 0 ? s.pids.join(',') : '-',
    String(s.restarts),
    s.url,
  ]);
  io.out.data(table(['SERVICE', r.check.toUpperCase(), 'REASON', 'VERSION', 'WORKERS', 'PIDS', 'RESTARTS', 'URL'], rows));
  if (!r.supervisor) io.out.info('supervisor: not running');
}
