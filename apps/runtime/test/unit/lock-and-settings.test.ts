// The stack lock (live holder named, stale holder taken over) and caracal.env validation.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/home/lock.js';
import { layout, resolveHome } from '../../src/home/paths.js';
import { parseSettings, renderTemplate, workerCounts } from '../../src/home/settings.js';

/** Every problem parseSettings reports for `text` as /h/caracal.env, or '' when it parses. */
function problems(text: string): string {
  try {
    parseSettings(text, '/h/caracal.env');
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}

describe('stack lock', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'caracal-lock-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses while a live process holds it and names that PID', () => {
    const path = join(dir, '.lock');
    writeFileSync(path, `${process.ppid}\nup\n`);
    expect(() => acquireLock(path, 'down')).toThrow(`another caracal operation (up) holds the lock: PID ${process.ppid}`);
  });

  it('takes over a lock whose holder is dead, and releases only its own', () => {
    const path = join(dir, '.lock');
    writeFileSync(path, '999999999\nup\n');
    const lock = acquireLock(path, 'down');
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\ndown\n`);
    lock.release();
    expect(() => readFileSync(path)).toThrow();
  });

  it('treats a garbage lock file as stale', () => {
    const path = join(dir, '.lock');
    writeFileSync(path, 'garbage');
    acquireLock(path, 'up').release();
  });
});

describe('home resolution', () => {
  it('follows CARACAL_HOME, then XDG_DATA_HOME, then the platform default', () => {
    expect(resolveHome({ CARACAL_HOME: '/a/b' })).toBe('/a/b');
    expect(resolveHome({ XDG_DATA_HOME: '/x' })).toBe('/x/caracal');
    expect(resolveHome({}, 'linux')).toMatch(/\.local\/share\/caracal$/);
    expect(resolveHome({}, 'darwin')).toMatch(/Library\/Application Support\/caracal$/);
  });

  it('keeps managed Postgres data outside the home when running as root', () => {
    expect(layout('/root/.local/share/caracal', true).postgresData).toMatch(/^\/var\/lib\/caracal\/[0-9a-f]{12}\/pgdata$/);
    expect(layout('/home/op/caracal', false).postgresData).toBe('/home/op/caracal/data/postgres/pgdata');
  });
});

describe('caracal.env', () => {
  const good = renderTemplate({ mode: 'stable', runtime: 'local', database: 'managed', redis: 'managed' });

  it('the template parses to the documented defaults', () => {
    const s = parseSettings(good, 'caracal.env');
    expect(s.ports).toEqual({ api: 3000, coordinator: 4000, sts: 8080, gateway: 8081, audit: 9090 });
    expect(s.CARACAL_PG_PORT).toBe(55432);
    expect(s.CARACAL_MODE).toBe('stable');
  });

  it('reports every problem at once: junk lines, unknown keys, bad values', () => {
    const text = `${good}junk\nCARACAL_MODUS=dev\n`.replace('CARACAL_API_PORT=3000', 'CARACAL_API_PORT=99999').replace('CARACAL_MODE=stable', 'CARACAL_MODE=prod');
    let message = '';
    try {
      parseSettings(text, '/h/caracal.env');
    } catch (err) {
      message = (err as Error).message;
    }
    const lines = text.split('\n');
    const at = (prefix: string) => `/h/caracal.env:${lines.findIndex((l) => l.startsWith(prefix)) + 1}:`;
    expect(message).toContain(`${at('junk')} expected KEY=value`);
    expect(message).toContain(`${at('CARACAL_MODUS=')} unknown key CARACAL_MODUS`);
    expect(message).toContain(`${at('CARACAL_API_PORT=')} CARACAL_API_PORT:`);
    expect(message).toContain(`${at('CARACAL_MODE=')} CARACAL_MODE:`);
  });

  it('refuses the same port for two services', () => {
    expect(() => parseSettings(good.replace('CARACAL_AUDIT_PORT=9090', 'CARACAL_AUDIT_PORT=3000'), 'f')).toThrow('port 3000 is assigned twice');
  });

  it('refuses a role prefix that is not a plain identifier', () => {
    expect(() => parseSettings(good.replace('CARACAL_DB_ROLE_PREFIX=caracal', 'CARACAL_DB_ROLE_PREFIX=x"; drop'), 'f')).toThrow('CARACAL_DB_ROLE_PREFIX');
  });
});

describe('CARACAL_<SERVICE>_WORKERS', () => {
  const good = renderTemplate({ mode: 'stable', runtime: 'local', database: 'managed', redis: 'managed' });

  it('defaults to one worker per service; the template names every key', () => {
    for (const s of ['API', 'COORDINATOR', 'STS', 'GATEWAY', 'AUDIT']) expect(good).toContain(`CARACAL_${s}_WORKERS=1`);
    expect(workerCounts(parseSettings(good, 'f'), {})).toEqual({ api: 1, coordinator: 1, sts: 1, gateway: 1, audit: 1 });
    const bare = good.split('\n').filter((l) => !l.includes('_WORKERS')).join('\n');
    expect(workerCounts(parseSettings(bare, 'f'), {})).toEqual({ api: 1, coordinator: 1, sts: 1, gateway: 1, audit: 1 });
  });

  it('takes 1 to 64 and auto (one per core, at most 64)', () => {
    const s = parseSettings(good.replace('CARACAL_GATEWAY_WORKERS=1', 'CARACAL_GATEWAY_WORKERS=64').replace('CARACAL_STS_WORKERS=1', 'CARACAL_STS_WORKERS=auto'), 'f');
    expect(workerCounts(s, {}, 6)).toMatchObject({ gateway: 64, sts: 6 });
    expect(workerCounts(s, {}, 200)).toMatchObject({ sts: 64 });
  });

  it('refuses 0, 65, negatives, decimals, padding and words, each named with the file and its line', () => {
    for (const bad of ['0', '65', '-1', '1.5', '01', ' 2x', 'all', '']) {
      const text = good.replace('CARACAL_STS_WORKERS=1', `CARACAL_STS_WORKERS=${bad}`);
      const line = text.split('\n').findIndex((l) => l.startsWith('CARACAL_STS_WORKERS=')) + 1;
      expect(problems(text), bad).toContain(`/h/caracal.env:${line}: CARACAL_STS_WORKERS: must be an integer from 1 to 64, or auto (one per core)`);
    }
  });

  it('the variable in the environment overrides caracal.env, and a bad one is named as coming from there', () => {
    const s = parseSettings(good, 'f');
    expect(workerCounts(s, { CARACAL_GATEWAY_WORKERS: '2', CARACAL_AUDIT_WORKERS: 'auto' }, 3)).toEqual({ api: 1, coordinator: 1, sts: 1, gateway: 2, audit: 3 });
    expect(() => workerCounts(s, { CARACAL_GATEWAY_WORKERS: '0', CARACAL_API_WORKERS: 'many' })).toThrow(
      /CARACAL_API_WORKERS=many \(environment\): must be an integer from 1 to 64, or auto[\s\S]*CARACAL_GATEWAY_WORKERS=0 \(environment\)/,
    );
  });
});

describe('KEY_MAX_AGE_DAYS and SECRET_MAX_AGE_DAYS', () => {
  const good = renderTemplate({ mode: 'stable', runtime: 'local', database: 'managed', redis: 'managed' });

  it('default to 90 and 365 days, written into the template and assumed when a home predates them', () => {
    expect(good).toContain('KEY_MAX_AGE_DAYS=90\nSECRET_MAX_AGE_DAYS=365\n');
    const bare = good.split('\n').filter((l) => !l.includes('_MAX_AGE_DAYS')).join('\n');
    expect(parseSettings(bare, 'f')).toMatchObject({ KEY_MAX_AGE_DAYS: 90, SECRET_MAX_AGE_DAYS: 365 });
  });

  it('take whole days from 1 to 3650', () => {
    const s = parseSettings(good.replace('KEY_MAX_AGE_DAYS=90', 'KEY_MAX_AGE_DAYS=1').replace('SECRET_MAX_AGE_DAYS=365', 'SECRET_MAX_AGE_DAYS=3650'), 'f');
    expect(s).toMatchObject({ KEY_MAX_AGE_DAYS: 1, SECRET_MAX_AGE_DAYS: 3650 });
  });

  it('refuse 0, 3651, negatives, decimals, padding, words and empty, named with the file and its line', () => {
    for (const key of ['KEY_MAX_AGE_DAYS', 'SECRET_MAX_AGE_DAYS']) {
      for (const bad of ['0', '3651', '-1', '1.5', '090', '9x', 'never', '']) {
        const text = good.replace(new RegExp(`^${key}=.*$`, 'm'), `${key}=${bad}`);
        const line = text.split('\n').findIndex((l) => l.startsWith(`${key}=`)) + 1;
        expect(problems(text), `${key}=${bad}`).toContain(`/h/caracal.env:${line}: ${key}: must be a whole number of days from 1 to 3650`);
      }
    }
  });
});
