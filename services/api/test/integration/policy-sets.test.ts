// Zone policy sets through the api (R-POL-3, R-API-1, R-AUD-5) with bundles compiled from real Rego by the real opa:
// uploads are checked (SHA-256, OPA wasm bundle, entrypoint) and self-tested, versions are numbered and immutable,
// bundle bytes never come back, activation and deactivation leave their admin-audit row and are announced on
// `caracal.policy.invalidate`; bad input gets the right status and writes nothing.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { execa } from 'execa';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBundle } from '../../../../packages/policy/dist/index.js';
import { STREAMS } from '../../../../packages/streams/dist/index.js';
import { startAuthorityStack, type AuthorityStack } from '../../../../test-support/authority.js';
import { adminQuery } from '../../../../test-support/db.js';
import { buildBundle, policyDir } from '../../../../test-support/opa.js';
import { signedMessages } from '../../../../test-support/streams.js';

const LABELLED = `package caracal

default allow := false

allow if "payments" in input.principal.labels
`;
// Exhausts the module's memory on any input with a requested scope: loads, but fails its self-test.
const HUNGRY = `package caracal

allow if count(numbers.range(1, count(input.context.requested_scopes) * 10000000)) > 0
`;

interface Built {
  source: string;
  bytes: Buffer;
  sha256: string;
}

let s: AuthorityStack;
let redis: Redis;
const work = policyDir('api');
const bundles: Record<'labelled' | 'hungry' | 'notWasm', Built> = {} as never;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const upload = (b: Built, extra: Record<string, unknown> = {}) => ({ rego_source: b.source, bundle: b.bytes.toString('base64'), bundle_sha256: b.sha256, ...extra });
const sets = (zone: string) => `/v1/zones/${zone}/policy-sets`;
const auditRows = async (action: string) =>
  (await adminQuery<{ target: string; detail: any }>(s.db.adminUrl, 'SELECT target, detail FROM caracal.admin_audit_events WHERE action = $1 ORDER BY seq', [action])).rows;
const versionCount = async () => Number((await adminQuery<{ n: string }>(s.db.adminUrl, 'SELECT count(*) AS n FROM caracal.policy_set_versions')).rows[0]!.n);
const invalidations = () => signedMessages(redis, s.prefix, STREAMS.policyInvalidate, s.env.STREAMS_HMAC_KEY);

/** The same bundle with its policy.wasm replaced by bytes that are not a wasm module. */
async function withoutWasm(real: Buffer): Promise<Built> {
  const dir = join(work.dir, 'not-wasm');
  mkdirSync(dir, { recursive: true });
  for (const [path, bytes] of readBundle(real).files) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), path === 'policy.wasm' ? Buffer.from('this is not a wasm module') : bytes);
  }
  const out = join(work.dir, 'not-wasm.tar.gz');
  await execa('tar', ['-czf', out, '-C', dir, '.']);
  const bytes = readFileSync(out);
  return { source: LABELLED, bytes, sha256: sha(bytes) };
}

beforeAll(async () => {
  work.write({ 'labelled/policy.rego': LABELLED, 'hungry/policy.rego': HUNGRY });
  for (const name of ['labelled', 'hungry'] as const) {
    const built = await buildBundle(join(work.dir, name), join(work.dir, `${name}.tar.gz`));
    bundles[name] = { source: name === 'labelled' ? LABELLED : HUNGRY, bytes: built.bytes, sha256: built.sha256 };
  }
  bundles.notWasm = await withoutWasm(bundles.labelled.bytes);
  s = await startAuthorityStack('polsets', {}, { apiEnv: { API_RATE_PER_MIN: '10000' } });
  redis = new Redis(s.env.REDIS_URL);
  await s.admin('POST', '/v1/zones', { slug: 'north', name: 'North' });
  await s.admin('POST', '/v1/zones', { slug: 'south', name: 'South' });
}, 240_000);
afterAll(async () => {
  redis?.disconnect();
  await s?.stop();
  work.remove();
});

