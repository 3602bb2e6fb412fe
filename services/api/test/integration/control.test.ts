// The control endpoint (R-CTL-1) against real Postgres, Redis and HTTP: off unless enabled and gated by a file;
// a control mandate signed with the zone's real key, audience caracal-control, single-use, scoped per command and
// rate-limited per subject; commands run as the admin routes they name, with the same rows; every call is audited;
// a Redis that is gone denies with 503.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS, startAuthorityStack, startService, stopService, type AuthorityStack, type Provisioned, type Running } from '../../../../test-support/authority.js';
import { adminQuery } from '../../../../test-support/db.js';
import { decodePayload, signWith, zoneKey, type ZoneKey } from '../../../../test-support/forge.js';
import { privateRedis, type PrivateRedis } from '../../../../test-support/private-redis.js';
import { buildApp as buildApi } from '../../dist/app.js';
import { loadConfig as apiConfig } from '../../dist/config.js';
import { freePort } from '../../../../test-support/deps.js';

let s: AuthorityStack;
let redis: PrivateRedis;
let north: Provisioned;
let south: Provisioned;
let key: ZoneKey;
let sid: string;
let gateDir: string;
let gate: string;

beforeAll(async () => {
  redis = await privateRedis();
  gateDir = mkdtempSync(join(tmpdir(), 'caracal-control-'));
  gate = join(gateDir, 'control.enabled');
  writeFileSync(gate, '');
  s = await startAuthorityStack('control', {}, {
    redisUrl: redis.url,
    apiEnv: { API_RATE_PER_MIN: '10000', CARACAL_CONTROL_ENABLED: 'true', CARACAL_CONTROL_GATE_FILE: gate, CONTROL_RATE_PER_MIN: '1', CONTROL_BURST: '3' },
  });
  north = await s.provision('north');
  south = await s.provision('south');
  // The zone's first key is made by its first mint.
  sid = decodePayload(await s.session(north)).sid;
  key = await zoneKey(s.db.adminUrl, s.env.SECRET_STORE_KEK, north.zoneId);
});
afterAll(async () => {
  await redis?.start().catch(() => undefined);
  await s?.stop();
  await redis?.remove();
  rmSync(gateDir, { recursive: true, force: true });
});

/** A control mandate of the north zone, signed with its real key; each has a fresh jti and, unless named, subject. */
function mandate(scope: string, change: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signWith(key.privateKey, key.kid, {
    iss: s.env.CARACAL_ISSUER_URL,
    sub: `ops-${randomUUID()}`,
    aud: 'caracal-control',
    iat: now,
    nbf: now,
    exp: now + 300,
    jti: randomUUID(),
    zone_id: north.zoneId,
    client_id: north.clientId,
    sid,
    scope,
    use: 'control',
    ...change,
  });
}

