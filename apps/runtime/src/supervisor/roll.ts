// A roll replaces one service's workers without closing its socket: the new workers start on the held socket from
// the given root, and only when every one of them said ready are the old ones drained. A new worker that exits or
// misses the deadline is killed and the old ones keep serving. Once started, a roll runs to its end whatever
// happens to the client that asked for it.
import { resolve } from 'node:path';
import type { Logger } from '@caracal/logging';
import type { RollReply, RollRequest } from './protocol.js';
import type { LaunchSpec, Supervisor } from './supervisor.js';

export interface RollDeps {
  logger: Logger;
  now: () => number;
  /** The spec of a service's workers from an install root, or why that root cannot run it. */
  launchSpec: (service: string, root: string, version: string) => LaunchSpec | string;
  /** SIGTERM → SIGKILL grace for the old workers (they drain) and for new ones that failed. */
  drainGraceMs: number;
  failedGraceMs: number;
}

export async function roll(sup: Supervisor, req: RollRequest, deps: RollDeps): Promise<RollReply> {
  const { service } = req;
  const current = sup.serviceSpec(service);
  if (!current) return { ok: false, service, error: 'bad_request', detail: `no service ${service}` };
  if (sup.stopping) return { ok: false, service, error: 'stopping', detail: 'the supervisor is stopping' };
  const spec = deps.launchSpec(service, resolve(req.root), req.version);
  if (typeof spec === 'string') return { ok: false, service, error: 'bad_request', detail: spec };
  if (spec.root === current.spec.root && !req.restart) return { ok: true, service, unchanged: true, version: current.spec.version };

  const started = deps.now();
  const from = current.spec.version;
  deps.logger.info({ target: service, from, to: req.version, root: spec.root, workers: current.desired }, 'roll started');
  const fresh = sup.addWorkers(service, spec, current.desired, false);
  const ready = () => fresh.every((s) => s.running && s.info.status === 'ready');
  await sup.waitFor(() => ready() || fresh.some((s) => !s.running) || sup.stopping, req.readyTimeoutMs);

  if (!ready() || sup.stopping) {
    const dead = fresh.find((s) => !s.running);
    const waiting = fresh.filter((s) => s.running && s.info.status !== 'ready').length;
    await Promise.all(fresh.map((s) => s.drain(deps.failedGraceMs)));
    const exit = dead?.info.lastExit;
    const detail = sup.stopping
      ? 'the supervisor is stopping'
      : dead
        ? `a new ${service} worker (${req.version}) exited before it was ready (code ${exit?.code ?? '-'}, signal ${exit?.signal ?? '-'}); see logs/${service}.log`
        : `${waiting} of ${fresh.length} new ${service} worker(s) (${req.version}) were not ready within ${req.readyTimeoutMs} ms; see logs/${service}.log`;
    deps.logger.warn({ target: service, to: req.version, detail }, 'roll failed; the old workers keep serving');
    return { ok: false, service, error: sup.stopping ? 'stopping' : dead ? 'exited' : 'not_ready', detail };
  }

  const old = sup.promote(service, spec, fresh);
  await Promise.all(old.map((s) => s.drain(deps.drainGraceMs)));
  const ms = deps.now() - started;
  deps.logger.info({ target: service, from, to: req.version, ms }, 'roll done');
  return { ok: true, service, from: { version: from }, to: { version: req.version }, ms };
}