describe('sets and versions', () => {
  it('creates a set, numbers uploaded versions, and never returns bundle bytes', async () => {
    const created = await s.admin('POST', sets('north'), { name: 'payments' });
    expect(created).toMatchObject({ status: 201, body: { name: 'payments', active_version: null, activated_at: null } });
    const v1 = await s.admin('POST', `${sets('north')}/payments/versions`, upload(bundles.labelled));
    expect(v1.status).toBe(201);
    expect(v1.body).toMatchObject({ version: 1, policy_set_id: created.body.id, bundle_sha256: bundles.labelled.sha256, bundle_bytes: bundles.labelled.bytes.length, entrypoint: 'caracal/allow', self_test: { status: 'passed', error: null }, created_by: 'bootstrap' });
    const v2 = await s.admin('POST', `${sets('north')}/${created.body.id}/versions`, upload(bundles.labelled));
    expect(v2.body.version).toBe(2);

    const stored = await adminQuery<{ wasm_bundle: Buffer; rego_source: string }>(s.db.adminUrl, 'SELECT wasm_bundle, rego_source FROM caracal.policy_set_versions WHERE id = $1', [v1.body.id]);
    expect(sha(stored.rows[0]!.wasm_bundle)).toBe(bundles.labelled.sha256);
    expect(stored.rows[0]!.rego_source).toBe(LABELLED);

    const b64 = bundles.labelled.bytes.toString('base64').slice(0, 64);
    const listed = await s.admin('GET', `${sets('north')}/payments/versions`);
    expect(listed.body.items.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    const got = await s.admin('GET', `${sets('north')}/payments`);
    expect(got.body).toMatchObject({ name: 'payments', versions: [{ version: 2 }, { version: 1 }] });
    const one = await s.admin('GET', `${sets('north')}/payments/versions/1`);
    expect(one.body).toMatchObject({ version: 1, rego_source: LABELLED });
    expect((await s.admin('GET', `${sets('north')}/payments/versions/3`)).status).toBe(404);
    expect((await s.admin('GET', `${sets('north')}/payments/versions/0`)).status).toBe(400);
    for (const body of [listed.body, got.body, one.body, v1.body]) {
      expect(JSON.stringify(body)).not.toContain(b64);
      expect(JSON.stringify(body)).not.toContain('"bundle"');
    }
    expect((await s.admin('GET', sets('north'))).body.items.map((x: { name: string }) => x.name)).toEqual(['payments']);
    expect((await auditRows('policy_set.version.upload')).map((r) => r.detail)).toEqual([
      { version: 1, bundle_sha256: bundles.labelled.sha256, entrypoint: 'caracal/allow', self_test: 'passed' },
      { version: 2, bundle_sha256: bundles.labelled.sha256, entrypoint: 'caracal/allow', self_test: 'passed' },
    ]);
  });

  it('stored versions are immutable', async () => {
    await expect(adminQuery(s.db.adminUrl, "UPDATE caracal.policy_set_versions SET entrypoint = 'x'")).rejects.toThrow('policy_set_versions rows are immutable');
  });

  it.each([
    [{ name: 'Bad Name' }, 'body.name must match pattern'],
    [{ name: '-lead' }, 'body.name must match pattern'],
    [{ name: '' }, 'body.name must NOT have fewer than 1 characters'],
    [{ name: 'x'.repeat(65) }, 'body.name must NOT have more than 64 characters'],
    [{ name: 'ok', extra: 1 }, "unknown field 'extra' in body"],
  ])('set %j → 400', async (body, description) => {
    const res = await s.admin('POST', sets('north'), body);
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: expect.stringContaining(description) } });
  });

  it('a duplicate name is a 409; an unknown set a 404', async () => {
    await s.admin('POST', sets('north'), { name: 'dup' });
    expect(await s.admin('POST', sets('north'), { name: 'dup' })).toMatchObject({ status: 409, body: { error_description: "policy set 'dup' already exists" } });
    expect(await s.admin('GET', `${sets('north')}/nowhere`)).toMatchObject({ status: 404, body: { error_description: "policy set 'nowhere' does not exist in zone 'north'" } });
    expect((await s.admin('POST', `${sets('north')}/nowhere/versions`, upload(bundles.labelled))).status).toBe(404);
  });
});

describe('refused uploads write nothing', () => {
  beforeAll(async () => {
    await s.admin('POST', sets('north'), { name: 'refusals' });
  });
  const path = () => `${sets('north')}/refusals/versions`;

  it.each([
    ['a SHA-256 that does not match the bytes', () => upload(bundles.labelled, { bundle_sha256: '0'.repeat(64) }), 'bundle_sha256 does not match the bundle: its bytes hash to '],
    ['bytes that are not a gzip archive', () => ({ rego_source: LABELLED, bundle: Buffer.from('plain').toString('base64'), bundle_sha256: sha(Buffer.from('plain')) }), 'not an OPA wasm bundle: the bundle is not a gzip archive'],
    ['a bundle whose policy.wasm is not an OPA-ABI module', () => upload(bundles.notWasm), "the bundle's policy.wasm is not an OPA-ABI module: not a loadable OPA wasm module"],
    ['an entrypoint the bundle does not have', () => upload(bundles.labelled, { entrypoint: 'caracal/deny' }), "the bundle has no entrypoint 'caracal/deny' (it declares caracal/allow)"],
    ['a bundle that is not base64', () => upload(bundles.labelled, { bundle: 'not base64!' }), 'bundle must be the bundle file in standard base64'],
    ['a malformed SHA-256', () => upload(bundles.labelled, { bundle_sha256: 'ABC' }), 'body.bundle_sha256 must match pattern'],
    ['a malformed entrypoint', () => upload(bundles.labelled, { entrypoint: '../allow' }), 'body.entrypoint must match pattern'],
  ])('%s → 400', async (_n, body, description) => {
    const before = await versionCount();
    const res = await s.admin('POST', path(), body());
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: expect.stringContaining(description) } });
    expect(await versionCount()).toBe(before);
  });

  it('a 100 MB upload is refused with 413 before its body is read', async () => {
    const { hostname, port } = new URL(s.api.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ hostname, port, method: 'POST', path: path(), headers: { authorization: `Bearer ${s.adminToken}`, 'content-type': 'application/json', 'content-length': String(100 * 1024 * 1024) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', reject);
      req.write('{"rego_source":"');
    });
    expect(status).toBe(413);
  });
});

