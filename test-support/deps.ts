// Finds the Postgres and Redis the integration tests use: explicit URLs, the machine's default ports, or
// private servers started the way the managed runtime starts them.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';

export async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function redisAnswers(url: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null });
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/**
 * A free port below the kernel's ephemeral range (32768+ on Linux), picked at random. Stacks under test stop and
 * bind their ports again (a restart, an orphan cleanup); a port from the ephemeral range could meanwhile become the
 * local port of another test's outgoing connection and make that bind fail. For the same reason a port is reserved
 * for the test process that drew it (a file under the system's temp directory), so no other test file of this or a
 * concurrent run draws it while its stack is between a stop and the next bind.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (reserve(port) && (await bindable(port))) return port;
  }
  throw new Error('no free port found in 20000-31999');
}

const RESERVATIONS = join(tmpdir(), 'caracal-test-ports');
const RESERVATION_TTL_MS = 3 * 3600_000;

function holderGone(file: string): boolean {
  try {
    const pid = Number(readFileSync(file, 'utf8'));
    if (Date.now() - statSync(file).mtimeMs > RESERVATION_TTL_MS) return true;
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH' || (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** Claims `port` for this process unless a live process holds it; a claim by this process counts as taken. */
function reserve(port: number): boolean {
  mkdirSync(RESERVATIONS, { recursive: true, mode: 0o1777 });
  const file = join(RESERVATIONS, String(port));
  for (let i = 0; i < 2; i++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !holderGone(file)) return false;
      rmSync(file, { force: true });
    }
  }
  return false;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
