// Admin commands (R-API-1, R-CLI): the real CLI against a real stack — provisioning with --json, secrets shown
// once, API errors mapped to exit 1 with the API's words, usage errors to exit 2, the admin token never printed.
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caracal, tempHome, type CliResult } from '../../../../test-support/cli.js';
import { freePort } from '../../../../test-support/deps.js';

const SERVICES = ['api', 'coordinator', 'sts', 'gateway', 'audit'];
const UPSTREAM_CREDENTIAL = 'sk-upstream-credential-7f3a9c';

const occurrences = (haystack: string, needle: string) => haystack.split(needle).length - 1;

function writeFile(dir: string, name: string, content: string, mode = 0o600): string {
  const p = join(dir, name);
  writeFileSync(p, content, { mode });
  chmodSync(p, mode);
  return p;
}

describe('admin commands without a reachable API', () => {
  const home = tempHome('admin-offline');
  const env = { CARACAL_HOME: join(home.dir, 'h') };

  beforeAll(async () => {
    // An initialised home whose API port is free: nothing listens there.
    const r = await caracal(['init', '--yes', '--port', `api=${await freePort()}`], env);
    expect(r.exitCode).toBe(0);
  });
  afterAll(() => home.remove());

  it('an admin call exits 1: the API is not reachable, with the way out', async () => {
    const r = await caracal(['zone', 'list', '--json'], env);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/error: the API at http:\/\/127\.0\.0\.1:\d+ is not reachable \(is the stack up\? `caracal up`\)/);
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toContain(readFileSync(join(env.CARACAL_HOME, 'secrets', 'caracalAdminToken'), 'utf8'));
  });

  it('a CARACAL_ADMIN_TOKEN_FILE that does not exist exits 1 naming the file', async () => {
    const missing = join(home.dir, 'no-such-token');
    const r = await caracal(['whoami'], { ...env, CARACAL_ADMIN_TOKEN_FILE: missing });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`admin token file ${missing} cannot be read (no such file)`);
  });

  it('a token file that does not hold a token exits 1 naming the file and never echoing its content', async () => {
    const p = writeFile(home.dir, 'not-a-token', 'Bearer hunter2-not-hex\n');
    const r = await caracal(['zone', 'list'], { ...env, CARACAL_ADMIN_TOKEN_FILE: p });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`admin token file ${p} does not hold an admin token`);
    expect(r.stderr + r.stdout).not.toContain('hunter2');
  });

  it('a world-writable token file is refused', async () => {
    const p = writeFile(home.dir, 'open-token', randomBytes(32).toString('hex'), 0o666);
    const r = await caracal(['zone', 'list'], { ...env, CARACAL_ADMIN_TOKEN_FILE: p });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`${p} is world-writable`);
  });

  it('a --credential-file that cannot be read exits 1 naming the file', async () => {
    const missing = join(home.dir, 'no-such-credential');
    const r = await caracal(['resource', 'create', '--zone', 'acme', '--id', 'resource://x', '--upstream', 'https://x.example', '--credential-file', missing], env);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`--credential-file: ${missing} cannot be read (no such file)`);
  });

  const usage: Array<[string, string[], string]> = [
    ['missing --zone', ['app', 'list'], "required option '--zone <zone>' not specified"],
    ['a malformed --zone', ['grant', 'list', '--zone', 'Acme!'], '--zone must be a zone id or slug'],
    ['a bad --operation', ['resource', 'create', '--zone', 'acme', '--id', 'resource://x', '--upstream', 'https://x.example', '--operation', 'GET items'], '--operation must look like'],
    ['an unknown --operation method', ['resource', 'create', '--zone', 'acme', '--id', 'resource://x', '--upstream', 'https://x.example', '--operation', 'FETCH /a=s'], "--operation: method 'FETCH'"],
    ['a bad --placement', ['resource', 'create', '--zone', 'acme', '--id', 'resource://x', '--upstream', 'https://x.example', '--placement', 'cookie:sid'], '--placement must be header:NAME[:PREFIX] or query:NAME'],
    ['a --placement query with a prefix', ['resource', 'create', '--zone', 'acme', '--id', 'resource://x', '--upstream', 'https://x.example', '--placement', 'query:key:x'], 'a query placement takes no prefix'],
    ['a bad --id', ['resource', 'create', '--zone', 'acme', '--id', 'billing', '--upstream', 'https://x.example'], '--id must be resource://<name>'],
    ['an --upstream with credentials', ['resource', 'create', '--zone', 'acme', '--id', 'resource://x', '--upstream', 'https://u:p@x.example'], '--upstream must not carry credentials'],
    ['an empty --scopes', ['grant', 'create', '--zone', 'acme', '--app', 'a', '--resource', 'r', '--scopes', ''], '--scopes must list at least one scope'],
    ['an empty item in --scopes', ['grant', 'create', '--zone', 'acme', '--app', 'a', '--resource', 'r', '--scopes', 'a,,b'], '--scopes must list at least one scope'],
    ['a --max-ttl out of range', ['grant', 'create', '--zone', 'acme', '--app', 'a', '--resource', 'r', '--scopes', 's', '--max-ttl', '0'], '--max-ttl must be an integer from 1 to 3600'],
    ['an unknown --type', ['revocation', 'create', '--zone', 'acme', '--type', 'user', '--target', randomUUID()], "option '--type <type>' argument 'user' is invalid"],
    ['a --target that is not a UUID', ['revocation', 'create', '--zone', 'acme', '--type', 'application', '--target', '42'], '--target must be a UUID'],
    ['a session id that is not a UUID', ['session', 'revoke', '--zone', 'acme', 'sess-1'], '<session-id> must be a UUID'],
    ['--scope zone without --zone', ['token', 'create', '--name', 'ops', '--scope', 'zone', '--capabilities', 'read'], '--scope zone needs --zone <zone>'],
    ['--zone with --scope global', ['token', 'create', '--name', 'ops', '--scope', 'global', '--zone', 'acme', '--capabilities', 'read'], '--zone is only allowed with --scope zone'],
    ['an unknown capability', ['token', 'create', '--name', 'ops', '--scope', 'global', '--capabilities', 'read,root'], "--capabilities: 'root' is not a valid capability"],
    ['a dot segment as resource', ['resource', 'get', '--zone', 'acme', '..'], '<resource> must be a resource id, identifier or name'],
  ];
  it.each(usage)('%s exits 2 naming the flag', async (_name, args, message) => {
    const r = await caracal(args, env);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });

  it('every admin group documents the exit codes in --help', async () => {
    for (const group of ['zone', 'app', 'resource', 'grant', 'session', 'revocation', 'token', 'whoami']) {
      const r = await caracal([group, '--help'], env);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(/Exit codes:\n\s+0\s+success\n\s+1\s+failure.*\n\s+2\s+usage error/);
    }
  });
});

