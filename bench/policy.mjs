// bench/policy: zone policy sets (R-POL-3), each figure against its baseline in the same run.
// (a) In-process evaluation of a realistic set (bench/policy/realistic.rego + data.json, 20 rules, compiled at run
//     time by `caracal policy build` with the checkout's opa; never committed as a bundle) through packages/policy —
//     policyInput + evaluateSet + combineVerdicts, what the STS runs per mint once the contract allowed — against the
//     built-in contract alone (evaluateContract) on the same decision inputs. Each evaluation is timed on its own
//     (process.hrtime.bigint), in alternating blocks after an untimed warm-up; the raw module call, the timer's own
//     cost, and a pure computation of the set's median length (the machine's floor for an operation that long,
//     with the stalls this VM inflicts, counted beside it) are reported next to them.
// (b) The STS token exchange of a `caracal up` stack at N closed-loop clients with the set uploaded and active in the
//     zone, against no active set, in alternating order over rounds; a probe application the set denies shows the set
//     is in force (or not) before each measurement.
// Usage: pnpm bench:policy [--evaluations N] [--eval-warmup N] [--connections N] [--duration S] [--warmup S]
//                          [--rounds N] [--no-wait] [--eval-only]
// --no-wait skips waiting for a quiet machine and reruns of disturbed phases (a quick check of the harness only).
// --eval-only runs (a) alone and prints its figures (no stack, nothing written to bench/out).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { combineVerdicts, evaluateContract, evaluateSet, loadSetModule, openSetBundle, policyInput, DEFAULT_POLICY_MEMORY } from '../packages/policy/dist/index.js';
import { arg, closedLoop, leastDisturbed, selfCpu, waitForQuiet } from './lib/load.mjs';
import {
  admin, bootstrap, claimsOf, exchangeBody, exchangeHeaders, machine, Misbehaviour, provision, REPO, RESOURCE, runBench, SCOPE, sleep, source, stackCpu, startStack, writeOut,
} from './lib/stack.mjs';

const EVALUATIONS = arg('--evaluations', 50_000); // timed evaluations of each kind
const EVAL_WARMUP = arg('--eval-warmup', 5_000); // untimed evaluations of each kind first
const BLOCK = 1_000; // evaluations of one kind in a row before the other kind's turn
const CONNECTIONS = arg('--connections', 50);
const DURATION_S = arg('--duration', 15);
const WARMUP_S = arg('--warmup', 5);
const ROUNDS = arg('--rounds', 2);
const QUIET = !process.argv.includes('--no-wait');
const EVAL_ONLY = process.argv.includes('--eval-only');
const APPS = Math.max(CONNECTIONS, 50); // spreads the exchanges over applications, each well under MINTS_PER_MIN
const TARGETS = { p99Us: 50, ratio: 0.9 };
const BUDGET_MS = 25; // the STS's POLICY_EVAL_BUDGET_MS default
const POLICY_DIR = join(REPO, 'bench/policy');
const ENTRYPOINT = 'caracal/allow';
const SET = 'realistic';
// What the stack's benchmark applications carry: every rule of the set is evaluated and none objects.
const LABELS = ['team:platform', 'region:eu', 'tier:trusted', 'agents:allowed'];
const PROBE_LABELS = [...LABELS, 'quarantined'];

const ok = (b) => (b ? 'met' : 'MISSED');
const stallsText = (m) => `machine stalls ${m.per_second} /s, median ${m.median_us} µs`;
const us = (r) => `${r.p50_us} / ${r.p99_us} µs`;
const r2 = (x) => Math.round(x * 100) / 100;

