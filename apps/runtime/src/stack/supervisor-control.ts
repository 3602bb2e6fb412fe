// The client of the supervisor's control socket ($CARACAL_HOME/data/supervisor.sock), and where the supervisor's
// recorded state is found.
//
// Protocol: connect, write one JSON request line, read one JSON reply line; the supervisor then closes.
//   {type:'status'}                                   → {ok:true, state: SupervisorState}
//   {type:'roll', service, root, version, readyTimeoutMs, restart?}
//       → {ok:true, service, from:{version}, to:{version}, ms}       the service now runs `root`'s code
//       | {ok:true, service, unchanged:true, version}                 it already ran from `root` (and no `restart`)
//       | {ok:false, service, error:'not_ready'|'exited'|…, detail}   new workers killed, the old ones still serve
//   {type:'handover', root, version}                  → {ok:true, pid: <new supervisor>} | {ok:false, error, detail}
//   {type:'release'}                                  → {ok:true, released}   workers started held may start
// While held (until `release`), roll and handover answer {ok:false, error:'held', detail}.
// A roll or handover is carried through even if the client goes away; a reply timeout here does not cancel it
// (ask `status` to see where it got to). `root` must hold `version` (apps/runtime/package.json) or the request is
// refused with `bad_request`.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { HomeLayout } from '../home/paths.js';
import type { ControlReply, ControlRequest, HandoverReply, HandoverRequest, ReleaseReply, RollReply, RollRequest, StatusReply } from '../supervisor/protocol.js';
import type { SupervisorState } from '../supervisor/state.js';
import { pidRuns } from '../supervisor/worker-process.js';
import { READY_POLL_MS } from './probe.js';

export type { SupervisorState, ServiceState, WorkerState } from '../supervisor/state.js';
export type { ControlReply, ControlRequest, HandoverReply, RollReply, StatusReply } from '../supervisor/protocol.js';
export { pidRuns };

export const supervisorSocket = (home: HomeLayout) => join(home.dataDir, 'supervisor.sock');
export const adoptionFile = (home: HomeLayout) => join(home.dataDir, 'supervisor-adopt.json');

/** Room for a roll's old workers to drain (and failed new ones to be killed) after the readiness deadline. */
const ROLL_MARGIN_MS = 60_000;
/** The supervisor waits up to 30 s for starting workers and 30 s for its successor. */
const HANDOVER_TIMEOUT_MS = 90_000;

/** No reply: `not_running` (no socket, or nobody listening), `timeout`, `closed` (no reply line), `bad_reply`. */
export class SupervisorUnreachable extends Error {
  constructor(
    readonly reason: 'not_running' | 'timeout' | 'closed' | 'bad_reply',
    message: string,
  ) {
    super(message);
  }
}

export function supervisorRequest(home: HomeLayout, req: ControlRequest, timeoutMs: number): Promise<ControlReply> {
  const path = supervisorSocket(home);
  return new Promise((resolve, reject) => {
    let buf = '';
    let settled = false;
    const finish = (err: SupervisorUnreachable | undefined, reply?: ControlReply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    const socket = net.createConnection(path, () => socket.write(`${JSON.stringify(req)}\n`));
    const timer = setTimeout(() => finish(new SupervisorUnreachable('timeout', `the supervisor did not answer ${req.type} within ${timeoutMs} ms`)), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        finish(undefined, JSON.parse(buf.slice(0, nl)) as ControlReply);
      } catch {
        finish(new SupervisorUnreachable('bad_reply', `the supervisor's reply to ${req.type} is not JSON`));
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const down = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
      finish(new SupervisorUnreachable(down ? 'not_running' : 'closed', down ? `no supervisor listens on ${path}` : `${path}: ${err.message}`));
    });
    socket.on('close', () => finish(new SupervisorUnreachable('closed', `the supervisor closed ${path} without answering ${req.type}`)));
  });
}

/** The live state; throws SupervisorUnreachable when no supervisor answers. */
export async function supervisorStatus(home: HomeLayout, timeoutMs = 5000): Promise<SupervisorState> {
  const reply = (await supervisorRequest(home, { type: 'status' }, timeoutMs)) as StatusReply;
  if (!reply.ok) throw new SupervisorUnreachable('bad_reply', `status: ${reply.detail}`);
  return reply.state;
}

/** Replaces `service`'s workers with ones from `root` (see the protocol above); resolves with the reply. */
export async function rollService(home: HomeLayout, req: Omit<RollRequest, 'type'>, timeoutMs = req.readyTimeoutMs + ROLL_MARGIN_MS): Promise<RollReply> {
  return (await supervisorRequest(home, { type: 'roll', ...req }, timeoutMs)) as RollReply;
}

/** Moves the supervisor to `root`'s code; no socket closes and every worker keeps running. */
export async function handoverSupervisor(home: HomeLayout, req: Omit<HandoverRequest, 'type'>, timeoutMs = HANDOVER_TIMEOUT_MS): Promise<HandoverReply> {
  return (await supervisorRequest(home, { type: 'handover', ...req }, timeoutMs)) as HandoverReply;
}

/** Lets the workers of a supervisor started held (startSupervisor) start; one not holding is left as it is. */
export async function releaseSupervisor(home: HomeLayout, timeoutMs = 5000): Promise<ReleaseReply> {
  return (await supervisorRequest(home, { type: 'release' }, timeoutMs)) as ReleaseReply;
}

export function readSupervisorState(home: HomeLayout): SupervisorState | undefined {
  try {
    return JSON.parse(readFileSync(home.supervisorState, 'utf8')) as SupervisorState;
  } catch {
    return undefined;
  }
}

/** What a supervisor's command line holds, whichever entry it runs (supervisorArgs). */
export const SUPERVISOR_NEEDLE = join('supervisor', 'main.js');

/** The recorded state, when the supervisor that wrote it still runs. */
export function runningSupervisor(home: HomeLayout): SupervisorState | undefined {
  const state = readSupervisorState(home);
  return state && pidRuns(state.pid, SUPERVISOR_NEEDLE) ? state : undefined;
}

/** Services whose workers have not all said ready (fewer ready than desired), as `gateway (1/2 workers ready)`. */
export function pendingWorkers(state: SupervisorState): string[] {
  return Object.entries(state.services).flatMap(([name, st]) => {
    const ready = st.workers.filter((w) => w.status === 'ready').length;
    return ready >= st.desired ? [] : [`${name} (${ready}/${st.desired} workers ready)`];
  });
}

/** Polls the supervisor until every worker said ready; returns what is still pending when the deadline passes. */
export async function waitForWorkers(home: HomeLayout, deadlineMs: number, onPending?: (pending: string[]) => void): Promise<string[]> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    let pending: string[];
    try {
      pending = pendingWorkers(await supervisorStatus(home));
    } catch (err) {
      pending = [(err as Error).message];
    }
    if (pending.length === 0 || Date.now() >= until) return pending;
    onPending?.(pending);
    await new Promise((r) => setTimeout(r, READY_POLL_MS));
  }
}
