// Secret freshness (R-SEC-1, R-EVD-1): the HMAC keys and the KEK are younger than SECRET_MAX_AGE_DAYS. `caracal
// init` keeps no creation record and never rewrites a secret file, so a file's mtime is when its value was made.
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckDefinition } from '../check.js';
import { SECRET_SPECS } from '../../home/secret-files.js';
import { ageDays, overLimit } from './key-freshness.js';
import { verdict } from './support.js';

/** The long-lived symmetric keys: every HMAC key and the key-encryption key that seals credentials and zone keys. */
export const FRESHNESS_SECRETS: readonly string[] = SECRET_SPECS.map((s) => s.name).filter((n) => n.endsWith('HmacKey') || n === 'secretStoreKek');

export interface SecretAge {
  file: string;
  mtime: string | null;
  age_days: number | null;
}

export function secretAges(dir: string, now: Date): SecretAge[] {
  return FRESHNESS_SECRETS.map((name) => {
    const st = lstatSync(join(dir, name), { throwIfNoEntry: false });
    return st ? { file: name, mtime: st.mtime.toISOString(), age_days: ageDays(st.mtime, now) } : { file: name, mtime: null, age_days: null };
  });
}

/** Each secret that is missing or older than `max` days, by file name only. */
export const staleSecrets = (ages: readonly SecretAge[], max: number) =>
  ages.flatMap((a) => (a.age_days === null ? [`secrets/${a.file} is missing`] : overLimit(a.age_days, max) ? [`secrets/${a.file} is ${a.age_days} days old (limit SECRET_MAX_AGE_DAYS=${max})`] : []));

export const secretFreshness: CheckDefinition = {
  id: 'secret-freshness',
  pillar: 'Keys',
  title: 'HMAC keys and the KEK are within SECRET_MAX_AGE_DAYS',
  what: 'The audit, streams, idempotency and gateway-STS HMAC keys and the secret-store KEK were written no more than SECRET_MAX_AGE_DAYS days ago (caracal.env, default 365), judged by each file\'s modification time: long-lived symmetric keys are replaced on a schedule.',
  controls: ['R8', 'NIST-MANAGE', 'NIST-MEASURE'],
  command: `lstat mtime of <CARACAL_HOME>/secrets/{${FRESHNESS_SECRETS.join(',')}}`,
  run: async (ctx) => {
    const max = ctx.settings.SECRET_MAX_AGE_DAYS;
    const now = ctx.now();
    const ages = secretAges(ctx.home.secretsDir, now);
    const raw = [{ name: 'secret-ages.json', command: `lstat mtime of ${FRESHNESS_SECRETS.map((n) => join(ctx.home.secretsDir, n)).join(' ')}; age in whole days at ${now.toISOString()}`, output: { max_age_days: max, secrets: ages } }];
    return verdict(staleSecrets(ages, max), `${ages.length} secrets (${FRESHNESS_SECRETS.join(', ')}) are at most ${max} days old`, raw);
  },
};
