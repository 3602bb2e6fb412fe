// The supervisor's control socket: a Unix socket (0600, in the 0700 data dir) taking one JSON line and answering
// one JSON line per connection. It is bound under a temporary name and renamed onto its path, so the path always
// leads to a live supervisor: a successor takes it over atomically, and the old one's handle never unlinks it.
import { chmodSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import type { Logger } from '@caracal/logging';

export interface Handled {
  reply: object;
  /** Runs once the reply has been written (or the client has gone). */
  after?: () => void;
}

export type Handler = (request: unknown) => Promise<Handled>;

export interface ControlServer {
  /** Binds afresh and moves the socket back onto the path (after a successor failed to take over). */
  reclaim: () => Promise<void>;
  /** Stops listening and removes the path if it is still this process's socket. */
  close: () => void;
}

const MAX_LINE = 64 * 1024;
/** sun_path holds 108 bytes on Linux (104 on macOS), with the NUL and the temporary suffix. */
const MAX_PATH = 90;

export async function listenControl(path: string, handler: Handler, logger: Logger): Promise<ControlServer> {
  if (Buffer.byteLength(path) > MAX_PATH) throw new Error(`the control socket path ${path} is longer than ${MAX_PATH} bytes; use a shorter CARACAL_HOME`);
  let n = 0;
  let current: { server: net.Server; ino: number } | undefined;
  const bind = async () => {
    const tmp = `${path}.${process.pid}-${++n}`;
    rmSync(tmp, { force: true });
    const server = net.createServer((socket) => serve(socket, handler, logger));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tmp, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(tmp, 0o600);
    const ino = statSync(tmp).ino;
    renameSync(tmp, path);
    // Closing a bound Unix server unlinks the name it was bound to: here a temporary name that no longer exists.
    current?.server.close();
    current = { server, ino };
  };
  await bind();
  return {
    reclaim: bind,
    close: () => {
      current?.server.close();
      try {
        if (current && statSync(path).ino === current.ino) unlinkSync(path);
      } catch {
        // already gone
      }
    },
  };
}

function serve(socket: net.Socket, handler: Handler, logger: Logger): void {
  let buf = '';
  let taken = false;
  socket.setEncoding('utf8');
  socket.setTimeout(10_000, () => {
    if (!taken) socket.destroy();
  });
  socket.on('error', () => undefined);
  socket.on('data', (chunk: string) => {
    if (taken) return;
    buf += chunk;
    const nl = buf.indexOf('\n');
    if (nl < 0 && buf.length <= MAX_LINE) return;
    taken = true;
    socket.setTimeout(0);
    if (nl < 0) return respond(socket, failure('the request line is too long'));
    let request: unknown;
    try {
      request = JSON.parse(buf.slice(0, nl));
    } catch {
      return respond(socket, failure('the request is not JSON'));
    }
    handler(request).then(
      (out) => respond(socket, out),
      (err: unknown) => {
        logger.error({ err: { message: (err as Error).message } }, 'control request failed');
        respond(socket, { reply: { ok: false, error: 'internal', detail: 'the supervisor could not carry out the request; see logs/supervisor.log' } });
      },
    );
  });
}

const failure = (detail: string): Handled => ({ reply: { ok: false, error: 'bad_request', detail } });

function respond(socket: net.Socket, out: Handled): void {
  let done = false;
  const after = () => {
    if (done) return;
    done = true;
    out.after?.();
  };
  if (socket.destroyed || !socket.writable) return after();
  socket.once('close', after);
  socket.end(`${JSON.stringify(out.reply)}\n`, after);
}
