// A worker thread of the audit-chains check: its own read-only connection, zone jobs in, zone scans out. The
// secrets are read here from their files, so none crosses the thread boundary.
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import { chainKey } from '@caracal/db';
import { READ_ONLY_SESSION, secret as readSecret } from '../connect.js';
import { scanZone, type ZoneJob } from './audit-zone-scan.js';

export interface WorkerInit {
  secretsDir: string;
}

export type WorkerReply = { ok: true; scan: Awaited<ReturnType<typeof scanZone>> } | { ok: false; message: string };

function secret(dir: string, name: string): string {
  const r = readSecret(dir, name);
  if (!r.ok) throw new Error(r.reason);
  return r.value;
}

const port = parentPort!;
const { secretsDir } = workerData as WorkerInit;
const key = chainKey(secret(secretsDir, 'auditHmacKey'));
const client = new pg.Client({ connectionString: secret(secretsDir, 'databaseUrl'), ...READ_ONLY_SESSION });
client.on('error', () => {});
const ready = client.connect();

port.on('message', (job: ZoneJob | null) => {
  if (job === null) {
    void ready.then(() => client.end()).finally(() => port.close());
    return;
  }
  ready
    .then(() => scanZone(client, key, job))
    .then(
      (scan) => port.postMessage({ ok: true, scan } satisfies WorkerReply),
      (e: unknown) => port.postMessage({ ok: false, message: (e as Error)?.message ?? String(e) } satisfies WorkerReply),
    );
});
