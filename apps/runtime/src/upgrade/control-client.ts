// A client of the supervisor's control socket ($CARACAL_HOME/data/supervisor.sock): connect, write one JSON request
// line, read one JSON reply line. Same signature as the stack's control client, `supervisorRequest(home, req,
// timeoutMs)`, which may take its place.
import net from 'node:net';
import { join } from 'node:path';
import type { HomeLayout } from '../home/paths.js';
import type { ControlRequest } from './control.js';

export const controlSocket = (home: HomeLayout) => join(home.dataDir, 'supervisor.sock');

/** One request, one reply line, over the supervisor's control socket. */
export function supervisorRequest(home: HomeLayout, req: ControlRequest, timeoutMs: number): Promise<unknown> {
  const path = controlSocket(home);
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(path);
    let buf = '';
    const fail = (e: Error) => {
      socket.destroy();
      reject(e);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`no reply from the supervisor within ${timeoutMs} ms (${req.type})`)));
    socket.on('connect', () => socket.write(`${JSON.stringify(req)}\n`));
    socket.on('data', (d) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl === -1) return;
      socket.end();
      try {
        resolve(JSON.parse(buf.slice(0, nl)) as unknown);
      } catch {
        reject(new Error(`the supervisor sent an unreadable reply to ${req.type}`));
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? `${path} does not accept connections (${e.code}): the running supervisor has no control socket` : `${path}: ${e.message}`;
      fail(new Error(why));
    });
    socket.on('end', () => {
      if (!buf.includes('\n')) fail(new Error(`the supervisor closed ${path} without replying to ${req.type}`));
    });
  });
}
