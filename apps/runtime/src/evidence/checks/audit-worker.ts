// A worker thread of the audit-chains check: its own read-only connection, zone jobs in, zone scans out. The
// secrets are read here from their files, so none crosses the thread boundary.
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import { readSecretFile } from '@caracal/config';
import { chainKey } from '@caracal/db';
import { scanZone, type ZoneJob } from './audit-zone-scan.js';

export interface WorkerInit {
  secretsDir: string;
}

export type WorkerReply = { ok: true; scan: Awaited<ReturnType<typeof scanZone>> } | { ok: false; message: string };

function secret(dir: string, name: string): string {
  const r = readSecretFile(join(dir, name));
  if (!r.ok) throw new Error(`secret ${r.problem}`);
  return r.value;
}

const port = parentPort!;
const { secretsDir } = workerData as WorkerInit;
const key = chainKey(secret(secretsDir, 'auditHmacKey'));
// Read-only sessions, as the pack's own pool (evidence/connect.ts): the pack writes nothing.
const client = new pg.Client({ connectionString: secret(secretsDir, 'databaseUrl'), options: '-c default_transaction_read_only=on', application_name: 'caracal-evidence-pack' });
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
