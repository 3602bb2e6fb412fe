// Zone policy sets evaluated by the STS (R-POL-1, R-POL-3): real Rego compiled by the real opa into opa-wasm bundles,
// activated in Postgres and announced on caracal.policy.invalidate, or activated through the API. They narrow what
// the contract allows and never widen it; a set that fails, runs over its budget or exhausts its memory denies and
// the STS stays healthy; activation and deactivation reach every STS instance; 10,000 evaluations keep memory flat.
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../../packages/logging/dist/index.js';
import { publishSigned, StreamKeys, STREAMS } from '../../../../packages/streams/dist/index.js';
import { ACCESS, EXCHANGE, startAuthorityStack, startService, stopService, type AuthorityStack, type Provisioned, type Running } from '../../../../test-support/authority.js';
import { adminQuery } from '../../../../test-support/db.js';
import { freePort } from '../../../../test-support/deps.js';
import { buildBundle, policyDir, requireOpa } from '../../../../test-support/opa.js';
import { buildApp } from '../../dist/app.js';
import { loadConfig } from '../../dist/config.js';
import { PolicyStore, ZonePolicies } from '../../dist/policy/index.js';

// No periodic check on the stack's STS and the second instance: what they see of an activation comes from the stream.
const NO_RECHECK = { POLICY_RECHECK_MS: '300000' };
const SCOPES = ['items:read', 'items:write'];

let s: AuthorityStack;
let second: Running;
let periodic: Running;
let tight: Running;
let redis: Redis;
const work = policyDir('sts-eval');

async function extraSts(label: string, env: Record<string, string>): Promise<Running> {
  const port = await freePort();
  return startService('sts', buildApp, loadConfig({ ...s.env, PORT: String(port), DATABASE_URL: s.db.roleUrl('sts'), AUDIT_SPILL_DIR: join(s.spillRoot, label), ...env }));
}

