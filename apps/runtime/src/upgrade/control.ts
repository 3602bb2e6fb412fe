// What the upgrade asks of the running supervisor, over its control socket ($CARACAL_HOME/data/supervisor.sock,
// JSON lines, one request, one reply): its state, to roll one service to a release root, and to hand itself over
// to a release root without closing any listening socket.
import type { SERVICE_NAMES } from '@caracal/db';
import type { HomeLayout } from '../home/paths.js';
import { supervisorRequest } from '../stack/supervisor-control.js';

export interface WorkerView {
  pid: number;
  instance?: string;
  status: string;
}

export interface ServiceView {
  version?: string;
  root?: string;
  desired?: number;
  workers?: WorkerView[];
}

export interface SupervisorView {
  pid: number;
  version?: string;
  root?: string;
  services: Record<string, ServiceView>;
}

export type RollReply = { ok: true; unchanged?: boolean; ms?: number } | { ok: false; error: string; detail?: string };

export interface UpgradeControl {
  status: () => Promise<SupervisorView>;
  roll: (service: (typeof SERVICE_NAMES)[number], root: string, version: string, readyTimeoutMs: number) => Promise<RollReply>;
  handover: (root: string, version: string) => Promise<{ pid: number }>;
}

export class ControlError extends Error {}

export type ControlRequest =
  | { type: 'status' }
  | { type: 'roll'; service: (typeof SERVICE_NAMES)[number]; root: string; version: string; readyTimeoutMs: number }
  | { type: 'handover'; root: string; version: string };
/** The control client's request function: `supervisorRequest(home, req, timeoutMs)`, resolving with the reply line. */
export type SupervisorRequest = (home: HomeLayout, req: ControlRequest, timeoutMs: number) => Promise<unknown>;

/** Beyond the readiness deadline, a roll waits for the old workers to drain (their grace) before it replies. */
const ROLL_DRAIN_MARGIN_MS = 60_000;
const HANDOVER_TIMEOUT_MS = 30_000;
const STATUS_TIMEOUT_MS = 5_000;

export function upgradeControl(home: HomeLayout, request: SupervisorRequest = supervisorRequest): UpgradeControl {
  const ask = async (req: ControlRequest, timeoutMs: number): Promise<Record<string, unknown>> => {
    const reply = await request(home, req, timeoutMs);
    if (typeof reply !== 'object' || reply === null) throw new ControlError(`the supervisor sent an unreadable reply to ${req.type}`);
    return reply as Record<string, unknown>;
  };
  return {
    status: async () => {
      const r = await ask({ type: 'status' }, STATUS_TIMEOUT_MS);
      if (r.ok !== true || typeof r.state !== 'object' || r.state === null) throw new ControlError(`the supervisor did not report its state: ${describe(r)}`);
      const state = r.state as SupervisorView;
      return { ...state, services: state.services ?? {} };
    },
    roll: async (service, root, version, readyTimeoutMs) => {
      const r = await ask({ type: 'roll', service, root, version, readyTimeoutMs }, readyTimeoutMs + ROLL_DRAIN_MARGIN_MS);
      if (r.ok === true) return { ok: true, ...(r.unchanged === true ? { unchanged: true } : {}), ...(typeof r.ms === 'number' ? { ms: r.ms } : {}) };
      return { ok: false, error: typeof r.error === 'string' ? r.error : 'failed', ...(typeof r.detail === 'string' ? { detail: r.detail } : {}) };
    },
    handover: async (root, version) => {
      const r = await ask({ type: 'handover', root, version }, HANDOVER_TIMEOUT_MS);
      if (r.ok !== true || typeof r.pid !== 'number') throw new ControlError(`the supervisor did not hand over to ${root}: ${describe(r)}`);
      return { pid: r.pid };
    },
  };
}

function describe(reply: Record<string, unknown>): string {
  return [reply.error, reply.detail].filter((x) => typeof x === 'string').join(': ') || 'no reason given';
}
