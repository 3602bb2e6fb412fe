// Messages to the supervisor that started this process, over its IPC channel when there is one: `ready` once the
// readiness ladder passes (the supervisor waits for it before draining an older worker), `draining` when the
// drain starts. A channel that is missing or gone is never an error: the process keeps serving. Before any of that,
// a worker started held (CARACAL_START_HELD=1) says `held` and waits for the supervisor's `start` (awaitStart).

export type WorkerMessage = { type: 'ready'; instance: string } | { type: 'draining'; instance: string } | { type: 'held' };

/** The only message a supervisor sends a worker: the start it held back may go ahead. */
export interface StartMessage {
  type: 'start';
}

/** Why a held worker could not be started. */
export class HeldStartError extends Error {}

/**
 * With CARACAL_START_HELD=1 (set by a supervisor that `caracal up` started before migrating), resolves once the
 * supervisor sends `start`: until then the process has its code loaded and has done nothing else (no configuration
 * read, no connection, no request taken). Rejects when there is no channel to be released over, or when it closes
 * first (the supervisor is gone: nobody will release this process). Without the variable it resolves at once.
 */
export function awaitStart(env: NodeJS.ProcessEnv, proc: NodeJS.Process = process): Promise<void> {
  if (env.CARACAL_START_HELD !== '1') return Promise.resolve();
  if (typeof proc.send !== 'function' || !proc.connected) return Promise.reject(new HeldStartError('CARACAL_START_HELD=1, but no supervisor channel to be started over'));
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown) => {
      if ((m as Partial<StartMessage> | null)?.type !== 'start') return;
      done();
      resolve();
    };
    const onDisconnect = () => {
      done();
      reject(new HeldStartError('the supervisor went away before it started this worker'));
    };
    const done = () => {
      proc.off('message', onMessage);
      proc.off('disconnect', onDisconnect);
    };
    proc.on('message', onMessage);
    proc.on('disconnect', onDisconnect);
    // Asked only once listening: a `start` cannot arrive before this process is ready to hear it.
    proc.send!({ type: 'held' } satisfies WorkerMessage, undefined, undefined, () => undefined);
  });
}

export interface WorkerIpc {
  /** Whether a supervisor listens at all; without one nothing is polled or sent. */
  readonly attached: boolean;
  send: (msg: WorkerMessage) => void;
}

export function processIpc(proc: NodeJS.Process = process): WorkerIpc {
  return {
    attached: typeof proc.send === 'function',
    send(msg) {
      if (typeof proc.send !== 'function' || !proc.connected) return;
      try {
        // With a callback, a failed send is reported to it instead of as an 'error' event on the process.
        proc.send(msg, undefined, undefined, () => undefined);
      } catch {
        // The channel closed between the check and the send.
      }
    },
  };
}

/**
 * Polls readiness every `everyMs` (each check after the previous one finished) and sends `ready` once it passes.
 * Returns a function that stops the polling.
 */
export function announceReady(ready: () => Promise<boolean>, send: () => void, everyMs = 100): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    const ok = await ready().catch(() => false);
    if (stopped) return;
    if (ok) send();
    else timer = setTimeout(() => void tick(), everyMs);
  };
  void tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
