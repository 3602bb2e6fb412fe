// A property of delegation (R-CO-1, R-STS-2, R-STS-6), checked against the coordinator and the STS over real HTTP on
// real Postgres and Redis: random delegation trees (depth up to the 10-hop limit and one beyond, random scope subsets,
// random expiries, two applications with different grants, some subtrees revoked) × random token exchanges (scopes,
// resources, lifetimes, edges and applications, some beyond what the edge allows) → no edge and no minted mandate
// ever exceeds its parent's authority (scopes ⊆ edge ⊆ parent edge ⊆ source grants, audience the granted resource)
// or outlives it (exp ≤ edge expiry ≤ parent edge and source session expiry); every refusal names a registered
// reason that matches what was wrong. Seeded: DELEGATION_PROPERTY_SEED=<n> replays a run; a failure prints its seed.
import { randomBytes, randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DENY_REASONS } from '../../../../packages/deny-reasons/dist/index.js';
import { ACCESS, EXCHANGE, startAuthorityStack, stopService, type AuthorityStack, type Provisioned, type startService } from '../../../../test-support/authority.js';
import { decodePayload } from '../../../../test-support/forge.js';
import { coordinatorClient, coordinatorEnv, startTwoCoordinators } from './client.js';

const SEED = Number(process.env.DELEGATION_PROPERTY_SEED ?? randomInt(2 ** 31));
const TREES = 12;
const EXTRA_EDGES_PER_TREE = [2, 8] as const;
const REQUESTS_PER_PHASE = 250;
const MAX_HOPS = 10;

const U = ['items:read', 'items:write', 'items:delete', 'reports:read', 'reports:write'];
const GRANTS = { a: ['items:read', 'items:write', 'items:delete', 'reports:read'], b: ['items:read', 'items:write', 'reports:read', 'reports:write'] };
type AppKey = keyof typeof GRANTS;

/** mulberry32: small, seeded, good enough to pick test cases. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
  const chance = (p: number) => next() < p;
  /** A non-empty random subset of `xs`. */
  const subset = (xs: readonly string[]) => {
    const out = xs.filter(() => chance(0.5));
    return out.length > 0 ? out : [pick(xs)];
  };
  return { int, pick, chance, subset };
}

interface Session {
  id: string;
  app: AppKey;
  expiresAt: number; // ms
}
interface Edge {
  id: string;
  source: Session;
  target: Session;
  parent: Edge | null;
  scopes: string[];
  expiresAt: number; // ms
  hop: number;
  revoked: boolean;
}

const token = randomBytes(32).toString('hex');
let s: AuthorityStack;
let apps: Record<AppKey, Provisioned>;
let other: string; // a resource of the zone granted to neither application
let coordinators: Array<Awaited<ReturnType<typeof startService>>>;

beforeAll(async () => {
  s = await startAuthorityStack('delegprop', {}, { apiEnv: { API_RATE_PER_MIN: '100000' } });
  const a = await s.provision('prop', { scopes: GRANTS.a, operations: U.map((scope, i) => ({ method: 'GET', path: `/op${i}/*`, scope })) });
  const b = await s.admin('POST', '/v1/zones/prop/applications', { name: 'second' });
  await s.admin('POST', '/v1/zones/prop/grants', { application: b.body.client_id, resource: a.resource, scopes: GRANTS.b });
  apps = { a, b: { ...a, clientId: b.body.client_id, clientSecret: b.body.client_secret, applicationId: b.body.id } };
  other = 'resource://prop-other';
  const r = await s.admin('POST', '/v1/zones/prop/resources', { identifier: other, upstream_url: s.upstream.url, credential: 'other-credential', operations: [{ method: 'GET', path: '/*', scope: 'items:read' }] });
  expect(r.status).toBe(201);
  const { c1, c2 } = await startTwoCoordinators(await coordinatorEnv(s, token, { AGENT_FANOUT_LIMIT: '1000' }));
  coordinators = [c1, c2];
}, 60_000);
afterAll(async () => {
  for (const c of coordinators ?? []) await stopService(c).catch(() => undefined);
  await s?.stop();
});

const subsetOf = (a: readonly string[], b: readonly string[]) => a.every((x) => b.includes(x));