beforeAll(async () => {
  requireOpa();
  s = await startAuthorityStack('poleval', {}, { stsEnv: NO_RECHECK });
  second = await extraSts('sts-2', NO_RECHECK);
  periodic = await extraSts('sts-periodic', { POLICY_RECHECK_MS: '200' });
  tight = await extraSts('sts-tight', { ...NO_RECHECK, POLICY_EVAL_BUDGET_MS: '0.1' });
  redis = new Redis(s.env.REDIS_URL);
}, 60_000);
afterAll(async () => {
  redis?.disconnect();
  for (const r of [second, periodic, tight]) if (r) await stopService(r);
  await s?.stop();
  work.remove();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Compiles Rego (package caracal, entrypoint caracal/allow) into a bundle with the real opa. */
let built = 0;
async function compile(rego: string) {
  const name = `p${++built}`;
  work.write({ [`${name}/policy.rego`]: rego });
  return buildBundle(join(work.dir, name), join(work.dir, `${name}.tar.gz`));
}

/** Stores a new version of the zone's set `name` and makes it the active one, as an activation does. */
async function activate(p: Provisioned, name: string, rego: string, announce = true): Promise<void> {
  const b = await compile(rego);
  const set = await adminQuery<{ id: string }>(
    s.db.adminUrl,
    'INSERT INTO caracal.policy_sets (zone_id, name) VALUES ($1, $2) ON CONFLICT (zone_id, name) DO UPDATE SET name = EXCLUDED.name RETURNING id',
    [p.zoneId, name],
  );
  const id = set.rows[0]!.id;
  const v = await adminQuery<{ version: number }>(
    s.db.adminUrl,
    `INSERT INTO caracal.policy_set_versions (zone_id, policy_set_id, version, rego_source, wasm_bundle, bundle_sha256, entrypoint, created_by)
     SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4, $5, 'caracal/allow', 'test' FROM caracal.policy_set_versions WHERE policy_set_id = $2
     RETURNING version`,
    [p.zoneId, id, rego, b.bytes, b.sha256],
  );
  await adminQuery(s.db.adminUrl, 'UPDATE caracal.policy_sets SET active_version = $1, activated_at = now() WHERE id = $2', [v.rows[0]!.version, id]);
  if (announce) await invalidate(p);
}

async function deactivate(p: Provisioned, name: string, announce = true): Promise<void> {
  await adminQuery(s.db.adminUrl, 'UPDATE caracal.policy_sets SET active_version = NULL WHERE zone_id = $1 AND name = $2', [p.zoneId, name]);
  if (announce) await invalidate(p);
}

async function invalidate(p: Provisioned): Promise<void> {
  await publishSigned(redis, new StreamKeys(s.prefix), STREAMS.policyInvalidate, { zone_id: p.zoneId }, s.env.STREAMS_HMAC_KEY);
}

async function provision(slug: string): Promise<Provisioned & { session: string }> {
  const p = await s.provision(slug, { scopes: SCOPES, operations: [{ method: '*', path: '/*', scope: 'items:read' }] });
  return { ...p, session: await s.session(p) };
}

type Zone = Awaited<ReturnType<typeof provision>>;

/** A token exchange against one STS instance (the stack's by default). */
async function exchange(p: Zone, scope: string, at: Running = s.sts, extra: Record<string, string> = {}) {
  const form = new URLSearchParams({ grant_type: EXCHANGE, subject_token: p.session, subject_token_type: ACCESS, resource: p.resource, scope, ...extra });
  const res = await fetch(`${at.url}/oauth/2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** Polls until `fn` holds, for at most `ms` (the bound a test asserts); returns whether it held. */
async function within(ms: number, fn: () => Promise<boolean>): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() > until) return false;
    await sleep(50);
  }
}

/** The audit events of this zone's exchanges, newest last. */
const events = async (p: Zone, type: string) => (await s.auditEvents()).filter((e) => e.zone_id === p.zoneId && e.type === type);

const ALLOW_ALL = 'package caracal\n\nallow := true\n';

// Business hours as a set of UTC hours, written into the Rego; the hour comes from input.context.time.
const AFTER_HOURS = (open: number[]) => `package caracal

business_hours := {${open.join(', ')}}

default allow := {"allow": true}

allow := {"allow": false, "reasons": ["items:write is refused outside business hours"]} if {
	"items:write" in input.context.requested_scopes
	not input.context.time.utc.hour in business_hours
}
`;

/** Hours around now (an hour boundary passing during the test keeps it inside) and hours well away from it. */
const hour = () => new Date().getUTCHours();
const hoursAround = (h: number, from: number, to: number) => Array.from({ length: to - from }, (_, i) => (h + from + i + 24) % 24);

describe('zone policy sets in the STS', () => {
  it('a set that denies a scope after hours: the hour comes from input.context.time', async () => {
    const p = await provision('hours');
    await activate(p, 'after-hours', AFTER_HOURS(hoursAround(hour(), 3, 8)));
    expect((await exchange(p, 'items:read')).status).toBe(200);
    const denied = await exchange(p, 'items:write');
    expect(denied).toEqual({ status: 403, body: { error: 'access_denied', error_description: 'a zone policy set denies this request' } });
    const ev = (await events(p, 'mandate.denied')).at(-1)!;
    expect(ev.reason).toBe('policy_denied');
    expect(ev.data).toMatchObject({ status: 403, evaluation_status: 'complete', determining_policies: ['after-hours@v1'], diagnostics: ['after-hours@v1: items:write is refused outside business hours'] });

    // Version 2 has the current hour inside business hours: the same request is minted, and the event names the set.
    await activate(p, 'after-hours', AFTER_HOURS(hoursAround(hour(), -1, 3)));
    expect(await within(5000, async () => (await exchange(p, 'items:write')).status === 200)).toBe(true);
    const issued = (await events(p, 'mandate.issued')).at(-1)!;
    expect(issued.data).toMatchObject({ scope: 'items:write', determining_policies: ['caracal.contract', 'after-hours@v2'], diagnostics: [] });
  });

  it('a set that limits the zone to applications labelled payments (principal.labels, the application’s labels)', async () => {
    const p = await provision('labels');
    await activate(p, 'payments-only', 'package caracal\n\ndefault allow := false\n\nallow if "payments" in input.principal.labels\n');
    const denied = await exchange(p, 'items:read');
    expect(denied.status).toBe(403);
    expect((await events(p, 'mandate.denied')).at(-1)).toMatchObject({ reason: 'policy_denied', data: { determining_policies: ['payments-only@v1'] } });
    // Labels are read at each decision: labelling the application is enough.
    await adminQuery(s.db.adminUrl, "UPDATE caracal.applications SET labels = '{payments}' WHERE id = $1", [p.applicationId]);
    expect((await exchange(p, 'items:read')).status).toBe(200);

    // A delegated mint reads the labels in the same call as the graph's state, its shape kept after the first mint.
    const agents = await adminQuery<{ id: string }>(
      s.db.adminUrl,
      "INSERT INTO caracal.agent_sessions (zone_id, application_id, ttl_seconds, expires_at) SELECT $1, $2, 600, now() + interval '600 seconds' FROM generate_series(1, 2) RETURNING id",
      [p.zoneId, p.applicationId],
    );
    const [a, b] = agents.rows.map((r) => r.id);
    const edge = await adminQuery<{ id: string }>(
      s.db.adminUrl,
      "INSERT INTO caracal.delegation_edges (zone_id, source_session_id, target_session_id, scopes, hop_count, expires_at, accepted_at) VALUES ($1, $2, $3, '{items:read}', 1, now() + interval '300 seconds', now()) RETURNING id",
      [p.zoneId, a, b],
    );
    const delegated = () => exchange(p, 'items:read', s.sts, { agent_session_id: b!, delegation_edge_id: edge.rows[0]!.id });
    expect((await delegated()).status).toBe(200);
    expect((await delegated()).status).toBe(200);
    await adminQuery(s.db.adminUrl, "UPDATE caracal.applications SET labels = '{}' WHERE id = $1", [p.applicationId]);
    expect(await delegated()).toMatchObject({ status: 403, body: { error: 'access_denied' } });
    expect((await events(p, 'mandate.denied')).at(-1)).toMatchObject({ reason: 'policy_denied', data: { determining_policies: ['payments-only@v1'] } });
  });

  it('a set that requires step-up for a scope: 401 interaction_required, then minted once an approver approves', async () => {
    const p = await provision('stepup');
    await activate(
      p,
      'write-needs-approval',
      `package caracal

allow := {"allow": true, "step_up": [sc | some sc in input.context.requested_scopes; sc == "items:write"], "diagnostics": ["items:write needs an approver"]}
`,
    );
    expect((await exchange(p, 'items:read')).status).toBe(200);
    const first = await exchange(p, 'items:write');
    expect(first.status).toBe(401);
    expect(first.body).toMatchObject({ error: 'interaction_required', approval_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect((await s.admin('POST', `/v1/zones/${p.slug}/approvals/${first.body.approval_id}/approve`)).status).toBe(200);
    const retried = await exchange(p, 'items:write', s.sts, { approval_id: first.body.approval_id });
    expect(retried.status).toBe(200);
    expect((await events(p, 'mandate.issued')).at(-1)!.data).toMatchObject({
      approval_id: first.body.approval_id,
      determining_policies: ['caracal.contract', 'write-needs-approval@v1'],
      diagnostics: ['write-needs-approval@v1: items:write needs an approver'],
    });
  });

  it('a set that allows everything widens nothing the contract denies', async () => {
    const p = await provision('widen');
    await activate(p, 'allow-all', ALLOW_ALL);
    expect((await exchange(p, 'items:read')).status).toBe(200);
    // Not granted, and the agent:lifecycle scope: the contract's denials stand.
    expect((await exchange(p, 'items:delete')).body).toMatchObject({ error: 'access_denied' });
    expect((await events(p, 'mandate.denied')).at(-1)!.reason).toBe('role_scope_mismatch');
    expect((await exchange(p, 'agent:lifecycle')).status).toBe(403);
    expect((await events(p, 'mandate.denied')).at(-1)!.reason).toBe('role_scope_mismatch');
  });

  it('every active set must allow: one denying set among allowing ones denies', async () => {
    const p = await provision('several');
    await activate(p, 'a-allow', ALLOW_ALL);
    await activate(p, 'b-deny', 'package caracal\n\nallow := {"decision": "deny", "reasons": ["never"]}\n');
    expect((await exchange(p, 'items:read')).status).toBe(403);
    expect((await events(p, 'mandate.denied')).at(-1)).toMatchObject({ reason: 'policy_denied', data: { determining_policies: ['b-deny@v1'], diagnostics: ['b-deny@v1: never'] } });
    await deactivate(p, 'b-deny');
    expect(await within(5000, async () => (await exchange(p, 'items:read')).status === 200)).toBe(true);
  });

  it('an evaluation error, a result of the wrong shape and an exhausted memory deny with policy_error; the STS stays healthy', async () => {
    const p = await provision('errors');
    // Two complete rules with different values for the same input: a conflict raised inside the module.
    await activate(p, 'conflict', 'package caracal\n\nallow := true if input.context.request_id != ""\n\nallow := false if input.context.request_id != ""\n');
    expect((await exchange(p, 'items:read')).status).toBe(403);
    const conflict = (await events(p, 'mandate.denied')).at(-1)!;
    expect(conflict).toMatchObject({ reason: 'policy_error', data: { status: 403, evaluation_status: 'error', determining_policies: ['conflict@v1'] } });
    expect(conflict.data.diagnostics[0]).toMatch(/^conflict@v1: policy evaluation failed: .*var assignment conflict$/);

    await activate(p, 'conflict', 'package caracal\n\nallow := "yes"\n');
    expect((await exchange(p, 'items:read')).status).toBe(403);
    expect((await events(p, 'mandate.denied')).at(-1)).toMatchObject({ reason: 'policy_error', data: { determining_policies: ['conflict@v2'], diagnostics: ['conflict@v2: the entrypoint is neither a boolean nor an object'] } });

    // items:write builds an array as long as the Unix time in seconds: far past the module's 16 MiB.
    await activate(
      p,
      'conflict',
      `package caracal

allow if not "items:write" in input.context.requested_scopes

allow if {
	"items:write" in input.context.requested_scopes
	count(numbers.range(1, input.context.time.unix_seconds)) > 0
}
`,
    );
    for (let i = 0; i < 3; i++) expect((await exchange(p, 'items:write')).status).toBe(403);
    const oom = (await events(p, 'mandate.denied')).at(-1)!;
    expect(oom).toMatchObject({ reason: 'policy_error', data: { determining_policies: ['conflict@v3'] } });
    expect(oom.data.diagnostics).toEqual(['conflict@v3: policy evaluation failed: opa_malloc: failed']);
    expect((await fetch(`${s.sts.url}/ready`)).status).toBe(200);
    // The same set evaluates normally afterwards (the STS loads the module again after a failed evaluation).
    expect((await exchange(p, 'items:read')).status).toBe(200);
  });

  it('an evaluation over the time budget denies (measured: a wasm call cannot be interrupted)', async () => {
    const p = await provision('budget');
    await activate(p, 'slow', 'package caracal\n\nallow if count(numbers.range(1, 50000 + input.context.time.utc.minute)) > 0\n');
    const r = await exchange(p, 'items:read', tight);
    expect(r.status).toBe(403);
    const ev = (await events(p, 'mandate.denied')).at(-1)!;
    expect(ev.reason).toBe('policy_error');
    expect(ev.data.diagnostics[0]).toMatch(/^slow@v1: the evaluation took [\d.]+ ms, over the 0\.1 ms budget$/);
  });

  it('activation and deactivation reach two STS instances through caracal.policy.invalidate, within 5 s', async () => {
    const p = await provision('instances');
    // Both instances have read (and cached) the zone without sets.
    for (const r of [s.sts, second]) expect((await exchange(p, 'items:read', r)).status).toBe(200);
    await activate(p, 'deny-read', 'package caracal\n\nallow if not "items:read" in input.context.requested_scopes\n');
    for (const r of [s.sts, second]) expect(await within(5000, async () => (await exchange(p, 'items:read', r)).status === 403)).toBe(true);
    await deactivate(p, 'deny-read');
    for (const r of [s.sts, second]) expect(await within(5000, async () => (await exchange(p, 'items:read', r)).status === 200)).toBe(true);
  });

  it('a set uploaded and activated through the API reaches both instances; deactivated likewise', async () => {
    const p = await provision('viaapi');
    for (const r of [s.sts, second]) expect((await exchange(p, 'items:write', r)).status).toBe(200);
    const rego = 'package caracal\n\nallow := {"allow": false, "reasons": ["read only"]} if "items:write" in input.context.requested_scopes\n\nelse := true\n';
    const b = await compile(rego);
    expect((await s.admin('POST', `/v1/zones/${p.slug}/policy-sets`, { name: 'read-only' })).status).toBe(201);
    const up = await s.admin('POST', `/v1/zones/${p.slug}/policy-sets/read-only/versions`, { rego_source: rego, bundle: b.bytes.toString('base64'), bundle_sha256: b.sha256 });
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    expect((await s.admin('POST', `/v1/zones/${p.slug}/policy-sets/read-only/activate`, { version: 1 })).status).toBe(200);
    for (const r of [s.sts, second]) expect(await within(5000, async () => (await exchange(p, 'items:write', r)).status === 403)).toBe(true);
    expect((await exchange(p, 'items:read')).status).toBe(200);
    expect((await events(p, 'mandate.denied')).at(-1)).toMatchObject({ reason: 'policy_denied', data: { determining_policies: ['read-only@v1'], diagnostics: ['read-only@v1: read only'] } });
    expect((await s.admin('POST', `/v1/zones/${p.slug}/policy-sets/read-only/deactivate`)).status).toBe(200);
    for (const r of [s.sts, second]) expect(await within(5000, async () => (await exchange(p, 'items:write', r)).status === 200)).toBe(true);
  });

  it('without any invalidation message, the periodic check picks up an activation and a deactivation', async () => {
    const p = await provision('periodic');
    expect((await exchange(p, 'items:read', periodic)).status).toBe(200);
    await activate(p, 'deny-all', 'package caracal\n\nallow := false\n', false);
    expect(await within(5000, async () => (await exchange(p, 'items:read', periodic)).status === 403)).toBe(true);
    // The instances without a periodic check still serve what they cached: the stream is what reaches them.
    await deactivate(p, 'deny-all', false);
    expect(await within(5000, async () => (await exchange(p, 'items:read', periodic)).status === 200)).toBe(true);
  });

  it('a policy store that cannot be read fails closed with 503', async () => {
    const p = await provision('store');
    await activate(p, 'allow-all', ALLOW_ALL);
    await adminQuery(s.db.adminUrl, `REVOKE SELECT ON caracal.policy_sets FROM ${s.db.rolePrefix}_sts`);
    try {
      await invalidate(p);
      expect(await within(5000, async () => (await exchange(p, 'items:read')).status === 503)).toBe(true);
      expect((await events(p, 'mandate.denied')).at(-1)!.reason).toBe('policy_store_unavailable');
    } finally {
      await adminQuery(s.db.adminUrl, `GRANT SELECT ON caracal.policy_sets TO ${s.db.rolePrefix}_sts`);
    }
    expect(await within(5000, async () => (await exchange(p, 'items:read')).status === 200)).toBe(true);
  });

  it('10,000 evaluations keep memory flat (the old opa-wasm leak would exhaust the module)', async () => {
    const p = await provision('leak');
    await activate(p, 'hours', AFTER_HOURS(hoursAround(hour(), -1, 3)));
    const pool = new pg.Pool({ connectionString: s.db.roleUrl('sts'), max: 2 });
    const policies = new ZonePolicies({ store: new PolicyStore(pool), memory: { initialPages: 5, maximumPages: 256 }, budgetMs: 10_000, logger: createLogger({ service: 'test', level: 'silent' }) });
    const input = (i: number) => ({
      schema_version: 1 as const,
      principal: { type: 'application' as const, id: p.applicationId, zone_id: p.zoneId, agent_session_id: null, labels: [] },
      resource: { id: 'r', identifier: p.resource, scopes: SCOPES },
      action: { id: 'mint' as const },
      session: null,
      delegation_edge: null,
      context: { requested_scopes: ['items:write', `pad-${'x'.repeat(2048)}`], request_id: `req-${i}` },
    });
    try {
      const run = async (n: number, from: number) => {
        let allowed = 0;
        for (let i = from; i < from + n; i++) if ((await policies.decide(p.zoneId, input(i), new Date())).allow) allowed++;
        return allowed;
      };
      expect(await run(1000, 0)).toBe(1000);
      const before = process.memoryUsage();
      expect(await run(10_000, 1000)).toBe(10_000);
      const after = process.memoryUsage();
      // Generous. A module keeping each input (over 2 KiB × 10,000) would also have run out of its 16 MiB and denied.
      expect(after.rss - before.rss).toBeLessThan(64 * 1024 * 1024);
      expect(after.heapUsed - before.heapUsed).toBeLessThan(64 * 1024 * 1024);
    } finally {
      await pool.end();
    }
  }, 120_000);
});