/** `caracal policy build bench/policy` into a temp file: the bundle's bytes and SHA-256. */
function buildBundle() {
  const dir = mkdtempSync(join(tmpdir(), 'caracal-bench-policy-'));
  try {
    const out = join(dir, 'bundle.tar.gz');
    const report = JSON.parse(
      execFileSync(process.execPath, [join(REPO, 'apps/runtime/bin/caracal.js'), 'policy', 'build', POLICY_DIR, '--entrypoint', ENTRYPOINT, '--out', out, '--json'], {
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    return { bytes: readFileSync(out), sha256: report.sha256, opa: report.opa };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- (a) in-process evaluation
const at = (iso) => new Date(iso);
const WEDNESDAY_NOON = at('2026-12-02T12:00:00Z');
const SUNDAY_NIGHT = at('2026-12-06T03:00:00Z');

/** A mint decision input of the STS's shape (services/sts/src/authority/decision-input.ts). */
function mintInput(i, { labels = LABELS, identifier = RESOURCE, granted = [SCOPE, 'items:write'], requested = [SCOPE], agent = false, hops = 0 } = {}) {
  const sid = `5b0c6a52-0000-4000-8000-${String(i).padStart(12, '0')}`;
  const path = Array.from({ length: hops }, (_, k) => `e-${i}-${k}`);
  return {
    labels,
    input: {
      schema_version: 1,
      principal: { type: agent ? 'agent_session' : 'application', id: `app-${i}`, zone_id: 'zone-bench', agent_session_id: agent ? `agent-${i}` : null, labels: [] },
      resource: { id: `res-${i}`, identifier, scopes: granted },
      action: { id: 'mint' },
      session: { id: sid, expires_at: '2026-12-02T13:00:00.000Z' },
      delegation_edge: hops > 0 ? { id: path[hops - 1], source_session_id: `agent-src-${i}`, target_session_id: `agent-${i}`, scopes: requested, path, expires_at: '2026-12-02T12:30:00.000Z' } : null,
      context: { requested_scopes: requested, request_id: `req-${i}`, subject_scopes: requested },
    },
  };
}

/** Inputs the contract allows, of the kinds a zone sees; `allow` is what the set must answer on each. */
const CASES = [
  { name: 'read, labelled application', now: WEDNESDAY_NOON, allow: true, ...mintInput(1) },
  { name: 'write in business hours', now: WEDNESDAY_NOON, allow: true, ...mintInput(2, { requested: [SCOPE, 'items:write'] }) },
  { name: 'write on a Sunday night', now: SUNDAY_NIGHT, allow: false, ...mintInput(3, { requested: ['items:write'] }) },
  { name: 'agent over a 3-hop delegation', now: WEDNESDAY_NOON, allow: true, ...mintInput(4, { agent: true, hops: 3 }) },
  { name: 'agent over a 6-hop delegation', now: WEDNESDAY_NOON, allow: false, ...mintInput(5, { agent: true, hops: 6 }) },
  { name: 'contractor writing', now: WEDNESDAY_NOON, allow: false, ...mintInput(6, { labels: [...LABELS, 'contractor'], requested: ['items:write'] }) },
  { name: 'another team', now: WEDNESDAY_NOON, allow: false, ...mintInput(7, { labels: ['team:support', 'region:eu'] }) },
  { name: 'no labels', now: WEDNESDAY_NOON, allow: false, ...mintInput(8, { labels: [] }) },
  { name: 'payments without pci, production', now: WEDNESDAY_NOON, allow: false, ...mintInput(9, { labels: ['team:billing', 'region:us'], identifier: 'resource://payments-prod', granted: ['payments:transfer'], requested: ['payments:transfer'] }) },
  { name: 'quarantined', now: WEDNESDAY_NOON, allow: false, ...mintInput(10, { labels: PROBE_LABELS }) },
];

/** Per-evaluation latencies (µs): p50, p90, p99, p99.9, max and mean. */
function micros(samples) {
  const s = Float64Array.from(samples).sort();
  const pct = (p) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
  const r3 = (x) => Math.round(x * 1000) / 1000;
  return { evaluations: s.length, p50_us: r3(pct(50)), p90_us: r3(pct(90)), p99_us: r3(pct(99)), p999_us: r3(pct(99.9)), max_us: r3(s[s.length - 1]), mean_us: r3(s.reduce((a, b) => a + b, 0) / s.length) };
}

/** Runs `kinds` (name → fn(case, its index)) in alternating blocks of BLOCK over the cases, each evaluation timed alone. */
function timeKinds(kinds, count, record) {
  const samples = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  for (let done = 0; done < count; done += BLOCK) {
    for (const [name, fn] of Object.entries(kinds)) {
      const out = samples[name];
      for (let j = 0; j < Math.min(BLOCK, count - done); j++) {
        const k = (done + j) % CASES.length;
        const c = CASES[k];
        const t0 = process.hrtime.bigint();
        fn(c, k);
        const t1 = process.hrtime.bigint();
        if (record) out.push(Number(t1 - t0) / 1000);
      }
    }
  }
  return samples;
}

// The machine's own stalls: a loop reading the clock, every gap over 5 µs counted. This machine (a VM) takes the
// core away for ~20 µs several hundred times a second, whatever runs; an evaluation that overlaps one is that much
// slower, so an operation of length L is hit with a probability of about L × the stall rate.
function machineStalls(ms = 1000) {
  const gaps = [];
  const end = performance.now() + ms;
  let last = performance.now();
  for (let t = last; t < end; last = t) {
    t = performance.now();
    if (t - last > 0.005) gaps.push((t - last) * 1000);
  }
  const s = Float64Array.from(gaps).sort();
  const r1 = (x) => Math.round(x * 10) / 10;
  return { per_second: Math.round(gaps.length / (ms / 1000)), median_us: r1(s[s.length >> 1] ?? 0), p90_us: r1(s[Math.floor(s.length * 0.9)] ?? 0), share_of_time: r2(s.reduce((a, b) => a + b, 0) / 1000 / ms) };
}

// A pure computation (no allocation, no call out) sized to the set's median, timed the same way in the same blocks:
// the floor any operation of that length has on this machine, stalls included.
const FLOOR_DATA = new Float64Array(257).fill(1.0001);
function pureWork(iterations) {
  let acc = 0;
  for (let i = 0; i < iterations; i++) acc += FLOOR_DATA[i & 255] * i;
  FLOOR_DATA[256] = acc; // kept, so the loop is not optimised away
}

/** Iterations of pureWork that take `us` µs at the median here, timed as everything else is (timeKinds). */
function calibrateFloor(us) {
  const median = (n) => micros(timeKinds({ floor: () => pureWork(n) }, 2_000, true).floor).p50_us;
  let n = 1_000;
  for (let round = 0; round < 4; round++) n = Math.max(1, Math.round((n * us) / median(n)));
  return n;
}

async function inProcessRun(bundle) {
  const opened = openSetBundle(bundle.sha256, bundle.bytes);
  if (opened.broken) throw new Misbehaviour(`the built bundle cannot be opened: ${opened.broken}`);
  const module = await loadSetModule(opened, DEFAULT_POLICY_MEMORY);
  const name = `${SET}@v1`;
  const setDecision = (c) => combineVerdicts([evaluateSet(name, module, ENTRYPOINT, policyInput(c.input, c.labels, c.now), BUDGET_MS).verdict]);
  // Every case: the contract allows it, and the set answers what the case says, complete.
  for (const c of CASES) {
    const contract = evaluateContract(c.input);
    const d = setDecision(c);
    if (contract.decision !== 'allow') throw new Misbehaviour(`the contract denies case "${c.name}": ${contract.reason}`);
    if (d.allow !== c.allow || d.reason === 'policy_error') throw new Misbehaviour(`the set answers ${JSON.stringify(d)} on case "${c.name}", expected allow=${c.allow}`);
  }
  const facts = CASES.map((c) => policyInput(c.input, c.labels, c.now));
  const kinds = {
    contract: (c) => evaluateContract(c.input),
    set: setDecision,
    // the module's evaluation alone (packages/policy's call into the opa-wasm module), on inputs prepared beforehand
    set_module_only: (_, k) => module.evaluate(facts[k], ENTRYPOINT),
    timer_only: () => undefined,
  };
  const quiet = QUIET ? await waitForQuiet() : undefined;
  timeKinds(kinds, EVAL_WARMUP, false);
  const floorIterations = calibrateFloor(micros(timeKinds({ set: setDecision }, 5_000, true).set).p50_us);
  kinds.same_length_pure_work = () => pureWork(floorIterations);
  timeKinds(kinds, BLOCK, false);
  const stalls = machineStalls();
  const cpu0 = selfCpu();
  const t0 = performance.now();
  const samples = timeKinds(kinds, EVALUATIONS, true);
  const seconds = (performance.now() - t0) / 1000;
  const result = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, micros(v)]));
  return {
    rules: 20,
    cases: CASES.map((c) => ({ name: c.name, set_allows: c.allow })),
    quiet,
    seconds: r2(seconds),
    cpu_cores: r2((selfCpu() - cpu0) / seconds),
    contract_alone: result.contract,
    set: result.set,
    set_module_only: result.set_module_only,
    timer_only: result.timer_only,
    same_length_pure_work: { iterations: floorIterations, ...result.same_length_pure_work },
    machine_stalls: stalls,
  };
}

// ---- (b) the STS exchange with one active set against none
async function exchangeStatus(stack, body) {
  const res = await fetch(`${stack.url.sts}/oauth/2/token`, { method: 'POST', headers: exchangeHeaders, body });
  return { status: res.status, body: await res.json() };
}

/** Polls the probe application's exchange until the STS answers `status` (the set in force, or not), up to 30 s. */
async function untilProbe(stack, probeBody, status) {
  const t0 = performance.now();
  for (;;) {
    const r = await exchangeStatus(stack, probeBody);
    if (r.status === status) return { ms: r2(performance.now() - t0), answer: r.status === 200 ? 'minted' : r.body.error_description ?? r.body.error };
    if (r.status !== 200 && r.status !== 403) throw new Misbehaviour(`the probe exchange answered ${r.status}: ${JSON.stringify(r.body)}`);
    if (performance.now() - t0 > 30_000) throw new Misbehaviour(`the probe exchange still answers ${r.status} 30 s after the change, expected ${status}`);
    await sleep(50);
  }
}

async function stsRun(bundle) {
  const stack = await startStack('policy');
  // No request reaches the upstream here; the resource only has to exist.
  const { slug, apps } = await provision(stack, { apps: APPS + 1, upstreamUrl: 'http://127.0.0.1:9', labels: (i) => (i === APPS ? PROBE_LABELS : LABELS) });
  const sessions = await Promise.all(apps.map((a) => bootstrap(stack, a)));
  const bodies = sessions.slice(0, APPS).map(exchangeBody);
  const probeBody = exchangeBody(sessions[APPS]);
  await admin(stack, 'POST', `/v1/zones/${slug}/policy-sets`, { name: SET });
  const version = await admin(stack, 'POST', `/v1/zones/${slug}/policy-sets/${SET}/versions`, {
    rego_source: readFileSync(join(POLICY_DIR, 'realistic.rego'), 'utf8'),
    bundle: bundle.bytes.toString('base64'),
    bundle_sha256: bundle.sha256,
    entrypoint: ENTRYPOINT,
  });
  if (version.self_test?.status !== 'passed') throw new Misbehaviour(`the uploaded version failed its self-test: ${JSON.stringify(version.self_test)}`);
  const toggles = [];
  const setActive = async (active) => {
    await admin(stack, 'POST', `/v1/zones/${slug}/policy-sets/${SET}/${active ? 'activate' : 'deactivate'}`, active ? { version: version.version } : {});
    toggles.push({ active, probe: await untilProbe(stack, probeBody, active ? 403 : 200) });
    const r = await exchangeStatus(stack, bodies[0]);
    if (r.status !== 200) throw new Misbehaviour(`a benchmark application's exchange answered ${r.status} with the set ${active ? 'active' : 'inactive'}: ${JSON.stringify(r.body)}`);
    const claims = claimsOf(r.body.access_token);
    if (claims.aud !== RESOURCE || claims.scope !== SCOPE) throw new Misbehaviour(`unexpected mandate claims ${JSON.stringify(claims)}`);
  };
  const cpuOf = { ...stackCpu(stack, ['sts', 'audit']), load_generator: selfCpu };
  let i = 0;
  const next = () => ({ method: 'POST', path: '/oauth/2/token', headers: exchangeHeaders, body: bodies[i++ % bodies.length] });
  const measure = () =>
    leastDisturbed(() => closedLoop({ origin: stack.url.sts, connections: CONNECTIONS, durationMs: DURATION_S * 1000, warmupMs: WARMUP_S * 1000, next, cpuOf, quiet: QUIET }), { attempts: QUIET ? 3 : 1 });
  const runs = { with_set: [], without_set: [] };
  for (let round = 0; round < ROUNDS; round++) {
    // alternate which state goes first, so neither always runs on the warmer (or more tired) stack
    for (const active of round % 2 === 0 ? [false, true] : [true, false]) {
      await setActive(active);
      runs[active ? 'with_set' : 'without_set'].push({ round: round + 1, ...(await measure()) });
    }
  }
  return { version: version.version, bundle_sha256: bundle.sha256, applications: APPS, toggles, ...runs };
}

// ---- the run
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pick = (r) => ({ round: r.round, rps: r.rps, p50_ms: r.p50_ms, p99_ms: r.p99_ms });

await runBench(async () => {
  const loadBefore = loadavg().map((x) => +x.toFixed(2));
  const bundle = buildBundle();
  const local = await inProcessRun(bundle);
  if (EVAL_ONLY) {
    console.log(JSON.stringify({ when: new Date().toISOString(), source: source(), machine: { ...machine(), loadavg_before: loadBefore }, in_process: local, set_p99_at_most_50us: local.set.p99_us <= TARGETS.p99Us }, null, 2));
    console.log(`set ${us(local.set)}; module call ${us(local.set_module_only)}; pure computation of the same length ${us(local.same_length_pure_work)}; ${stallsText(local.machine_stalls)}`);
    return;
  }
  const sts = await stsRun(bundle);
  const w = mean(sts.with_set.map((r) => r.rps));
  const wo = mean(sts.without_set.map((r) => r.rps));
  const result = {
    when: new Date().toISOString(),
    source: source(),
    machine: { ...machine(), loadavg_before: loadBefore },
    config: {
      evaluations: EVALUATIONS, eval_warmup: EVAL_WARMUP, block: BLOCK, connections: CONNECTIONS, duration_s: DURATION_S, warmup_s: WARMUP_S, rounds: ROUNDS,
      applications: APPS, waited_for_quiet: QUIET, policy: 'bench/policy (realistic.rego + data.json)', bundle_bytes: bundle.bytes.length, opa: bundle.opa,
    },
    in_process: local,
    sts_exchange: sts,
    ratio_set_over_contract: { p50: r2(local.set.p50_us / local.contract_alone.p50_us), p99: r2(local.set.p99_us / local.contract_alone.p99_us) },
    ratio_with_set_over_without: {
      throughput: r2(w / wo),
      p50: r2(mean(sts.with_set.map((r) => r.p50_ms)) / mean(sts.without_set.map((r) => r.p50_ms))),
      p99: r2(mean(sts.with_set.map((r) => r.p99_ms)) / mean(sts.without_set.map((r) => r.p99_ms))),
    },
    targets: { set_p99_at_most_50us: local.set.p99_us <= TARGETS.p99Us, exchange_with_set_at_least_0_9_without: w >= TARGETS.ratio * wo },
    summary: { with_set: sts.with_set.map(pick), without_set: sts.without_set.map(pick) },
  };
  console.log(JSON.stringify(result, null, 2));
  console.log('');
  const ms = (rs) => `${r2(mean(rs.map((r) => r.p50_ms)))} / ${r2(mean(rs.map((r) => r.p99_ms)))} ms`;
  const rows = [
    ['measure', 'result', 'target', 'baseline (same run)', 'ratio'],
    [`set evaluation p50 / p99, ${EVALUATIONS} × ${CASES.length} inputs`, us(local.set), `p99 ≤ ${TARGETS.p99Us} µs: ${ok(result.targets.set_p99_at_most_50us)}`, `contract alone ${us(local.contract_alone)}`, `${result.ratio_set_over_contract.p50}× / ${result.ratio_set_over_contract.p99}×`],
    ['  of which the module call', us(local.set_module_only), '—', `timer alone ${us(local.timer_only)}`, '—'],
    ['  pure computation of the set\'s median length', us(local.same_length_pure_work), '—', stallsText(local.machine_stalls), '—'],
    [`exchanges/s, one active set, ${CONNECTIONS} clients`, `${Math.round(w)} /s`, `≥ ${TARGETS.ratio}× none: ${ok(result.targets.exchange_with_set_at_least_0_9_without)}`, `no set ${Math.round(wo)} /s`, `${result.ratio_with_set_over_without.throughput}×`],
    ['  latency p50 / p99 (mean of rounds)', ms(sts.with_set), '—', ms(sts.without_set), `${result.ratio_with_set_over_without.p50}× / ${result.ratio_with_set_over_without.p99}×`],
  ];
  const widths = rows[0].map((_, k) => Math.max(...rows.map((r) => r[k].length)));
  for (const r of rows) console.log(r.map((cell, k) => cell.padEnd(widths[k])).join('  '));
  console.log(`  rounds (rps): with set ${sts.with_set.map((r) => r.rps).join(', ')}; without ${sts.without_set.map((r) => r.rps).join(', ')}`);
  console.log(`  cores busy (of ${result.machine.cpus}), first round: with set ${JSON.stringify(sts.with_set[0].cpu_cores)}   without ${JSON.stringify(sts.without_set[0].cpu_cores)}`);
  writeOut('policy', result);
  const bad = [...sts.with_set, ...sts.without_set].filter((r) => r.errors + r.warmup_errors + r.discarded_runs_errors > 0);
  if (bad.length > 0) throw new Misbehaviour(`non-200 token answers: ${bad.map((r) => `${JSON.stringify(r.statuses)} ${r.failures.join(' | ')}`).join('; ')}`);
});