/** What must refuse a request, each with the reasons that name it. */
const REASONS = {
  wrongEdge: ['delegation_unknown'],
  wrongApp: ['agent_session_unknown'],
  unknownResource: ['unknown_resource'],
  notGranted: ['resource_not_granted', 'role_scope_mismatch'],
  beyondEdge: ['delegation_scope_exceeded', 'scope_widening'],
  beyondGrant: ['role_scope_mismatch', 'delegation_scope_exceeded'],
  revoked: ['lineage_revoked', 'delegation_revoked'],
  expired: ['lineage_revoked', 'delegation_expired'],
  // The edge holds scopes the minting application is not granted: allowed to refuse, not required to.
  edgeBeyondGrant: ['delegation_scope_exceeded'],
} as const;
type Violation = keyof typeof REASONS;

describe('delegation property', () => {
  it(`random trees × random exchanges: nothing minted exceeds or outlives its parent (seed ${SEED})`, async () => {
    try {
      await run(prng(SEED));
    } catch (err) {
      throw new Error(`delegation property failed; replay with DELEGATION_PROPERTY_SEED=${SEED}\n${(err as Error).message}`, { cause: err });
    }
  });
});

async function run(rng: ReturnType<typeof prng>): Promise<void> {
  const call = coordinatorClient(token, () => rng.pick(coordinators).url);
  const zone = `zone_id=${apps.a.zoneId}`;
  const edges: Edge[] = [];
  const refusedEdges: Record<string, number> = {};

  async function startSession(): Promise<Session> {
    const app: AppKey = rng.chance(0.5) ? 'a' : 'b';
    const r = await call('POST', `/v1/agents?${zone}`, { application_id: apps[app].applicationId, ttl_seconds: rng.chance(0.3) ? rng.int(300, 600) : rng.int(900, 3600) });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return { id: r.body.id, app, expiresAt: Date.parse(r.body.expires_at) };
  }

  /** One delegation attempt from `source` (below `parent`, or a root edge), checked against the rules; `within`
   *  keeps its scopes and expiry inside the bounds. */
  async function delegate(source: Session, parent: Edge | null, within = false): Promise<Edge | null> {
    const target = await startSession();
    const bound = parent ? parent.scopes : GRANTS[source.app];
    const scopes = within || rng.chance(0.75) ? rng.subset(bound) : rng.subset(U);
    const ceiling = Math.min(source.expiresAt, parent ? parent.expiresAt : Infinity);
    // Within: up to 20 s earlier than the ceiling (sessions live ≥ 15 min, so nothing expires during the test).
    const expiresAt = within || rng.chance(0.8) ? ceiling - rng.int(0, 20) * 1000 : ceiling + rng.int(1, 600) * 1000;
    const hop = (parent?.hop ?? 0) + 1;
    const body = { source_session_id: source.id, target_session_id: target.id, scopes, expires_at: new Date(expiresAt).toISOString(), ...(parent ? { parent_edge_id: parent.id } : {}) };
    const r = await call('POST', `/v1/delegations?${zone}`, body);
    const wrong = [
      ...(subsetOf(scopes, bound) ? [] : ['delegation_scope_exceeded']),
      ...(hop > MAX_HOPS ? ['hop_limit_exceeded'] : []),
      ...(expiresAt > ceiling ? ['delegation_expired'] : []),
    ];
    if (wrong.length > 0) {
      expect(r.status, `edge ${JSON.stringify(body)} should be refused (${wrong.join(', ')}): ${JSON.stringify(r.body)}`).toBe(409);
      expect(wrong, `edge ${JSON.stringify(body)}`).toContain(r.body.error);
      refusedEdges[r.body.error] = (refusedEdges[r.body.error] ?? 0) + 1;
      return null;
    }
    expect(r.status, `edge ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`).toBe(201);
    const e = r.body;
    // The stored edge never exceeds or outlives what it was cut from.
    expect(subsetOf(e.scopes, bound)).toBe(true);
    expect(Date.parse(e.expires_at)).toBeLessThanOrEqual(ceiling);
    expect(e).toMatchObject({ hop_count: hop, parent_edge_id: parent?.id ?? null, path: parent ? [...edgePath(parent), parent.id] : [] });
    if (source.app !== target.app) {
      expect(e.status).toBe('pending');
      expect((await call('POST', `/v1/delegations/${e.id}/accept?${zone}`)).status).toBe(200);
    } else expect(e.status).toBe('active');
    const edge: Edge = { id: e.id, source, target, parent, scopes: e.scopes, expiresAt: Date.parse(e.expires_at), hop, revoked: false };
    edges.push(edge);
    return edge;
  }

  // Trees of a random depth (the first always 10 hops deep): a root edge within the source application's grants,
  // attempts below the deepest edge until the depth is reached, then attempts below random edges. Every attempt
  // draws its scopes and expiry at random, some beyond the bounds.
  for (let t = 0; t < TREES; t++) {
    const depth = t === 0 ? MAX_HOPS : rng.int(1, MAX_HOPS);
    const root = await startSession();
    let top: Edge | null = null;
    for (let attempt = 0; attempt < 20 && !top; attempt++) top = await delegate(root, null);
    expect(top, 'no root edge in 20 attempts').not.toBeNull();
    const tree = [top!];
    const deepest = () => tree.reduce((x, y) => (y.hop > x.hop ? y : x));
    for (let attempt = 0; attempt < 60 && deepest().hop < depth; attempt++) {
      const child = await delegate(deepest().target, deepest());
      if (child) tree.push(child);
    }
    expect(deepest().hop, `tree ${t} did not reach ${depth} hops`).toBe(depth);
    // An 11th hop within every other bound is refused for the hop alone.
    if (depth === MAX_HOPS) expect(await delegate(deepest().target, deepest(), true)).toBeNull();
    for (let k = rng.int(...EXTRA_EDGES_PER_TREE); k > 0; k--) {
      const parent = rng.pick(tree);
      const child = await delegate(parent.target, parent);
      if (child) tree.push(child);
    }
  }
  expect(refusedEdges.hop_limit_exceeded, JSON.stringify(refusedEdges)).toBeGreaterThan(0);

  const outcomes = { minted: 0, refused: {} as Record<string, number> };
  await exchanges(rng, edges, outcomes);
  // Revoke random edges; each takes its subtree with it.
  for (const e of edges.filter(() => rng.chance(0.2))) {
    if (e.revoked) continue;
    const r = await call('POST', `/v1/delegations/${e.id}/revoke?${zone}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const cut = edges.filter((x) => !x.revoked && (x === e || edgePath(x).includes(e.id)));
    expect([...r.body.descendants_revoked, e.id].sort()).toEqual(cut.map((x) => x.id).sort());
    for (const x of cut) x.revoked = true;
  }
  await exchanges(rng, edges, outcomes);

  // Not vacuous: both sides of the property were exercised.
  expect(outcomes.minted, JSON.stringify(outcomes)).toBeGreaterThan(0);
  expect(Object.values(outcomes.refused).reduce((a, b) => a + b, 0), JSON.stringify(outcomes)).toBeGreaterThan(0);
}

const edgePath = (e: Edge): string[] => (e.parent ? [...edgePath(e.parent), e.parent.id] : []);

/** REQUESTS_PER_PHASE random exchanges over random edges; every answer checked against the model. */
async function exchanges(rng: ReturnType<typeof prng>, edges: Edge[], outcomes: { minted: number; refused: Record<string, number> }): Promise<void> {
  const subjects = { a: await s.session(apps.a), b: await s.session(apps.b) };
  const refusals: Array<{ requestId: string; allowed: readonly string[]; what: string }> = [];
  for (let i = 0; i < REQUESTS_PER_PHASE; i++) {
    const edge = rng.pick(edges);
    const agent = edge.target;
    const used = rng.chance(0.1) ? rng.pick(edges) : edge;
    const minter: AppKey = rng.chance(0.08) ? (agent.app === 'a' ? 'b' : 'a') : agent.app;
    const resource = rng.chance(0.8) ? apps.a.resource : rng.chance(0.5) ? other : 'resource://prop-nowhere';
    const scopes = rng.chance(0.6) ? rng.subset(edge.scopes) : rng.subset(U);
    const ttl = rng.chance(0.5) ? undefined : rng.int(1, 100_000);
    const form: Record<string, string> = { grant_type: EXCHANGE, subject_token: subjects[minter], subject_token_type: ACCESS, resource, scope: scopes.join(' '), agent_session_id: agent.id, delegation_edge_id: used.id };
    if (ttl !== undefined) form.ttl_seconds = String(ttl);

    const violated: Violation[] = [];
    if (used.target.id !== agent.id) violated.push('wrongEdge');
    if (minter !== agent.app) violated.push('wrongApp');
    if (resource === other) violated.push('notGranted');
    if (resource === 'resource://prop-nowhere') violated.push('unknownResource');
    if (!subsetOf(scopes, used.scopes)) violated.push('beyondEdge');
    if (!subsetOf(scopes, GRANTS[minter])) violated.push('beyondGrant');
    if (used.revoked) violated.push('revoked');
    if (used.expiresAt <= Date.now()) violated.push('expired');
    const may = subsetOf(used.scopes, GRANTS[minter]) ? [] : (['edgeBeyondGrant'] as Violation[]);
    const what = `exchange ${JSON.stringify({ ...form, subject_token: `<${minter}>` })} over edge ${JSON.stringify({ scopes: used.scopes, hop: used.hop, revoked: used.revoked })}, violated [${violated.join(', ')}]`;

    const r = await s.token(form);
    if (r.status === 200) {
      expect(violated, `minted although ${what}`).toEqual([]);
      checkMinted(decodePayload(r.body.access_token), decodePayload(subjects[minter]), used, scopes, what);
      outcomes.minted++;
      continue;
    }
    expect(r.status, `${what}: ${JSON.stringify(r.body)}`).toBeGreaterThanOrEqual(400);
    expect(r.status, `${what}: ${JSON.stringify(r.body)}`).toBeLessThan(500);
    expect(r.body.access_token).toBeUndefined();
    expect(violated.length + may.length, `refused although within every bound: ${what}: ${r.status} ${JSON.stringify(r.body)}`).toBeGreaterThan(0);
    refusals.push({ requestId: r.headers.get('x-request-id')!, allowed: [...violated, ...may].flatMap((v) => REASONS[v]), what });
  }
  // Each refusal's audit event names a registered reason for something that was actually wrong.
  const byRequest = new Map<string, Record<string, any>>();
  for (let tries = 0; tries < 20 && refusals.some((f) => !byRequest.has(f.requestId)); tries++) {
    if (tries > 0) await new Promise((r) => setTimeout(r, 100));
    for (const e of await s.auditEvents()) if (e.type === 'mandate.denied') byRequest.set(e.request_id, e);
  }
  for (const f of refusals) {
    const reason = byRequest.get(f.requestId)?.reason;
    expect(reason, `no mandate.denied event for ${f.what}`).toBeDefined();
    expect(Object.keys(DENY_REASONS), f.what).toContain(reason);
    expect(f.allowed, `${f.what} was refused as '${reason}'`).toContain(reason);
    outcomes.refused[reason] = (outcomes.refused[reason] ?? 0) + 1;
  }
}

/** A minted mandate: the requested scopes, within the edge, every edge of its chain within the one above, the root
 *  edge within the source's grants, the granted resource only, and no lifetime beyond the edge, the chain, the subject or
 *  the agent session. */
function checkMinted(c: Record<string, any>, subject: Record<string, any>, edge: Edge, requested: string[], what: string): void {
  const scopes = String(c.scope).split(' ');
  expect(scopes.sort(), what).toEqual([...requested].sort());
  expect(subsetOf(scopes, edge.scopes), what).toBe(true);
  expect(subsetOf(scopes, GRANTS[edge.target.app]), what).toBe(true);
  let root = edge;
  while (root.parent) root = root.parent;
  expect(c, what).toMatchObject({ aud: apps.a.resource, use: 'gateway', sub: root.source.id, agent_session_id: edge.target.id, delegation_edge_id: edge.id, hop_count: edge.hop });
  expect(c.act?.sub, what).toBe(edge.target.id);
  expect(c.delegation_chain, what).toEqual([...edgePath(edge), edge.id]);
  // The edge's source acted before the target unless it is the root principal (`sub`).
  if (edge.parent) expect(JSON.stringify(c.act.act), what).toContain(edge.source.id);
  for (let e: Edge | null = edge; e; e = e.parent) {
    expect(subsetOf(e.scopes, e.parent ? e.parent.scopes : GRANTS[e.source.app]), what).toBe(true);
    expect(e.expiresAt, what).toBeLessThanOrEqual(Math.min(e.source.expiresAt, e.parent?.expiresAt ?? Infinity));
    expect(c.exp, what).toBeLessThanOrEqual(Math.floor(e.expiresAt / 1000));
  }
  expect(c.exp, what).toBeLessThanOrEqual(subject.exp);
  // Nor beyond the agent session it acts as (sessions of 300–600 s end before many edges to them do).
  expect(c.exp, what).toBeLessThanOrEqual(Math.floor(edge.target.expiresAt / 1000));
}
