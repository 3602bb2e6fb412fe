// Draining an HTTP server without dropping a request. The listening socket may be shared with other processes
// (inherited from the supervisor), so the server stops accepting by closing only its own handle
// (net.Server#close): http.Server#close would also close idle keep-alive connections at once, racing with clients
// that are about to reuse them. From the drain on, every response carries `Connection: close`, so a kept-alive
// client finishes its request and reconnects to the socket, where another process accepts. A connection idle for
// `idleMs` during the drain is closed; active requests get `graceMs` more, then their connections are closed.
import net, { type Socket } from 'node:net';
import type { Server, ServerResponse } from 'node:http';

export interface DrainResult {
  /** Connections still open at the deadline, closed anyway. */
  forced: number;
}

interface Connection {
  active: number;
  idleSince: number;
}

export class HttpDrain {
  private drainStart: number | undefined;
  private readonly connections = new Map<Socket, Connection>();
  private readonly inFlight = new Set<ServerResponse>();

  /** Attach before the server listens, so every connection is tracked. */
  constructor(
    private readonly server: Server,
    private readonly now: () => number = Date.now,
  ) {
    server.on('connection', (socket: Socket) => {
      this.connections.set(socket, { active: 0, idleSince: this.now() });
      socket.once('close', () => this.connections.delete(socket));
    });
    // Ahead of the app's own handler, so the header is in place before any response is written.
    server.prependListener('request', (req, res) => {
      const conn = this.connections.get(req.socket);
      if (conn) conn.active += 1;
      this.inFlight.add(res);
      if (this.drainStart !== undefined) res.setHeader('connection', 'close');
      res.once('close', () => {
        this.inFlight.delete(res);
        if (conn) {
          conn.active -= 1;
          conn.idleSince = this.now();
        }
      });
    });
  }

  async drain(idleMs: number, graceMs: number): Promise<DrainResult> {
    const start = (this.drainStart = this.now());
    if (this.server.listening) net.Server.prototype.close.call(this.server);
    // Responses already in progress whose headers are not written yet still get to tell the client.
    for (const res of this.inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
    const deadline = start + idleMs + graceMs;
    while (this.connections.size > 0 && this.now() < deadline) {
      // A connection idle that long (counted from the drain's start) has no client about to use it.
      for (const [socket, conn] of this.connections) {
        if (conn.active === 0 && this.now() - Math.max(conn.idleSince, start) >= idleMs) socket.destroy();
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    const forced = this.connections.size;
    for (const socket of this.connections.keys()) socket.destroy();
    return { forced };
  }
}
