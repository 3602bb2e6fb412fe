// bench/delegation: delegated mandates on a `caracal up` stack, each figure against its baseline in the same run.
// (a) Delegated mint at depth 5 — agent sessions A1 → … → A6 joined by 5 delegation edges made at the coordinator, the
//     worker (A6) exchanging at the STS with agent_session_id + delegation_edge_id — against the plain token exchange
//     of the same applications: throughput and latency at N closed-loop clients (one application each), and at one;
//     two rounds, the order alternating, and their mean; the database is ANALYZEd once the chains exist, as
//     autovacuum would within its first minute.
// (b) Cascade revocation, in trials: per trial a fresh tree of delegation edges below one root edge (a spine down to
//     hop 10, the rest filled breadth-first), gateway mandates minted for a sample of its descendants (every deepest
//     leaf included), the root edge revoked at the coordinator, then each sampled descendant's fresh mandates polled
//     through the gateway (to a local upstream) on a fixed schedule until the gateway denies them. Baselines in every
//     trial, polled the same way with as many mandates: one edge without descendants revoked at the coordinator, and
//     one authority session revoked through the admin API (the path bench:revocation measures). A mandate still
//     allowed at the end of the window is counted as never denied, never waited for.
// Usage: pnpm bench:delegation [--clients N] [--duration S] [--warmup S] [--subtree N] [--trials N] [--sample N]
//                              [--window S] [--poll-connections N] [--no-wait] [--mint-only]
// --no-wait skips waiting for a quiet machine and reruns of disturbed phases (a quick check of the harness only).
// --mint-only measures (a) alone: the same provisioning, no cascade trials; written to bench/out/delegation-mint.json.
import { loadavg } from 'node:os';
import { Pool } from 'undici';
import { arg, closedLoop, leastDisturbed, selfCpu, summarize, waitForQuiet } from './lib/load.mjs';
import {
  admin, analyze, bootstrap, call, claimsOf, exchangeBody, exchangeHeaders, machine, Misbehaviour, provision, RESOURCE, runBench, SCOPE, source, stackCpu, startStack, startUpstream, writeOut,
} from './lib/stack.mjs';

const CLIENTS = arg('--clients', arg('--connections', 50));
const DURATION_S = arg('--duration', 15);
const WARMUP_S = arg('--warmup', 5);
const SINGLE_S = 3;
const DEPTH = 5; // delegation edges between A1 and the worker A6
const SUBTREE = arg('--subtree', 1000); // descendant edges below the root edge
const TRIALS = arg('--trials', 10); // cascades, each on a tree of its own
const SAMPLE = Math.min(SUBTREE, arg('--sample', 20)); // descendants whose mandates are polled, per trial
const WINDOW_MS = arg('--window', 5) * 1000; // how long after the revoke a descendant may still be allowed
const POLL_CONNECTIONS = arg('--poll-connections', SAMPLE);
const QUIET = !process.argv.includes('--no-wait');
const MINT_ONLY = process.argv.includes('--mint-only');
const MAX_HOPS = 10;
const FANOUT = 3; // children per edge when the tree is filled breadth-first
const PER_APP = 100; // descendants per application: keeps each client well under the coordinator's rate limit
const TARGETS = { ratio: 0.8, p99Ms: 100 };
const SESSION_TTL_S = 3600;

// Poll offsets after the revoke returned (ms): dense first, sparser later, up to the window.
const SCHEDULE = [0, 5, 10, 20, 30, 50, 75, 100, 150, 250, 500, 1000, 2000, 3000, 5000, 10_000, 20_000, 30_000].filter((t) => t < WINDOW_MS);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ok = (b) => (b ? 'met' : 'MISSED');

/** Runs `fn` over `items` with at most `concurrency` at once; results in order. */
async function inParallel(items, concurrency, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i], i);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}

