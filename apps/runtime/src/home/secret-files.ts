// Secret files: exclusive create, 0444, lowercase hex, no newline; existing non-empty files are kept (R-SEC-1).
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { readSecretFile } from '@caracal/config';
import { SERVICE_NAMES } from '@caracal/db';
import { CliError } from '../errors.js';
import { EVIDENCE_KEY_SECRET, generateEvidenceScalar } from '../evidence/key.js';

/**
 * Generated secrets and their sizes in bytes; `generate` makes a value that must be more than random bytes (the
 * evidence key's scalar must be a valid P-256 private key, R-EVD-1).
 */
export const SECRET_SPECS: ReadonlyArray<{ name: string; bytes: number; generate?: () => string }> = [
  { name: 'postgresPassword', bytes: 24 },
  { name: 'redisPassword', bytes: 24 },
  { name: 'caracalAdminToken', bytes: 32 },
  { name: 'caracalCoordinatorToken', bytes: 32 },
  { name: 'metricsBearer', bytes: 32 },
  { name: 'secretStoreKek', bytes: 32 },
  { name: 'auditHmacKey', bytes: 32 },
  { name: 'streamsHmacKey', bytes: 32 },
  { name: 'idempotencyHmacKey', bytes: 32 },
  { name: 'gatewayStsHmacKey', bytes: 32 },
  ...SERVICE_NAMES.map((s) => ({ name: `${s}DbPassword`, bytes: 24 })),
  { name: EVIDENCE_KEY_SECRET, bytes: 32, generate: generateEvidenceScalar },
];

export const SECRET_FILE_MODE = 0o444;
export const SECRETS_DIR_MODE = 0o700;

export function ensureSecretsDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: SECRETS_DIR_MODE });
  chmodSync(dir, SECRETS_DIR_MODE);
}

function isEmptyFile(path: string): boolean | undefined {
  try {
    return statSync(path).size === 0;
  } catch {
    return undefined;
  }
}

/** Creates every missing secret (and regenerates empty ones); returns only the names it created. */
export function ensureSecrets(dir: string, random: (n: number) => Buffer = randomBytes): string[] {
  ensureSecretsDir(dir);
  const created: string[] = [];
  for (const spec of SECRET_SPECS) {
    const path = join(dir, spec.name);
    const empty = isEmptyFile(path);
    if (empty === false) continue;
    if (empty === true) unlinkSync(path);
    writeExclusive(path, spec.generate ? spec.generate() : random(spec.bytes).toString('hex'), SECRET_FILE_MODE);
    created.push(spec.name);
  }
  return created;
}

function writeExclusive(path: string, content: string, mode: number): void {
  // 'wx' fails if another process created the file meanwhile: we never overwrite a secret.
  const fd = openSync(path, 'wx', mode);
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, mode);
}

/** Writes a derived file only when its content changed; atomically, via rename. Returns true if written. */
export function renderDerived(dir: string, name: string, content: string): boolean {
  const path = join(dir, name);
  try {
    if (readFileSync(path, 'utf8') === content) return false;
  } catch {
    // absent: write it
  }
  const tmp = `${path}.tmp-${process.pid}`;
  writeExclusive(tmp, content, SECRET_FILE_MODE);
  renameSync(tmp, path);
  return true;
}

/** Stores an operator-supplied input (an external URL) as a secret; replaced only when it differs. */
export function storeInput(dir: string, name: string, value: string): boolean {
  return renderDerived(dir, name, value);
}

export function readSecret(dir: string, name: string): string {
  const res = readSecretFile(join(dir, name));
  if (!res.ok) throw new CliError(`secret ${res.problem}`, 1, 'run `caracal init` to regenerate missing or empty secrets');
  return res.value;
}
