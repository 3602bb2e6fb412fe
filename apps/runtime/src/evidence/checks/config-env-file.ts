// Configuration posture (R-SEC-2, R-EVD-1): caracal.env is a 0600 regular file of the installation's user and holds
// no secret: no value of a secret file appears in it (literally, on any line, comments included), no key is named
// like a secret, no URL carries credentials. Findings name the line and key, never the value.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { readSecretFile } from '@caracal/config';
import type { CheckDefinition } from '../check.js';
import { factsOf, installationUid, modeProblem, secretsListing } from './config-secret-files.js';
import { verdict } from './support.js';

export const ENV_FILE_MODE = 0o600;

/** Shorter values would match by chance; every generated secret is at least 24 bytes of hex. */
const MIN_SECRET_LENGTH = 8;
/**
 * Key names that announce a secret, by whole word (`SECRET_MAX_AGE_DAYS` and `CARACAL_REDIS_KEY_PREFIX` are
 * settings); `*_FILE` keys name a path, not a value.
 */
const SECRET_KEY_NAME = /(^|_)(PASSWORD|PASSWD|TOKEN|BEARER|KEK|HMAC|PRIVATE|CREDENTIALS?|APIKEY)(_|$)|_(SECRET|KEY)$/;
const URL_CREDENTIALS = /[a-z][a-z0-9+.-]*:\/\/[^/\s@:]*:[^/\s@]+@/i;
/** `KEY=value`, also commented out (`# KEY=value`): a secret in a comment is still on disk. */
const ASSIGNMENT = /^\s*(?:#\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*=/;

/** `secretStoreKek` → `SECRET_STORE_KEK`: the variable a secret file's value would be set as. */
export const envNameOf = (secretFile: string) => secretFile.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

export interface EnvFinding {
  line: number;
  /** The key the line sets (or would set, when commented out), or null. */
  key: string | null;
  /** What gave it away, without the value: `the value of secrets/<name>`, `a secret key name`, `a URL with credentials`. */
  why: string;
}

/** Whether `key` names a secret: a secret-like word, or the variable name of one of the secret files. */
export function isSecretKey(key: string, secretFiles: Iterable<string>): boolean {
  if (key.endsWith('_FILE')) return false;
  return SECRET_KEY_NAME.test(key.toUpperCase()) || [...secretFiles].some((f) => envNameOf(f) === key.toUpperCase());
}

/** Every line of `text` that holds a secret; `secrets` maps a secret file name to its value. */
export function envFileSecrets(text: string, secrets: ReadonlyMap<string, string>): EnvFinding[] {
  const values = [...secrets].filter(([, v]) => v.length >= MIN_SECRET_LENGTH);
  return text.split(/\r?\n/).flatMap((line, i) => {
    const key = ASSIGNMENT.exec(line)?.[1] ?? null;
    const whys = [
      ...values.filter(([, v]) => line.includes(v)).map(([name]) => `the value of secrets/${name}`),
      ...(key && isSecretKey(key, secrets.keys()) ? ['a secret key name'] : []),
      ...(URL_CREDENTIALS.test(line) ? ['a URL with credentials'] : []),
    ];
    return whys.map((why) => ({ line: i + 1, key, why }));
  });
}

/** Each readable secret file's value by name; the unreadable ones are named so the raw output says what was not compared. */
export function secretValues(dir: string): { values: Map<string, string>; unreadable: string[] } {
  const values = new Map<string, string>();
  const unreadable: string[] = [];
  for (const f of secretsListing(dir).files) {
    const r = f.kind === 'file' ? readSecretFile(f.path) : { ok: false as const };
    if (r.ok) values.set(basename(f.path), r.value);
    else unreadable.push(basename(f.path));
  }
  return { values, unreadable };
}

export const describeFinding = (file: string, f: EnvFinding) => `${file} line ${f.line}${f.key ? ` (${f.key})` : ''} holds ${f.why}`;

export const configEnvFile: CheckDefinition = {
  id: 'config-env-file',
  pillar: 'Configuration',
  title: 'caracal.env is 0600 and holds no secret',
  what: 'The settings file is a regular 0600 file of the installation user, and no line of it holds a secret (the value of any secret file, a secret-like key, a URL with credentials): secrets live only in the secrets directory.',
  controls: ['R8', 'NIST-MEASURE'],
  command: 'lstat <CARACAL_HOME>/caracal.env; compare each of its lines with every secret file value and secret-like patterns',
  run: async (ctx) => {
    const file = ctx.home.envFile;
    const facts = factsOf(file);
    const modeIssue = modeProblem(file, facts, { kind: 'file', mode: ENV_FILE_MODE, uid: installationUid(ctx.home.root) });
    const { values, unreadable } = secretValues(ctx.home.secretsDir);
    const findings = facts.kind === 'file' ? envFileSecrets(readFileSync(file, 'utf8'), values) : [];
    const problems = [...(modeIssue ? [modeIssue] : []), ...findings.map((f) => describeFinding(file, f))];
    const raw = [
      { name: 'env-file.json', command: `lstat ${file}`, output: facts },
      {
        name: 'secret-scan.json',
        command: `each line of ${file} against the values of ${values.size} secret files in ${ctx.home.secretsDir}, secret key names (${SECRET_KEY_NAME} or a secret file's variable name) and URLs with credentials`,
        output: { compared_with: [...values.keys()], not_compared: unreadable, findings },
      },
    ];
    return verdict(problems, `${file} is mode 0600 and none of its lines holds a secret (compared with ${values.size} secret files)`, raw);
  },
};
