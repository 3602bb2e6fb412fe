// The services' listening sockets, created by `caracal up` and handed to the supervisor as inherited fds, so
// they outlive any worker, roll or supervisor handover. The CLI never accepts on them: they are bound, passed on
// and closed here before its event loop polls for connections again.
import net from 'node:net';
import { SERVICE_NAMES, type ServiceName } from '@caracal/db';
import { CliError } from '../errors.js';
import type { StackContext } from './context.js';
import { describeBusyPort } from './port-holders.js';

export interface HeldSockets {
  fds: Record<ServiceName, number>;
  /** Closes this process's copies (the supervisor holds its own). */
  close: () => void;
}

function listen(host: string, port: number): Promise<net.Server | NodeJS.ErrnoException> {
  const server = net.createServer();
  // For an IP literal both outcomes are emitted on process.nextTick: no event-loop turn happens in between.
  return new Promise((resolve) => {
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err));
    server.once('listening', () => resolve(server));
    server.listen({ host, port, backlog: 511 });
  });
}

export async function listenServiceSockets(ctx: StackContext): Promise<HeldSockets> {
  const host = ctx.settings.CARACAL_BIND_HOST;
  const results = await Promise.all(SERVICE_NAMES.map((s) => listen(host, ctx.settings.ports[s])));
  const servers = results.filter((r): r is net.Server => r instanceof net.Server);
  const close = () => servers.forEach((s) => s.close());
  const problems = SERVICE_NAMES.flatMap((s, i) => {
    const r = results[i];
    if (r instanceof net.Server) return [];
    const port = ctx.settings.ports[s];
    return [(r as NodeJS.ErrnoException).code === 'EADDRINUSE' ? describeBusyPort(port, s) : `port ${port} (${s}): ${(r as Error).message}`];
  });
  if (problems.length > 0) {
    close();
    throw new CliError(problems.join('; '), 1, 'stop what listens there, or change the port in caracal.env');
  }
  const fds = Object.fromEntries(SERVICE_NAMES.map((s, i) => [s, (results[i] as unknown as { _handle?: { fd?: unknown } })._handle?.fd])) as Record<ServiceName, unknown>;
  if (!SERVICE_NAMES.every((s) => typeof fds[s] === 'number' && (fds[s] as number) >= 0)) {
    close();
    throw new CliError('this platform does not expose listening sockets as file descriptors; the local runtime needs Linux or macOS');
  }
  return { fds: fds as Record<ServiceName, number>, close };
}
