// Which processes listen on a TCP port, read from /proc (Linux): the kernel's socket tables give the listening
// socket's inode, each process's fd links name the sockets it holds. Only processes this user may inspect are
// seen; where there is no /proc nothing is known and the lists are empty.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface PortHolder {
  pid: number;
  /** Its command line, space-joined; empty when it could not be read. */
  command: string;
}

const LISTEN = '0A';

/**
 * The inodes of the TCP sockets (IPv4 and IPv6) whose local port, remote port and state `match`, each with its
 * local port. The kernel builds these tables on every read, which costs milliseconds: read them once per question.
 */
export function tcpSocketInodes(match: (localPort: number, remotePort: number, state: string) => boolean): Map<string, number> {
  const inodes = new Map<string, number>();
  const port = (addr: string) => Number.parseInt(addr.slice(addr.lastIndexOf(':') + 1), 16);
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const local = port(f[1]!);
      if (match(local, port(f[2]!), f[3]!)) inodes.set(f[9]!, local);
    }
  }
  return inodes;
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** The processes holding a listening socket on each of `ports` (a port nobody listens on maps to an empty list). */
export function portHolders(ports: readonly number[]): Map<number, PortHolder[]> {
  const holders = new Map<number, PortHolder[]>(ports.map((p) => [p, []]));
  const wanted = new Set(ports);
  const inodes = tcpSocketInodes((local, _remote, state) => wanted.has(local) && state === LISTEN);
  if (inodes.size === 0) return holders;
  const links = new Map([...inodes].map(([inode, port]) => [`socket:[${inode}]`, port]));
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return holders;
  }
  for (const p of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${p}/fd`);
    } catch {
      continue; // gone, or not ours to inspect
    }
    const held = new Set<number>();
    for (const fd of fds) {
      try {
        const port = links.get(readlinkSync(`/proc/${p}/fd/${fd}`));
        if (port !== undefined) held.add(port);
      } catch {
        // closed meanwhile
      }
    }
    if (held.size === 0) continue;
    const command = readOr(`/proc/${p}/cmdline`, '').split('\0').join(' ').trim();
    for (const port of held) holders.get(port)!.push({ pid: Number(p), command });
  }
  return holders;
}

/** The variables `pid` was started with (empty when they cannot be read). */
export function processEnv(pid: number): Map<string, string> {
  const vars = new Map<string, string>();
  for (const kv of readOr(`/proc/${pid}/environ`, '').split('\0')) {
    const eq = kv.indexOf('=');
    if (eq > 0) vars.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return vars;
}

/** "port 8080 (api) already in use by PID 123 (node main.js)" — the holders named when they can be seen. */
export function describeBusyPort(port: number, label: string): string {
  const holders = portHolders([port]).get(port)!;
  const by = holders.length === 0 ? '' : ` by ${holders.map((h) => `PID ${h.pid}${h.command ? ` (${h.command})` : ''}`).join(', ')}`;
  return `port ${port} (${label}) already in use${by}`;
}