/** A small seeded generator (mulberry32), so the sample is the same from run to run. */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- the coordinator, driven by each application's own session mandate (each client has its own rate budget)
const coordinator = (stack, app, method, path, body) =>
  call(method, `${stack.url.coordinator}${path}`, { headers: { authorization: `Bearer ${app.session}`, 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });

const startAgent = async (stack, app) => (await coordinator(stack, app, 'POST', '/v1/agents', { ttl_seconds: SESSION_TTL_S })).id;

async function delegate(stack, from, to, { parent, expiresAt }) {
  const edge = await coordinator(stack, from.app, 'POST', '/v1/delegations', {
    source_session_id: from.session,
    target_session_id: to.session,
    scopes: [SCOPE],
    expires_at: expiresAt,
    ...(parent ? { parent_edge_id: parent } : {}),
  });
  // Across applications the edge waits for the receiving application's consent.
  if (edge.status === 'pending') await coordinator(stack, to.app, 'POST', `/v1/delegations/${edge.id}/accept`, {});
  else if (edge.status !== 'active') throw new Misbehaviour(`a new delegation is ${edge.status}`);
  return edge;
}

/** The exchange form of a worker acting as agent session `agent` over delegation edge `edge`. */
const delegatedBody = (app, agent, edge) => `${exchangeBody(app.session)}&${new URLSearchParams({ agent_session_id: agent, delegation_edge_id: edge })}`;

async function mint(stack, body) {
  return (await call('POST', `${stack.url.sts}/oauth/2/token`, { headers: exchangeHeaders, body, expect: [200] })).access_token;
}

/** Bootstraps every application's session mandate (agent:lifecycle) once. */
async function withSessions(stack, apps) {
  return inParallel(apps, 8, async (a) => ({ ...a, session: await bootstrap(stack, a) }));
}

// ---- (a) delegated mint at depth 5 against the direct exchange
async function measure(origin, bodies, cpuOf) {
  let i = 0;
  const next = () => ({ method: 'POST', path: '/oauth/2/token', headers: exchangeHeaders, body: bodies[i++ % bodies.length] });
  const opts = { attempts: QUIET ? 3 : 1 };
  const concurrent = await leastDisturbed(() => closedLoop({ origin, connections: CLIENTS, durationMs: DURATION_S * 1000, warmupMs: WARMUP_S * 1000, next, cpuOf, quiet: QUIET }), opts);
  const single = await leastDisturbed(() => closedLoop({ origin, connections: 1, durationMs: SINGLE_S * 1000, warmupMs: 500, next, cpuOf, quiet: QUIET }), opts);
  return { concurrent, single };
}

/** One chain A1 → … → A6 of one application; returns the worker A6 and the 5th edge. */
async function chainFor(stack, app, expiresAt) {
  const nodes = [];
  for (let k = 0; k <= DEPTH; k++) nodes.push({ app, session: await startAgent(stack, app) });
  let edge;
  for (let k = 0; k < DEPTH; k++) edge = await delegate(stack, nodes[k], nodes[k + 1], { parent: edge?.id, expiresAt });
  return { worker: nodes[DEPTH].session, edge };
}

async function mintRun(stack, apps, expiresAt) {
  const chains = await inParallel(apps, 8, (a) => chainFor(stack, a, expiresAt));
  const probe = claimsOf(await mint(stack, delegatedBody(apps[0], chains[0].worker, chains[0].edge.id)));
  const chain = probe.delegation_chain ?? [];
  if (probe.agent_session_id !== chains[0].worker || probe.act?.sub !== chains[0].worker || probe.hop_count !== DEPTH || chain.length !== DEPTH || chain[DEPTH - 1] !== chains[0].edge.id || probe.aud !== RESOURCE) {
    throw new Misbehaviour(`unexpected delegated mandate claims ${JSON.stringify(probe)}`);
  }
  await analyze(stack);
  const cpuOf = { ...stackCpu(stack, ['sts', 'audit']), load_generator: selfCpu };
  const direct = () => measure(stack.url.sts, apps.map((a) => exchangeBody(a.session)), cpuOf);
  const delegated = () => measure(stack.url.sts, apps.map((a, i) => delegatedBody(a, chains[i].worker, chains[i].edge.id)), cpuOf);
  // Two rounds, the order alternating: the ledger grows through the run and what runs later pays more for it.
  const first = { direct: await direct(), delegated: await delegated() };
  const second = { delegated: await delegated(), direct: await direct() };
  const both = (k, part) => meanOf(first[k][part], second[k][part]);
  return {
    direct: { concurrent: both('direct', 'concurrent'), single: both('direct', 'single') },
    delegated: { concurrent: both('delegated', 'concurrent'), single: both('delegated', 'single') },
  };
}

/** Two rounds of one measure: their mean rate and latencies, every error counted, each round kept whole. */
function meanOf(a, b) {
  const mean = (k) => +((a[k] + b[k]) / 2).toFixed(2);
  return {
    rps: Math.round((a.rps + b.rps) / 2),
    p50_ms: mean('p50_ms'),
    p90_ms: mean('p90_ms'),
    p99_ms: mean('p99_ms'),
    errors: a.errors + b.errors,
    warmup_errors: a.warmup_errors + b.warmup_errors,
    discarded_runs_errors: a.discarded_runs_errors + b.discarded_runs_errors,
    statuses: [a.statuses, b.statuses],
    failures: [...a.failures, ...b.failures],
    rounds: [a, b],
  };
}

// ---- (b) cascade revocation
/**
 * The tree below the root edge `top` (hop 1): a spine down to hop 10 first (the deepest leaves), then breadth-first
 * with FANOUT children per edge. Applications rotate over the nodes, so most edges cross applications (and are
 * accepted by the receiver).
 */
function treeShape(n, apps) {
  const nodes = [{ parent: -1, hop: 1, children: 0 }];
  const add = (parent) => {
    nodes[parent].children++;
    nodes.push({ parent, hop: nodes[parent].hop + 1, children: 0 });
  };
  while (nodes.length - 1 < n && nodes[nodes.length - 1].hop < MAX_HOPS) add(nodes.length - 1);
  for (let p = 0; nodes.length - 1 < n; p++) {
    if (nodes[p].hop >= MAX_HOPS) continue;
    while (nodes[p].children < FANOUT && nodes.length - 1 < n) add(p);
  }
  return nodes.map((x, i) => ({ ...x, app: apps[i % apps.length] }));
}

async function buildTree(stack, apps, expiresAt) {
  const nodes = treeShape(SUBTREE, apps);
  const rootSource = { app: apps[0], session: await startAgent(stack, apps[0]) };
  await inParallel(nodes, 8, async (x) => void (x.session = await startAgent(stack, x.app)));
  nodes[0].edge = await delegate(stack, rootSource, nodes[0], { expiresAt });
  // Level by level: an edge is delegated further only once it is active.
  for (let hop = 2; hop <= MAX_HOPS; hop++) {
    const level = nodes.filter((x) => x.hop === hop);
    await inParallel(level, 8, async (x) => void (x.edge = await delegate(stack, nodes[x.parent], x, { parent: nodes[x.parent].edge.id, expiresAt })));
  }
  return { root: nodes[0], descendants: nodes.slice(1) };
}

/** Deepest leaves (up to half the sample), then a seeded random pick of the others (a seed per trial), up to SAMPLE. */
function sampleOf(descendants, seed) {
  const deepest = Math.max(...descendants.map((d) => d.hop));
  const picked = descendants.filter((d) => d.hop === deepest).slice(0, Math.ceil(SAMPLE / 2));
  const rest = descendants.filter((d) => d.hop !== deepest);
  const rand = seeded(seed);
  for (let i = rest.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [rest[i], rest[j]] = [rest[j], rest[i]];
  }
  return [...picked, ...rest.slice(0, SAMPLE - picked.length)];
}

/** For each target, 1 + SCHEDULE.length fresh single-use mandates (the first proves the mandate works beforehand). */
async function mandatesFor(stack, bodies) {
  const jobs = bodies.flatMap((body, t) => Array.from({ length: 1 + SCHEDULE.length }, () => ({ t, body })));
  const tokens = await inParallel(jobs, 16, (j) => mint(stack, j.body));
  const out = bodies.map(() => []);
  jobs.forEach((j, i) => out[j.t].push(tokens[i]));
  return out;
}

async function gatewayGet(pool, token) {
  const t0 = performance.now();
  try {
    const res = await pool.request({ method: 'GET', path: '/bench/items', headers: { authorization: `Bearer ${token}` } });
    const text = await res.body.text();
    return { status: res.statusCode, text, ms: performance.now() - t0, sent: t0, at: performance.now() };
  } catch (err) {
    return { status: `error:${err.code ?? err.message}`, text: '', ms: performance.now() - t0, sent: t0, at: performance.now() };
  }
}

const descriptionOf = (r) => {
  try {
    return JSON.parse(r.text).error_description ?? '?';
  } catch {
    return '?';
  }
};

/**
 * Proves every target's first mandate is allowed, revokes, then polls: at each offset of SCHEDULE every target not
 * yet denied sends its next mandate (all at once over POLL_CONNECTIONS connections). A target's figure is the time
 * from the revoke call returning until its first denial arrived.
 */
async function revocationTrial(stack, label, mandates, revoke) {
  const pool = new Pool(stack.url.gateway, { connections: POLL_CONNECTIONS, keepAliveTimeout: 60_000 });
  try {
    const before = await Promise.all(mandates.map((m) => gatewayGet(pool, m[0])));
    const refused = before.filter((r) => r.status !== 200);
    if (refused.length > 0) throw new Misbehaviour(`${label}: ${refused.length} fresh mandate(s) refused before the revoke: ${refused[0].status} ${refused[0].text.slice(0, 200)}`);
    const quiet = QUIET ? await waitForQuiet() : undefined;
    const r0 = performance.now();
    const revoked = await revoke();
    const t0 = performance.now();
    const deniedAt = new Array(mandates.length);
    const deniedSent = new Array(mandates.length);
    const through = new Array(mandates.length).fill(0);
    const reasons = {};
    const others = {};
    const pending = new Set(mandates.keys());
    let lastPollMs = 0;
    for (let k = 0; k < SCHEDULE.length && pending.size > 0; k++) {
      const wait = t0 + SCHEDULE[k] - performance.now();
      if (wait > 0) await sleep(wait);
      lastPollMs = performance.now() - t0;
      await Promise.all(
        [...pending].map(async (i) => {
          const r = await gatewayGet(pool, mandates[i][1 + k]);
          if (r.status === 200) through[i]++;
          else if (r.status === 401 || r.status === 403) {
            deniedAt[i] = r.at - t0;
            deniedSent[i] = r.sent - t0;
            pending.delete(i);
            const d = descriptionOf(r);
            reasons[d] = (reasons[d] ?? 0) + 1;
          } else others[r.status] = (others[r.status] ?? 0) + 1;
        }),
      );
    }
    const denied = deniedAt.filter((x) => x !== undefined);
    const letThrough = {};
    for (let i = 0; i < through.length; i++) if (deniedAt[i] !== undefined) letThrough[through[i]] = (letThrough[through[i]] ?? 0) + 1;
    return {
      targets: mandates.length,
      revoke_api_call_ms: +(t0 - r0).toFixed(2),
      revoked,
      quiet,
      revoke_to_deny_ms: summarize(denied),
      denied_ms: denied.map((x) => +x.toFixed(2)),
      denied_poll_sent_ms: deniedSent.filter((x) => x !== undefined).map((x) => +x.toFixed(2)),
      // when the denied poll left the client: with 50 connections and every target polled at once, the figure above
      // includes the queue of the polls themselves; a denial on the first poll was in place by its send time
      revoke_to_denied_poll_sent_ms: summarize(deniedSent.filter((x) => x !== undefined)),
      denied: denied.length,
      never_denied_within_window: pending.size,
      window_s: WINDOW_MS / 1000,
      last_poll_started_ms: +lastPollMs.toFixed(1),
      denied_on_first_poll: through.filter((n, i) => n === 0 && deniedAt[i] !== undefined).length,
      calls_allowed_after_revoke_returned: { total: through.reduce((a, b) => a + b, 0), per_denied_target: letThrough },
      deny_descriptions: reasons,
      other_answers: others,
      allowed_call_before_revoke_ms: summarize(before.map((r) => r.ms)),
    };
  } finally {
    await pool.close();
  }
}

/** Whether the STS still mints for each target (it must not once its edge is revoked). */
async function exchangesAfter(stack, bodies) {
  const answers = await inParallel(bodies, 16, async (body) => {
    const res = await fetch(`${stack.url.sts}/oauth/2/token`, { method: 'POST', headers: exchangeHeaders, body });
    return { status: res.status, body: await res.json() };
  });
  const refused = {};
  for (const a of answers) if (a.status !== 200) refused[`${a.status} ${a.body.error_description ?? a.body.error}`] = (refused[`${a.status} ${a.body.error_description ?? a.body.error}`] ?? 0) + 1;
  return { minted: answers.filter((a) => a.status === 200).length, refused };
}

async function cascadeRun(stack, { treeApps, edgeApps, sessionApp, slug }, expiresAt, trial) {
  const t = performance.now();
  const { root, descendants } = await buildTree(stack, treeApps, expiresAt);
  const buildS = +((performance.now() - t) / 1000).toFixed(1);
  const sample = sampleOf(descendants, 12 + trial);
  const cascadeBodies = sample.map((d) => delegatedBody(d.app, d.session, d.edge.id));

  // Baseline 1: one edge with no descendants, its target's mandates polled the same way.
  const [src, dst] = [{ app: edgeApps[0] }, { app: edgeApps[1] }];
  src.session = await startAgent(stack, src.app);
  dst.session = await startAgent(stack, dst.app);
  const lone = await delegate(stack, src, dst, { expiresAt });
  const loneBody = delegatedBody(dst.app, dst.session, lone.id);
  const loneMandates = await mandatesFor(stack, sample.map(() => loneBody));
  const loneEdge = await revocationTrial(stack, 'single edge', loneMandates, async () => (await coordinator(stack, src.app, 'POST', `/v1/delegations/${lone.id}/revoke`, {})).revoked);

  // Baseline 2: one authority session revoked through the admin API.
  const sessionMandates = await mandatesFor(stack, sample.map(() => exchangeBody(sessionApp.session)));
  const { sid } = claimsOf(sessionApp.session);
  const session = await revocationTrial(stack, 'single session', sessionMandates, async () => {
    await admin(stack, 'POST', `/v1/zones/${slug}/sessions/${sid}/revoke`, {});
    return 1;
  });

  const cascadeMandates = await mandatesFor(stack, cascadeBodies);
  const cascade = await revocationTrial(stack, 'cascade', cascadeMandates, async () => {
    const r = await coordinator(stack, root.app, 'POST', `/v1/delegations/${root.edge.id}/revoke`, {});
    if (r.revoked !== descendants.length + 1) throw new Misbehaviour(`the root revoke cut ${r.revoked} edges, expected ${descendants.length + 1}`);
    return r.revoked;
  });
  const hops = {};
  for (const d of sample) hops[d.hop] = (hops[d.hop] ?? 0) + 1;
  return {
    tree: { descendants: descendants.length, max_hop: Math.max(...descendants.map((d) => d.hop)), fanout: FANOUT, applications: treeApps.length, build_s: buildS },
    sample: { size: sample.length, by_hop: hops },
    cascade,
    cascade_exchanges_after_revoke: await exchangesAfter(stack, cascadeBodies),
    baseline_single_edge: loneEdge,
    single_edge_exchange_after_revoke: await exchangesAfter(stack, [loneBody]),
    baseline_single_session: session,
  };
}

/** The trials of one kind pooled: every polled target's figure in one distribution, counts summed. */
function pooled(results) {
  const sum = (f) => results.reduce((a, r) => a + f(r), 0);
  const merge = (k) => results.reduce((m, r) => {
    for (const [x, n] of Object.entries(r[k])) m[x] = (m[x] ?? 0) + n;
    return m;
  }, {});
  return {
    trials: results.length,
    targets: sum((r) => r.targets),
    denied: sum((r) => r.denied),
    never_denied_within_window: sum((r) => r.never_denied_within_window),
    window_s: WINDOW_MS / 1000,
    revoke_to_deny_ms: summarize(results.flatMap((r) => r.denied_ms)),
    revoke_to_denied_poll_sent_ms: summarize(results.flatMap((r) => r.denied_poll_sent_ms)),
    // per trial, from the revoke returning until the last of its targets was denied (null: one never was)
    every_target_denied_ms: results.map((r) => (r.never_denied_within_window === 0 ? Math.max(...r.denied_ms) : null)),
    denied_on_first_poll: sum((r) => r.denied_on_first_poll),
    calls_allowed_after_revoke_returned: { total: sum((r) => r.calls_allowed_after_revoke_returned.total) },
    deny_descriptions: merge('deny_descriptions'),
    other_answers: merge('other_answers'),
    revoke_api_call_ms: summarize(results.map((r) => r.revoke_api_call_ms)),
    per_trial: results,
  };
}

/** TRIALS cascades, each on its own tree and applications (sessions bootstrapped when the trial starts). */
async function cascadeTrials(stack, apps, treeAppCount, slug, expiresAt) {
  const runs = [];
  for (let k = 0; k < TRIALS; k++) {
    const mine = await withSessions(stack, apps.slice(k * (treeAppCount + 3), (k + 1) * (treeAppCount + 3)));
    runs.push(await cascadeRun(stack, { treeApps: mine.slice(0, treeAppCount), edgeApps: mine.slice(treeAppCount, treeAppCount + 2), sessionApp: mine[treeAppCount + 2], slug }, expiresAt, k));
  }
  const byHop = {};
  for (const r of runs) for (const [h, n] of Object.entries(r.sample.by_hop)) byHop[h] = (byHop[h] ?? 0) + n;
  const refused = {};
  for (const r of runs) for (const [x, n] of Object.entries(r.cascade_exchanges_after_revoke.refused)) refused[x] = (refused[x] ?? 0) + n;
  return {
    tree: { ...runs[0].tree, build_s: runs.map((r) => r.tree.build_s) },
    sample: { per_trial: SAMPLE, size: runs.reduce((a, r) => a + r.sample.size, 0), by_hop: byHop },
    cascade: pooled(runs.map((r) => r.cascade)),
    cascade_exchanges_after_revoke: { minted: runs.reduce((a, r) => a + r.cascade_exchanges_after_revoke.minted, 0), refused },
    baseline_single_edge: pooled(runs.map((r) => r.baseline_single_edge)),
    single_edge_exchange_after_revoke: { minted: runs.reduce((a, r) => a + r.single_edge_exchange_after_revoke.minted, 0), of: runs.length },
    baseline_single_session: pooled(runs.map((r) => r.baseline_single_session)),
  };
}

/** Delegated over direct: throughput and latencies. */
function ratios(mints) {
  const [d, x] = [mints.delegated.concurrent, mints.direct.concurrent];
  return { throughput: r2(d.rps / x.rps), p50: r2(d.p50_ms / x.p50_ms), p99: r2(d.p99_ms / x.p99_ms), single_client_p50: r2(mints.delegated.single.p50_ms / mints.direct.single.p50_ms) };
}

/** Any non-200 token answer of a measure is a Misbehaviour. */
function refuseMintErrors(mints) {
  const bad = [mints.direct.concurrent, mints.direct.single, mints.delegated.concurrent, mints.delegated.single].filter((r) => r.errors + r.warmup_errors + r.discarded_runs_errors > 0);
  if (bad.length > 0) throw new Misbehaviour(`non-200 token answers: ${bad.map((r) => `${JSON.stringify(r.statuses)} ${r.failures.join(' | ')}`).join('; ')}`);
}

/** CPU per operation (ms) of each meter of a measure: its cores over its rate. */
const cpuPerOp = (r) => Object.fromEntries(Object.entries(r.cpu_cores ?? {}).map(([k, cores]) => [k, r2((cores / r.rps) * 1000)]));

/** --mint-only: (a) alone, with the CPU each mint cost. */
function reportMints(mints, loadBefore) {
  const d = mints.delegated.concurrent;
  const x = mints.direct.concurrent;
  const result = {
    when: new Date().toISOString(),
    source: source(),
    machine: { ...machine(), loadavg_before: loadBefore },
    config: { clients: CLIENTS, duration_s: DURATION_S, warmup_s: WARMUP_S, single_client_s: SINGLE_S, depth: DEPTH, waited_for_quiet: QUIET },
    delegated_mint_depth_5: mints.delegated,
    direct_exchange: mints.direct,
    ratio_delegated_over_direct: ratios(mints),
    cpu_ms_per_mint: { delegated: d.rounds.map(cpuPerOp), direct: x.rounds.map(cpuPerOp) },
    targets: { delegated_throughput_at_least_0_8_direct: d.rps >= TARGETS.ratio * x.rps },
  };
  console.log(JSON.stringify(result, null, 2));
  console.log(`delegated ${d.rps} /s (${d.rounds.map((r) => r.rps).join(', ')}), direct ${x.rps} /s (${x.rounds.map((r) => r.rps).join(', ')}): ${result.ratio_delegated_over_direct.throughput}×, ≥ ${TARGETS.ratio}×: ${ok(result.targets.delegated_throughput_at_least_0_8_direct)}`);
  writeOut('delegation-mint', result);
  refuseMintErrors(mints);
}

// ---- the run
const pick = (r) => ({ rps: r.rps, p50_ms: r.p50_ms, p99_ms: r.p99_ms });
const r2 = (x) => +x.toFixed(2);
const fig = (r) => `p50 ${r.revoke_to_deny_ms.p50_ms} / p99 ${r.revoke_to_deny_ms.p99_ms} / max ${r.revoke_to_deny_ms.max_ms} ms`;

await runBench(async () => {
  const loadBefore = loadavg().map((x) => +x.toFixed(2));
  const upstream = await startUpstream();
  const stack = await startStack('delegation');
  const treeAppCount = Math.max(2, Math.ceil(SUBTREE / PER_APP));
  const { slug, apps } = await provision(stack, { apps: CLIENTS + TRIALS * (treeAppCount + 3), upstreamUrl: upstream.url });
  const clients = await withSessions(stack, apps.slice(0, CLIENTS));
  // Every edge expires at the same instant, well inside every session's lifetime (equal to a parent's is allowed).
  const expiresAt = new Date(Date.now() + (SESSION_TTL_S / 2) * 1000).toISOString();

  const mints = await mintRun(stack, clients, expiresAt);
  if (MINT_ONLY) return reportMints(mints, loadBefore);
  const revocation = await cascadeTrials(stack, apps.slice(CLIENTS), treeAppCount, slug, expiresAt);

  const d = mints.delegated.concurrent;
  const x = mints.direct.concurrent;
  const c = revocation.cascade;
  const result = {
    when: new Date().toISOString(),
    source: source(),
    machine: { ...machine(), loadavg_before: loadBefore },
    config: {
      clients: CLIENTS, duration_s: DURATION_S, warmup_s: WARMUP_S, single_client_s: SINGLE_S, depth: DEPTH,
      subtree: SUBTREE, trials: TRIALS, sample_per_trial: SAMPLE, window_s: WINDOW_MS / 1000, poll_schedule_ms: SCHEDULE, poll_connections: POLL_CONNECTIONS, waited_for_quiet: QUIET,
    },
    delegated_mint_depth_5: mints.delegated,
    direct_exchange: mints.direct,
    ratio_delegated_over_direct: ratios(mints),
    cascade_revocation: revocation,
    targets: {
      delegated_throughput_at_least_0_8_direct: d.rps >= TARGETS.ratio * x.rps,
      cascade_p99_at_most_100ms: c.never_denied_within_window === 0 && c.revoke_to_deny_ms.p99_ms <= TARGETS.p99Ms,
      every_descendant_denied: c.never_denied_within_window === 0,
    },
    summary: { delegated: pick(d), direct: pick(x), delegated_single: pick(mints.delegated.single), direct_single: pick(mints.direct.single) },
  };
  console.log(JSON.stringify(result, null, 2));
  console.log('');
  const rv = revocation;
  const rows = [
    ['measure', 'result', 'target', 'baseline (same run)', 'ratio'],
    [`delegated mints/s, depth ${DEPTH}, ${CLIENTS} clients (mean of 2 rounds: ${d.rounds.map((r) => r.rps).join(', ')})`, `${d.rps} /s`, `≥ ${TARGETS.ratio}× direct: ${ok(result.targets.delegated_throughput_at_least_0_8_direct)}`, `direct exchange ${x.rps} /s (${x.rounds.map((r) => r.rps).join(', ')})`, `${result.ratio_delegated_over_direct.throughput}×`],
    ['  latency p50 / p99', `${d.p50_ms} / ${d.p99_ms} ms`, '—', `${x.p50_ms} / ${x.p99_ms} ms`, `${result.ratio_delegated_over_direct.p50}× / ${result.ratio_delegated_over_direct.p99}×`],
    ['  one client p50 / p99', `${mints.delegated.single.p50_ms} / ${mints.delegated.single.p99_ms} ms`, '—', `${mints.direct.single.p50_ms} / ${mints.direct.single.p99_ms} ms`, `${result.ratio_delegated_over_direct.single_client_p50}×`],
    [`cascade: revoke → gateway denies, ${c.targets} descendants (${SAMPLE} of ${rv.tree.descendants} in each of ${TRIALS} trials)`, c.denied > 0 ? fig(c) : 'none denied', `p99 ≤ ${TARGETS.p99Ms} ms: ${ok(result.targets.cascade_p99_at_most_100ms)}`, `one edge: ${rv.baseline_single_edge.denied > 0 ? fig(rv.baseline_single_edge) : 'none denied'}`, '—'],
    ['  never denied within the window', `${c.never_denied_within_window} of ${c.targets} (${c.window_s} s)`, '0', `one edge ${rv.baseline_single_edge.never_denied_within_window}, one session ${rv.baseline_single_session.never_denied_within_window}`, '—'],
    ['  calls allowed after the revoke returned', `${c.calls_allowed_after_revoke_returned.total}`, '—', `one edge ${rv.baseline_single_edge.calls_allowed_after_revoke_returned.total}, one session ${rv.baseline_single_session.calls_allowed_after_revoke_returned.total}`, '—'],
    ['  session revoke (admin API), same polling', fig(rv.baseline_single_session), '—', '—', '—'],
    ['  every sampled descendant of a trial denied, worst trial', `${Math.max(...c.every_target_denied_ms.map((x) => x ?? Infinity))} ms`, '—', `one edge ${Math.max(...rv.baseline_single_edge.every_target_denied_ms.map((x) => x ?? Infinity))} ms`, '—'],
    ['  new exchanges by revoked descendants', `${rv.cascade_exchanges_after_revoke.minted} minted of ${c.targets}`, '0', `one edge: ${rv.single_edge_exchange_after_revoke.minted} of ${TRIALS}`, '—'],
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((cell, i) => cell.padEnd(widths[i])).join('  '));
  console.log(`  tree: ${rv.tree.descendants} descendants to hop ${rv.tree.max_hop}, built in ${rv.tree.build_s} s; sample by hop ${JSON.stringify(rv.sample.by_hop)}; cascade denied by ${JSON.stringify(c.deny_descriptions)}`);
  const sent = (r) => (r.denied > 0 ? `p50 ${r.revoke_to_denied_poll_sent_ms.p50_ms} / p99 ${r.revoke_to_denied_poll_sent_ms.p99_ms} ms` : 'none denied');
  console.log(`  the denied polls left the client (a trial's targets polled at once): cascade ${sent(c)}, one edge ${sent(rv.baseline_single_edge)}, one session ${sent(rv.baseline_single_session)}`);
  writeOut('delegation', result);

  refuseMintErrors(mints);
  const never = [['cascade', c], ['single edge', rv.baseline_single_edge], ['single session', rv.baseline_single_session]].filter(([, r]) => r.never_denied_within_window > 0);
  if (never.length > 0) throw new Misbehaviour(`still allowed ${WINDOW_MS / 1000} s after the revoke returned: ${never.map(([n, r]) => `${n} ${r.never_denied_within_window} of ${r.targets}`).join(', ')}`);
  if (rv.cascade_exchanges_after_revoke.minted > 0) throw new Misbehaviour(`${rv.cascade_exchanges_after_revoke.minted} revoked descendant(s) could still exchange`);
});
