// The authority journey on a stack started with `caracal up`: provision with the CLI, bootstrap and exchange at
// the STS, call through the Gateway to a real upstream, revoke with the CLI, and find every decision on the
// signed audit stream.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type UpstreamControl } from '../../../../test-support/authority.js';
import { caracal, tempHome } from '../../../../test-support/cli.js';
import { freePort } from '../../../../test-support/deps.js';

const SERVICES = ['api', 'coordinator', 'sts', 'gateway', 'audit'];
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';

describe('the authority journey', () => {
  const home = tempHome('journey');
  const env = { CARACAL_HOME: join(home.dir, 'h') };
  const ports: Record<string, number> = {};
  let upstream: UpstreamControl;
  const cli = async (...args: string[]) => {
    const r = await caracal([...args, '--json'], env);
    if (r.exitCode !== 0) throw new Error(`caracal ${args.join(' ')} → ${r.exitCode}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  beforeAll(async () => {
    upstream = await startUpstream();
    for (const n of [...SERVICES, 'pg', 'redis']) ports[n] = await freePort();
    const init = await caracal(['init', '--yes', '--pg-port', String(ports.pg), '--redis-port', String(ports.redis), ...SERVICES.flatMap((s) => ['--port', `${s}=${ports[s]}`])], env);
    expect(init.exitCode).toBe(0);
    const up = await caracal(['up'], env);
    expect(up.exitCode, up.stderr).toBe(0);
  });
  afterAll(async () => {
    await caracal(['purge', 'all', '--yes'], env);
    await upstream.close();
    home.remove();
  });

  it('provision → bootstrap → exchange → gateway → revoke, audited end to end', async () => {
    const sts = `http://127.0.0.1:${ports.sts}`;
    const gw = `http://127.0.0.1:${ports.gateway}`;

    // 1. Provision with the CLI, scripted with --json.
    const zone = await cli('zone', 'create', 'payments', '--name', 'Payments');
    const app = await cli('app', 'create', '--zone', 'payments', '--name', 'invoice-agent');
    expect(app.client_secret).toMatch(/^[0-9a-f]{64}$/);
    const credFile = join(home.dir, 'billing-credential');
    writeFileSync(credFile, 'sk_live_billing_upstream_key\n', { mode: 0o600 });
    const resource = await cli('resource', 'create', '--zone', 'payments', '--id', 'resource://billing-api', '--upstream', upstream.url, '--credential-file', credFile, '--operation', 'GET /invoices*=invoices:read', '--operation', 'POST /invoices=invoices:write');
    expect(JSON.stringify(resource)).not.toContain('sk_live_billing_upstream_key');
    await cli('grant', 'create', '--zone', 'payments', '--app', app.client_id, '--resource', 'resource://billing-api', '--scopes', 'invoices:read,invoices:write');

    // 2. Bootstrap: a session mandate with only agent:lifecycle.
    const form = (f: Record<string, string>) => fetch(`${sts}/oauth/2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(f) });
    const boot = await form({ grant_type: 'client_credentials', client_id: app.client_id, client_secret: app.client_secret });
    expect(boot.status).toBe(200);
    const session = ((await boot.json()) as { access_token: string; scope: string });
    expect(session.scope).toBe('agent:lifecycle');

    // 3. Exchange for a gateway mandate for one resource and a subset of its scopes.
    const mint = async () => {
      const r = await form({ grant_type: EXCHANGE, subject_token: session.access_token, subject_token_type: ACCESS, resource: 'resource://billing-api', scope: 'invoices:read' });
      expect(r.status).toBe(200);
      return ((await r.json()) as { access_token: string }).access_token;
    };
    const mandate = await mint();

    // 4. Through the gateway: the upstream sees its own credential, never the mandate; the agent never sees it.
    const res = await fetch(`${gw}/billing-api/invoices/42`, { headers: { authorization: `Bearer ${mandate}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain('sk_live_billing_upstream_key');
    const seen = upstream.requests.at(-1)!;
    expect(seen.url).toBe('/invoices/42');
    expect(seen.headers.authorization).toBe('Bearer sk_live_billing_upstream_key');
    expect(JSON.stringify(seen.headers)).not.toContain(mandate);

    // 5. Revoke with the CLI: the very next call with that lineage fails with 401.
    const next = await mint();
    const sid = JSON.parse(Buffer.from(session.access_token.split('.')[1]!, 'base64url').toString()).sid;
    const revoked = await cli('session', 'revoke', '--zone', 'payments', sid, '--reason', 'journey test');
    expect(revoked).toMatchObject({ target_type: 'authority_session', target_id: sid });
    const after = await fetch(`${gw}/billing-api/invoices/42`, { headers: { authorization: `Bearer ${next}` } });
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toContain('resource_metadata=');
    const again = await form({ grant_type: EXCHANGE, subject_token: session.access_token, subject_token_type: ACCESS, resource: 'resource://billing-api', scope: 'invoices:read' });
    expect(again.status).toBe(400);

    // 6. Every mint, allow, deny and revoke reaches the zone's hash-chained ledger (through the audit service),
    //    searchable with the CLI, and the chain verifies.
    const expected = ['sts:mandate.issued:allow', 'gateway:gateway.allowed:allow', 'gateway:gateway.denied:deny', 'sts:mandate.denied:deny', 'api:lineage.revoked:deny'];
    let events: Array<Record<string, any>> = [];
    for (let i = 0; i < 100; i++) {
      const page = await cli('audit', 'search', '--zone', 'payments', '--limit', '1000');
      events = page.items.map((row: { data: Record<string, any> }) => row.data);
      const kinds = new Set(events.map((e) => `${e.source}:${e.type}:${e.decision}`));
      if (expected.every((k) => kinds.has(k)) && events.filter((e) => e.type === 'mandate.issued').length >= 3) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const verified = await caracal(['audit', 'verify', '--zone', 'payments', '--json'], env);
    expect(verified.exitCode).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true });
    const inZone = events.filter((e) => e.zone_id === zone.id);
    const kinds = inZone.map((e) => `${e.source}:${e.type}:${e.decision}`);
    expect(kinds.filter((k) => k === 'sts:mandate.issued:allow').length).toBeGreaterThanOrEqual(3);
    expect(kinds).toContain('gateway:gateway.allowed:allow');
    expect(kinds).toContain('gateway:gateway.denied:deny');
    expect(kinds).toContain('sts:mandate.denied:deny');
    expect(kinds).toContain('api:lineage.revoked:deny');
    expect(inZone.every((e) => typeof e.request_id === 'string' && e.request_id.length > 0)).toBe(true);
    expect(JSON.stringify(events)).not.toContain('sk_live_billing_upstream_key');
    expect(JSON.stringify(events)).not.toContain(app.client_secret);
  });
});
