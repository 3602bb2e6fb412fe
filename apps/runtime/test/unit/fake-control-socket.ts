// A stand-in for the supervisor's control socket in unit tests: answers each request line with `reply(request)`, or
// not at all when it returns undefined, and records the requests it saw.
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { HomeLayout } from '../../src/home/paths.js';

export interface FakeControlSocket {
  seen: Array<Record<string, unknown>>;
  close: () => Promise<void>;
}

export const socketPath = (home: HomeLayout) => join(home.dataDir, 'supervisor.sock');

export async function fakeControlSocket(home: HomeLayout, reply: (req: Record<string, unknown>) => string | undefined): Promise<FakeControlSocket> {
  mkdirSync(home.dataDir, { recursive: true });
  const seen: Array<Record<string, unknown>> = [];
  const server = net.createServer((socket) => {
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const req = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
      seen.push(req);
      const out = reply(req);
      if (out !== undefined) socket.end(out);
    });
  });
  await new Promise<void>((r) => server.listen(socketPath(home), r));
  return { seen, close: () => new Promise((r) => server.close(() => r())) };
}