async function invoke(token: string | undefined, body: unknown, url = s.api.url) {
  const res = await fetch(`${url}/v1/control/invoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

async function revokedAt(session: string): Promise<Date | null> {
  return (await adminQuery<{ revoked_at: Date | null }>(s.db.adminUrl, 'SELECT revoked_at FROM caracal.authority_sessions WHERE id = $1', [session])).rows[0]!.revoked_at;
}

async function controlEvents(requestId: string | null) {
  return (await s.auditEvents()).filter((e) => e.type.startsWith('control.') && e.request_id === requestId);
}

describe('the gate', () => {
  it('not enabled → 503 control_disabled, audited', async () => {
    const port = await freePort();
    const off: Running = await startService(
      'api',
      buildApi,
      apiConfig({ ...s.env, PORT: String(port), DATABASE_URL: s.db.roleUrl('api'), AUDIT_SPILL_DIR: join(gateDir, 'spill-off'), CARACAL_ADMIN_TOKEN: s.adminToken, CARACAL_CONTROL_GATE_FILE: gate }),
    );
    try {
      const res = await invoke(await mandate('control:zone.get:read'), { command: 'zone.get' }, off.url);
      expect(res).toMatchObject({ status: 503, body: { error: 'temporarily_unavailable', error_description: 'the control endpoint is disabled' } });
      const [event] = await controlEvents(res.headers.get('x-request-id'));
      expect(event).toMatchObject({ type: 'control.denied', decision: 'deny', reason: 'control_disabled' });
    } finally {
      await stopService(off);
    }
  });

  it('enabled without the gate file → 503 control_gate_missing; with it back, the call goes through', async () => {
    rmSync(gate);
    try {
      const res = await invoke(await mandate('control:zone.get:read'), { command: 'zone.get' });
      expect(res).toMatchObject({ status: 503, body: { error_description: 'the control endpoint gate file is missing' } });
      expect((await controlEvents(res.headers.get('x-request-id')))[0]).toMatchObject({ reason: 'control_gate_missing', decision: 'deny' });
    } finally {
      writeFileSync(gate, '');
    }
    expect((await invoke(await mandate('control:zone.get:read'), { command: 'zone.get' })).status).toBe(200);
  });
});

describe('the mandate', () => {
  it.each([
    ['no bearer', undefined, 'a bearer mandate is required'],
    ['wrong audience', { aud: 'resource://north-api' }, 'the mandate is for another audience'],
    ['a gateway mandate', { use: 'gateway' }, 'the mandate is not meant for this use'],
    ['another issuer', { iss: 'https://elsewhere.example' }, 'the mandate was issued by another issuer'],
    ['an expired mandate', { exp: Math.floor(Date.now() / 1000) - 5 }, 'the mandate has expired'],
    ['an unknown session', { sid: randomUUID() }, 'the session is unknown'],
  ])('%s → 401', async (_n, change, description) => {
    const token = change === undefined ? undefined : await mandate('control:zone.get:read', change);
    const res = await invoke(token, { command: 'zone.get' });
    expect(res).toMatchObject({ status: 401, body: { error: 'invalid_token', error_description: description } });
    expect(res.headers.get('www-authenticate')).toContain('invalid_token');
    expect((await controlEvents(res.headers.get('x-request-id')))[0]).toMatchObject({ type: 'control.denied', decision: 'deny' });
  });

  it('a mandate the STS issued for a resource is refused', async () => {
    const res = await invoke(await s.mandate(north), { command: 'zone.get' });
    expect(res).toMatchObject({ status: 401, body: { error_description: 'the mandate is for another audience' } });
  });

  it('a replayed jti → 401 token_replayed, audited in the zone with the subject', async () => {
    const token = await mandate('control:zone.get:read', { sub: 'ops-replay' });
    expect((await invoke(token, { command: 'zone.get' })).status).toBe(200);
    const again = await invoke(token, { command: 'zone.get' });
    expect(again).toMatchObject({ status: 401, body: { error: 'invalid_token', error_description: 'this mandate was already used' } });
    expect((await controlEvents(again.headers.get('x-request-id')))[0]).toMatchObject({
      zone_id: north.zoneId,
      subject: 'ops-replay',
      decision: 'deny',
      reason: 'token_replayed',
      data: { command: 'zone.get' },
    });
  });
});

describe('commands, scopes and the bucket', () => {
  it('a command the scope does not name → 403 insufficient_scope', async () => {
    const res = await invoke(await mandate('control:zone.get:read control:session.revoke:read'), { command: 'session.revoke', args: { session: sid } });
    expect(res).toMatchObject({ status: 403, body: { error: 'insufficient_scope', error_description: "the mandate lacks the 'control:session.revoke:write' scope" } });
    expect((await controlEvents(res.headers.get('x-request-id')))[0]).toMatchObject({ reason: 'command_scope_missing', data: { command: 'session.revoke' } });
    expect(await revokedAt(sid)).toBeNull();
  });

  it('an unknown command → 400; arguments a command does not take → 400', async () => {
    const unknown = await invoke(await mandate('control:shell.exec:write'), { command: 'shell.exec', args: { cmd: 'id' } });
    expect(unknown).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: 'unknown control command' } });
    expect((await controlEvents(unknown.headers.get('x-request-id')))[0]).toMatchObject({ reason: 'unknown_command', data: { command: 'shell.exec' } });
    const extra = await invoke(await mandate('control:zone.get:read'), { command: 'zone.get', args: { zone: 'south' } });
    expect(extra).toMatchObject({ status: 400, body: { error_description: "args: unknown argument 'zone' for this command" } });
    const traversal = await invoke(await mandate('control:application.get:read'), { command: 'application.get', args: { app: '../../zones' } });
    expect(traversal.status).toBe(400);
  });

  it('an exhausted bucket → 429 with Retry-After, per subject', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await invoke(await mandate('control:zone.get:read', { sub: 'ops-busy' }), { command: 'zone.get' })).status);
    expect(statuses).toEqual([200, 200, 200]);
    const limited = await invoke(await mandate('control:zone.get:read', { sub: 'ops-busy' }), { command: 'zone.get' });
    expect(limited).toMatchObject({ status: 429, body: { error: 'too_many_requests', error_description: 'control rate limit exceeded for this subject' } });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await controlEvents(limited.headers.get('x-request-id')))[0]).toMatchObject({ subject: 'ops-busy', reason: 'control_rate_limited' });
    expect((await invoke(await mandate('control:zone.get:read', { sub: 'ops-quiet' }), { command: 'zone.get' })).status).toBe(200);
  });
});

describe('control mandates from the STS', () => {
  const CONTROL_GRANT = 'urn:caracal:params:oauth:grant-type:control';
  const controlToken = async (p: Provisioned, scope: string) =>
    s.token({ grant_type: CONTROL_GRANT, subject_token: await s.session(p), subject_token_type: ACCESS, scope });

  beforeAll(async () => {
    await s.admin('POST', '/v1/zones/north/resources', { identifier: 'resource://caracal-control', upstream_url: s.upstream.url });
    await s.admin('POST', '/v1/zones/north/grants', { application: north.clientId, resource: 'resource://caracal-control', scopes: ['control:zone.get:read', 'control:application.list:read'] });
  });

  it('mints a control mandate for granted control scopes, and the endpoint takes it once', async () => {
    const res = await controlToken(north, 'control:zone.get:read');
    expect(res.status).toBe(200);
    expect(decodePayload(res.body.access_token)).toMatchObject({ aud: 'caracal-control', use: 'control', sub: north.clientId, zone_id: north.zoneId, scope: 'control:zone.get:read' });
    expect(res.body.expires_in).toBeLessThanOrEqual(300);
    const first = await invoke(res.body.access_token, { command: 'zone.get' });
    expect(first).toMatchObject({ status: 200, body: { id: north.zoneId, slug: 'north' } });
    expect((await invoke(res.body.access_token, { command: 'zone.get' })).status).toBe(401);
    // A control mandate is no subject token for an exchange.
    const exchange = await s.token({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: res.body.access_token, subject_token_type: ACCESS, resource: north.resource, scope: 'items:read' });
    expect(exchange.status).toBe(400);
  });

  it('refuses scopes outside the grant, applications without one, and scopes that are not control scopes', async () => {
    expect(await controlToken(north, 'control:session.revoke:write')).toMatchObject({ status: 403, body: { error: 'access_denied', error_description: 'not granted: control:session.revoke:write' } });
    expect(await controlToken(south, 'control:zone.get:read')).toMatchObject({ status: 403, body: { error: 'access_denied', error_description: 'this application holds no control grant' } });
    expect(await controlToken(north, 'items:read')).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
    expect(await controlToken(north, '')).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
  });
});

describe('an allowed call', () => {
  it('reads what the admin route reads, confined to the mandate zone', async () => {
    const viaControl = await invoke(await mandate('control:application.get:read'), { command: 'application.get', args: { app: north.clientId } });
    const viaAdmin = await s.admin('GET', `/v1/zones/north/applications/${north.clientId}`);
    expect(viaControl).toMatchObject({ status: 200, body: viaAdmin.body });
    const zones = await invoke(await mandate('control:zone.list:read'), { command: 'zone.list' });
    expect(zones.body.items.map((z: { slug: string }) => z.slug)).toEqual(['north']);
    const event = (await controlEvents(viaControl.headers.get('x-request-id')))[0];
    expect(event).toMatchObject({ type: 'control.invoked', decision: 'allow', reason: 'command_dispatched', zone_id: north.zoneId, data: { command: 'application.get', status: 200 } });
  });

  it('revokes a session as the admin route does: same answer, same admin-audit row and ledger event, the control subject as actor', async () => {
    const other = decodePayload(await s.session(north)).sid;
    const viaAdmin = await s.admin('POST', `/v1/zones/north/sessions/${other}/revoke`, { reason: 'rotated' });
    const viaControl = await invoke(await mandate('control:session.revoke:write', { sub: 'ops-oncall' }), { command: 'session.revoke', args: { session: sid, reason: 'rotated' } });
    expect(viaControl.status).toBe(viaAdmin.status);
    const shape = (b: Record<string, unknown>) => ({ ...b, id: undefined, target_id: undefined, revoked_at: undefined, revoked_by: undefined, sessions_ended: undefined });
    expect(shape(viaControl.body)).toEqual(shape(viaAdmin.body));
    expect(viaControl.body).toMatchObject({ target_type: 'authority_session', target_id: sid, revoked_by: 'control:ops-oncall', created: true });

    const rows = await adminQuery(s.db.adminUrl, "SELECT actor, action, zone_id, target, request_id, detail FROM caracal.admin_audit_events WHERE action = 'revocation.create' ORDER BY seq");
    expect(rows.rows).toHaveLength(2);
    const [adminRow, controlRow] = rows.rows as [Record<string, unknown>, Record<string, unknown>];
    expect(controlRow).toMatchObject({ actor: 'control:ops-oncall', action: adminRow.action, zone_id: north.zoneId, target: `authority_session:${sid}`, request_id: viaControl.headers.get('x-request-id') });
    expect(controlRow.detail).toEqual(adminRow.detail);
    const ledger = (await s.auditEvents()).filter((e) => e.type === 'lineage.revoked');
    expect(ledger.map((e) => e.data.revoked_by)).toEqual(['bootstrap', 'control:ops-oncall']);
    expect(adminRow.actor).toBe('admin:bootstrap(bootstrap)');
    expect(await revokedAt(sid)).not.toBeNull();
    // The revoked session's lineage no longer stands: its control mandates are refused from now on.
    const after = await invoke(await mandate('control:zone.get:read'), { command: 'zone.get' });
    expect(after).toMatchObject({ status: 401, body: { error_description: 'the mandate lineage is revoked' } });
  });
});

describe('Redis gone', () => {
  it('denies with 503 (fail closed) and never dispatches', async () => {
    sid = decodePayload(await s.session(north)).sid;
    const token = await mandate('control:session.revoke:write');
    await redis.stop();
    const res = await invoke(token, { command: 'session.revoke', args: { session: sid } });
    expect(res).toMatchObject({ status: 503, body: { error: 'temporarily_unavailable', error_description: 'the replay registry is unavailable' } });
    expect(await revokedAt(sid)).toBeNull();
  });
});
