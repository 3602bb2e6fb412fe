// A reader that goes away early (`caracal down | head -1`) must not kill a command halfway through stopping the
// stack: a write error on stdout or stderr silences that stream instead of crashing the process.
import type { Writable } from 'node:stream';

/**
 * Node reports EPIPE as an 'error' event, which crashes the process when nobody listens. Output that can no longer
 * be delivered is dropped; the command still finishes its work and exits with its own code.
 */
export function surviveClosedPipe(stream: Writable): void {
  stream.on('error', () => {
    // Nothing can be reported on a stream that is gone; the other stream may still be open, but a message there
    // would be noise for the usual case (`| head`), so stay silent.
  });
}
