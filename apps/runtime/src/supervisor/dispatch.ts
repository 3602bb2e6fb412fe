// Turns control requests into supervisor operations: `status` and `release` at once; `roll` and `handover` one at a time, in the
// order they arrived, each carried through even when its client has gone.
import { controlRequest } from './protocol.js';
import type { Handled, Handler } from './control-server.js';
import { handover, type HandoverDeps } from './handover.js';
import { roll, type RollDeps } from './roll.js';
import type { Supervisor } from './supervisor.js';

export function dispatcher(sup: Supervisor, rollDeps: RollDeps, handoverDeps: HandoverDeps): Handler {
  let chain: Promise<unknown> = Promise.resolve();
  let successor: number | undefined;
  const serial = (op: () => Promise<Handled>): Promise<Handled> => {
    const run = chain.then(() => (successor ? gone(successor) : op()));
    chain = run.catch(() => undefined);
    return run;
  };
  return async (raw) => {
    const parsed = controlRequest.safeParse(raw);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; ');
      return { reply: { ok: false, error: 'bad_request', detail } };
    }
    const req = parsed.data;
    if (req.type === 'status') return { reply: { ok: true, state: sup.snapshot() } };
    // Held workers have not started, and migrations may not have run: nothing is rolled or handed over until the
    // hold ends (a roll's new workers would wait for a start that never comes).
    if (req.type === 'release') return { reply: { ok: true, released: sup.release() } };
    if (sup.held) {
      return { reply: { ok: false, error: 'held', detail: 'the workers wait for `caracal up` to release them (an up was interrupted): run `caracal up` first' } };
    }
    if (req.type === 'roll') return serial(async () => ({ reply: await roll(sup, req, rollDeps) }));
    return serial(async () => {
      const out = await handover(sup, req, handoverDeps);
      if (out.reply.ok) successor = out.reply.pid;
      return out;
    });
  };
}

/** A request queued behind a handover that succeeded: the successor answers from now on. */
const gone = (pid: number): Promise<Handled> =>
  Promise.resolve({ reply: { ok: false, error: 'stopping', detail: `this supervisor handed over to PID ${pid}; send the request again` } });