describe('admin commands against a running stack', () => {
  const home = tempHome('admin');
  const env = { CARACAL_HOME: join(home.dir, 'h') };
  const ports: Record<string, number> = {};
  let realToken = '';

  const run = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> => caracal(args, { ...env, ...extra });
  async function json<T = Record<string, unknown>>(args: string[]): Promise<T> {
    const r = await run([...args, '--json']);
    expect(r.stderr, `caracal ${args.join(' ')}`).not.toMatch(/^error:/m);
    expect(r.exitCode).toBe(0);
    return JSON.parse(r.stdout) as T;
  }

  beforeAll(async () => {
    for (const name of [...SERVICES, 'pg', 'redis']) ports[name] = await freePort();
    const init = await caracal(
      ['init', '--yes', '--pg-port', String(ports.pg), '--redis-port', String(ports.redis), ...SERVICES.flatMap((s) => ['--port', `${s}=${ports[s]}`])],
      env,
    );
    expect(init.exitCode).toBe(0);
    const up = await caracal(['up'], env);
    expect(up.stderr).not.toMatch(/^error:/m);
    expect(up.exitCode).toBe(0);
    realToken = readFileSync(join(env.CARACAL_HOME, 'secrets', 'caracalAdminToken'), 'utf8');
  });

  afterAll(async () => {
    await caracal(['purge', 'all', '--yes'], env);
    home.remove();
  });

  it('provisions zone → app → resource → grant with --json; secrets appear once and credentials never', async () => {
    const zone = await json(['zone', 'create', 'acme', '--name', 'Acme Corp']);
    expect(zone).toMatchObject({ slug: 'acme', name: 'Acme Corp' });

    const created = await run(['app', 'create', '--zone', 'acme', '--name', 'billing-agent', '--label', 'team=billing', '--json']);
    expect(created.exitCode).toBe(0);
    const app = JSON.parse(created.stdout) as { client_id: string; client_secret: string; labels: string[] };
    expect(app.client_secret).toMatch(/^[0-9a-f]{64}$/);
    expect(app.labels).toEqual(['team=billing']);
    expect(occurrences(created.stdout, app.client_secret)).toBe(1);
    expect(created.stderr).not.toContain(app.client_secret);
    expect(created.stderr).toContain('shown only once');
    for (const args of [['app', 'get', '--zone', 'acme', app.client_id, '--json'], ['app', 'get', '--zone', 'acme', app.client_id], ['app', 'list', '--zone', 'acme', '--json']]) {
      const r = await run(args);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toContain(app.client_id);
      expect(r.stdout + r.stderr).not.toContain(app.client_secret);
      expect(r.stdout).not.toContain('client_secret');
    }

    const credFile = writeFile(home.dir, 'billing-credential', `${UPSTREAM_CREDENTIAL}\n`);
    const resource = await run([
      'resource', 'create', '--zone', 'acme', '--id', 'resource://billing', '--upstream', 'https://billing.example.com/api',
      '--credential-file', credFile, '--placement', 'header:Authorization:Bearer ', '--operation', 'GET /items*=items:read', '--operation', 'post /items=items:write', '--json',
    ]);
    expect(resource.exitCode).toBe(0);
    const res = JSON.parse(resource.stdout);
    expect(res).toMatchObject({
      identifier: 'resource://billing',
      has_credential: true,
      auth_placement: { in: 'header', name: 'Authorization', prefix: 'Bearer ' },
      operations: [{ method: 'GET', path: '/items*', scope: 'items:read' }, { method: 'POST', path: '/items', scope: 'items:write' }],
    });
    expect(res).not.toHaveProperty('credential');
    expect(resource.stdout + resource.stderr).not.toContain(UPSTREAM_CREDENTIAL);
    for (const args of [['resource', 'get', '--zone', 'acme', 'billing', '--json'], ['resource', 'get', '--zone', 'acme', 'resource://billing'], ['resource', 'list', '--zone', 'acme', '--json']]) {
      const r = await run(args);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toContain('resource://billing');
      expect(r.stdout + r.stderr).not.toContain(UPSTREAM_CREDENTIAL);
    }

    const grant = await json<{ id: string; scopes: string[]; max_ttl_seconds: number }>(['grant', 'create', '--zone', 'acme', '--app', app.client_id, '--resource', 'billing', '--scopes', 'items:read,items:write', '--max-ttl', '600']);
    expect(grant).toMatchObject({ client_id: app.client_id, resource: 'resource://billing', scopes: ['items:read', 'items:write'], max_ttl_seconds: 600 });

    expect((await json<{ items: Array<{ slug: string }> }>(['zone', 'list'])).items.map((z) => z.slug)).toContain('acme');
    expect((await json<{ items: Array<{ client_id: string }> }>(['app', 'list', '--zone', 'acme'])).items.map((a) => a.client_id)).toEqual([app.client_id]);
    expect((await json<{ items: Array<{ identifier: string }> }>(['resource', 'list', '--zone', 'acme'])).items.map((r) => r.identifier)).toEqual(['resource://billing']);
    expect((await json<{ items: Array<{ id: string }> }>(['grant', 'list', '--zone', 'acme'])).items.map((g) => g.id)).toEqual([grant.id]);
    const table = await run(['grant', 'list', '--zone', 'acme']);
    expect(table.stdout).toMatch(/^ID\s+CLIENT_ID\s+RESOURCE\s+SCOPES\s+MAX_TTL_SECONDS\n/);
    expect(table.stdout).toContain('items:read,items:write');
  });

  it('rotate-secret prints a new secret once, as `key: value` data on stdout', async () => {
    const app = await json<{ client_id: string; client_secret: string }>(['app', 'create', '--zone', 'acme', '--name', 'rotating-agent']);
    const r = await run(['app', 'rotate-secret', '--zone', 'acme', app.client_id]);
    expect(r.exitCode).toBe(0);
    const secret = /^client_secret: ([0-9a-f]{64})$/m.exec(r.stdout)?.[1];
    expect(secret).toBeDefined();
    expect(secret).not.toBe(app.client_secret);
    expect(occurrences(r.stdout, secret!)).toBe(1);
    expect(r.stderr).toContain('shown only once');
  });

  it('a deleted application is disabled; rotating its secret is refused with the API 404', async () => {
    const app = await json<{ client_id: string }>(['app', 'create', '--zone', 'acme', '--name', 'retired-agent']);
    expect(await json(['app', 'delete', '--zone', 'acme', app.client_id])).toMatchObject({ client_id: app.client_id, disabled_at: expect.any(String) });
    const r = await run(['app', 'rotate-secret', '--zone', 'acme', app.client_id]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`failed: 404 not_found: application '${app.client_id}' does not exist or is disabled`);
  });

  it('session revoke of an unknown id exits 1 with the API 404 message', async () => {
    const id = randomUUID();
    const r = await run(['session', 'revoke', '--zone', 'acme', id, '--reason', 'incident 42']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`error: POST /v1/zones/acme/sessions/${id}/revoke failed: 404 not_found: authority session '${id}' does not exist in zone 'acme'`);
    expect(r.stdout).toBe('');
    expect((await json<{ items: unknown[] }>(['session', 'list', '--zone', 'acme'])).items).toEqual([]);
    expect((await json<{ items: unknown[] }>(['revocation', 'list', '--zone', 'acme'])).items).toEqual([
      expect.objectContaining({ target_type: 'application', reason: 'application disabled' }),
    ]);
  });

  it('a duplicate zone exits 1 with the 409 conflict', async () => {
    const r = await run(['zone', 'create', 'acme', '--name', 'Again']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("error: POST /v1/zones failed: 409 conflict: zone 'acme' already exists");
  });

  it('a grant for an unknown application, and deleting a resource that has grants, are refused', async () => {
    const unknown = await run(['grant', 'create', '--zone', 'acme', '--app', 'ci_nobody', '--resource', 'billing', '--scopes', 'items:read']);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toContain("404 not_found: application 'ci_nobody' does not exist in zone 'acme'");
    const inUse = await run(['resource', 'delete', '--zone', 'acme', 'billing']);
    expect(inUse.exitCode).toBe(1);
    expect(inUse.stderr).toContain('409 conflict');
    const missingZone = await run(['app', 'list', '--zone', 'nowhere']);
    expect(missingZone.exitCode).toBe(1);
    expect(missingZone.stderr).toContain("GET /v1/zones/nowhere/applications failed: 404 not_found: zone 'nowhere' does not exist");
  });

  it('a wrong admin token exits 1: refused, and neither the wrong nor the real token is printed', async () => {
    const wrong = randomBytes(32).toString('hex');
    const file = writeFile(home.dir, 'wrong-token', `${wrong}\n`);
    for (const args of [['zone', 'list'], ['app', 'create', '--zone', 'acme', '--name', 'x', '--json'], ['whoami', '--json']]) {
      const r = await run(args, { CARACAL_ADMIN_TOKEN_FILE: file });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain('error: the API refused the admin token: the admin token is unknown, revoked or expired');
      expect(r.stderr).toContain(file);
      for (const secret of [wrong, realToken]) expect(r.stdout + r.stderr).not.toContain(secret);
    }
  });

  it('a zone-scoped token acts in its zone, is refused (403) in another, and stops working once revoked', async () => {
    await json(['zone', 'create', 'other', '--name', 'Other']);
    const created = await run(['token', 'create', '--name', 'acme-ops', '--scope', 'zone', '--zone', 'acme', '--capabilities', 'read,write', '--json']);
    expect(created.exitCode).toBe(0);
    const tok = JSON.parse(created.stdout) as { id: string; token: string; scope: string };
    expect(tok.token).toMatch(/^[0-9a-f]{64}$/);
    expect(occurrences(created.stdout, tok.token)).toBe(1);
    const list = await run(['token', 'list', '--json']);
    expect(list.stdout).toContain(tok.id);
    expect(list.stdout).not.toContain(tok.token);

    const zoneEnv = { CARACAL_ADMIN_TOKEN_FILE: writeFile(home.dir, 'acme-token', tok.token) };
    expect(await run(['whoami', '--json'], zoneEnv).then((r) => JSON.parse(r.stdout))).toMatchObject({ name: 'acme-ops', scope: 'zone', capabilities: ['read', 'write'] });
    expect((await run(['app', 'list', '--zone', 'acme'], zoneEnv)).exitCode).toBe(0);
    for (const args of [['zone', 'get', 'other'], ['app', 'create', '--zone', 'other', '--name', 'intruder'], ['token', 'list']]) {
      const r = await run(args, zoneEnv);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/failed: 403 forbidden: this (admin token is confined to another zone|operation needs a global admin token)/);
      expect(r.stdout + r.stderr).not.toContain(tok.token);
    }
    expect((await json(['app', 'list', '--zone', 'other'])).items).toEqual([]);

    expect(await json(['token', 'revoke', tok.id])).toMatchObject({ id: tok.id, revoked_at: expect.any(String) });
    const after = await run(['app', 'list', '--zone', 'acme'], zoneEnv);
    expect(after.exitCode).toBe(1);
    expect(after.stderr).toContain('the API refused the admin token');
  });

  it('after `caracal down` an admin command exits 1: the API is not reachable', async () => {
    expect((await run(['down'])).exitCode).toBe(0);
    const r = await run(['zone', 'list']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`the API at http://127.0.0.1:${ports.api} is not reachable (is the stack up? \`caracal up\`)`);
  });
});