describe('activation', () => {
  let setId: string;
  beforeAll(async () => {
    setId = (await s.admin('POST', sets('north'), { name: 'gate' })).body.id;
    await s.admin('POST', `${sets('north')}/gate/versions`, upload(bundles.labelled));
  });

  it('a version that fails its self-test is stored as failed and its activation is a 409', async () => {
    const failed = await s.admin('POST', `${sets('north')}/gate/versions`, upload(bundles.hungry));
    expect(failed).toMatchObject({ status: 201, body: { version: 2, self_test: { status: 'failed', error: expect.stringContaining('opa_malloc: failed') } } });
    const before = (await auditRows('policy_set.activate')).length;
    const res = await s.admin('POST', `${sets('north')}/gate/activate`, { version: 2 });
    expect(res).toMatchObject({ status: 409, body: { error: 'conflict', error_description: expect.stringContaining("version 2 of policy set 'gate' failed its self-test and cannot be activated: policy evaluation failed") } });
    expect((await s.admin('GET', `${sets('north')}/gate`)).body.active_version).toBeNull();
    expect((await auditRows('policy_set.activate')).length).toBe(before);
  });

  it('activates a version: admin-audit row, then the invalidation on the stream; deactivation likewise', async () => {
    const res = await s.admin('POST', `${sets('north')}/gate/activate`, { version: 1 });
    expect(res).toMatchObject({ status: 200, body: { id: setId, active_version: 1, activated_at: expect.any(String) } });
    expect((await auditRows('policy_set.activate')).at(-1)).toEqual({ target: `policy_set:${setId}:v1`, detail: { name: 'gate', version: 1, bundle_sha256: bundles.labelled.sha256, previous_version: null } });
    const zoneId = res.body.zone_id;
    expect((await invalidations()).filter((m) => m.policy_set_id === setId)).toEqual([expect.objectContaining({ zone_id: zoneId, policy_set_id: setId, version: '1', action: 'activated' })]);

    const off = await s.admin('POST', `${sets('north')}/gate/deactivate`);
    expect(off).toMatchObject({ status: 200, body: { active_version: null, activated_at: null } });
    expect((await auditRows('policy_set.deactivate')).at(-1)).toEqual({ target: `policy_set:${setId}`, detail: { name: 'gate', previous_version: 1 } });
    expect((await invalidations()).filter((m) => m.policy_set_id === setId).map((m) => [m.action, m.version])).toEqual([
      ['activated', '1'],
      ['deactivated', '1'],
    ]);
  });

  it('several sets are active in one zone at once', async () => {
    await s.admin('POST', sets('north'), { name: 'second' });
    await s.admin('POST', `${sets('north')}/second/versions`, upload(bundles.labelled));
    expect((await s.admin('POST', `${sets('north')}/gate/activate`, { version: 1 })).status).toBe(200);
    expect((await s.admin('POST', `${sets('north')}/second/activate`, { version: 1 })).status).toBe(200);
    const active = (await s.admin('GET', sets('north'))).body.items.filter((x: { active_version: number | null }) => x.active_version !== null);
    expect(active.map((x: { name: string }) => x.name).sort()).toEqual(['gate', 'second']);
  });

  it("a version of another zone's set, or an unknown version, is a 404 and changes nothing", async () => {
    expect(await s.admin('POST', `${sets('south')}/${setId}/activate`, { version: 1 })).toMatchObject({ status: 404, body: { error_description: `policy set '${setId}' does not exist in zone 'south'` } });
    expect(await s.admin('POST', `${sets('north')}/gate/activate`, { version: 99 })).toMatchObject({ status: 404, body: { error_description: "policy set 'gate' has no version 99" } });
    expect((await s.admin('POST', `${sets('north')}/gate/activate`, { version: 0 })).status).toBe(400);
    expect((await s.admin('GET', `${sets('north')}/gate`)).body.active_version).toBe(1);
  });

  it('reading needs read, changing needs write; a zone token stays in its zone', async () => {
    const ro = (await s.admin('POST', '/v1/admin-tokens', { name: 'pol-reader', scope: 'global', capabilities: ['read'] })).body.token;
    const zt = (await s.admin('POST', '/v1/admin-tokens', { name: 'pol-south', scope: 'zone', zone: 'south', capabilities: ['read', 'write'] })).body.token;
    const call = (token: string, method: string, path: string, body?: unknown) =>
      fetch(`${s.api.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined }).then((r) => r.status);
    expect(await call(ro, 'GET', `${sets('north')}/gate`)).toBe(200);
    expect(await call(ro, 'POST', `${sets('north')}/gate/deactivate`)).toBe(403);
    expect(await call(ro, 'POST', sets('north'), { name: 'nope' })).toBe(403);
    expect(await call(zt, 'GET', sets('north'))).toBe(403);
    expect(await call(zt, 'POST', `${sets('north')}/gate/activate`, { version: 1 })).toBe(403);
  });
});
