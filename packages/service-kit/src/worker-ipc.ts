// Messages to the supervisor that started this process, over its IPC channel when there is one: `ready` once the
// readiness ladder passes (the supervisor waits for it before draining an older worker), `draining` when the
// drain starts. A channel that is missing or gone is never an error: the process keeps serving.

export type WorkerMessage = { type: 'ready'; instance: string } | { type: 'draining'; instance: string };

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
