// The supervisor moves to another install root without closing a socket or stopping a worker (as nginx's binary
// upgrade does): it records its state in an adoption file, starts the root's supervisor with the same listening
// fds, and exits once that successor says it has adopted the workers and owns the control socket and state file.
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '@caracal/logging';
import type { AdoptedMessage, HandoverReply, HandoverRequest } from './protocol.js';
import type { SupervisorState } from './state.js';
import type { Supervisor } from './supervisor.js';

export interface HandoverDeps {
  logger: Logger;
  /** Why `root` cannot take over (no supervisor entry, another version), or nothing. */
  checkRoot: (root: string, version: string) => string | undefined;
  writeAdoption: (state: SupervisorState) => void;
  removeAdoption: () => void;
  /** Starts `root`'s supervisor with the listening fds, the adoption file and an IPC channel back to us. */
  spawnSuccessor: (root: string) => ChildProcess;
  /** Binds the control socket path to this process again (a failed successor may have taken it). */
  reclaimControl: () => Promise<void>;
  /** Ends this process without stopping a worker or removing the socket and state file the successor owns. */
  leave: () => void;
  /** How long to wait for starting workers to become ready before handing over, and for the successor. */
  settleMs: number;
  takeoverMs: number;
}

export interface HandoverOutcome {
  reply: HandoverReply;
  /** Run once the reply is sent: the predecessor leaves, its workers stay. */
  after?: () => void;
}

export async function handover(sup: Supervisor, req: HandoverRequest, deps: HandoverDeps): Promise<HandoverOutcome> {
  const failed = (detail: string, error: 'bad_request' | 'stopping' | 'busy' | 'handover_failed' = 'handover_failed'): HandoverOutcome => ({
    reply: { ok: false, error, detail },
  });
  if (sup.stopping) return failed('the supervisor is stopping', 'stopping');
  const problem = deps.checkRoot(req.root, req.version);
  if (problem) return failed(problem, 'bad_request');
  // An adopted worker has no IPC channel, so one that has not said ready yet never could: hand over only when
  // every worker is ready (or waiting out its backoff, which the successor will restart).
  if (!(await sup.waitFor(() => sup.settled(), deps.settleMs))) return failed(`a worker did not become ready within ${deps.settleMs} ms`, 'busy');

  sup.pause();
  let child: ChildProcess | undefined;
  try {
    deps.writeAdoption(sup.snapshot());
    child = deps.spawnSuccessor(req.root);
    const pid = await takenOver(child, deps.takeoverMs);
    deps.logger.info({ successor: pid, root: req.root, version: req.version }, 'handed over to the successor; leaving the workers to it');
    const successor = child;
    const leave = () => {
      if (successor.connected) successor.disconnect();
      deps.leave();
    };
    return { reply: { ok: true, pid }, after: leave };
  } catch (err) {
    child?.kill('SIGKILL');
    deps.removeAdoption();
    await deps.reclaimControl();
    sup.resume();
    const detail = (err as Error).message;
    deps.logger.error({ root: req.root, detail }, 'handover failed; this supervisor carries on');
    return failed(detail);
  }
}

function takenOver(child: ChildProcess, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the new supervisor did not take over within ${timeoutMs} ms`)), timeoutMs);
    child.on('message', (m: Partial<AdoptedMessage>) => {
      if (m?.type !== 'adopted' || typeof m.pid !== 'number') return;
      clearTimeout(timer);
      resolve(m.pid);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the new supervisor exited before taking over (code ${code ?? '-'}, signal ${signal ?? '-'}); see logs/supervisor.log`));
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`the new supervisor could not be started: ${err.message}`));
    });
  });
}
