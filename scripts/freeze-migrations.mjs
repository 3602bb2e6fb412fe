// Records every migration file in the checksum manifest (R-MIG-1). Existing entries are never rewritten, so a
// released file that changed afterwards is still caught by `caracal migrate validate`.
import { fileURLToPath } from 'node:url';
import { loadMigrations, writeManifest } from '../packages/db/dist/index.js';

const dir = fileURLToPath(new URL('../infra/postgres/migrations', import.meta.url));
writeManifest(dir, loadMigrations(dir));
process.stderr.write(`manifest written: ${dir}/manifest.json\n`);
