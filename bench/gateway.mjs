// bench/gateway: protected requests/s and added latency of the gateway, against the same upstream direct and via nginx.
// The gateway path is a `caracal up` stack (mandate check, jti single use, signed STS re-exchange, credential
// injection) in front of a local upstream; direct, nginx and gateway are measured in the same run by one generator.
// A bare Node.js forwarder (bench/lib/node-forwarder.mjs: no checks at all) and the same forwarder doing the steps
// the gateway may not skip (an ES256 verification, a decision round trip, a Redis round trip) are measured too: the
// floors of what a Node.js gateway costs per request on this machine. They use the machine's Redis
// (CARACAL_BENCH_REDIS_URL, by default redis://127.0.0.1:6379) under a key prefix of their own, removed at the end.
// Usage: pnpm bench:gateway [--duration S] [--warmup S] [--connections N]
import { loadavg } from 'node:os';
import { closedLoop, leastDisturbed, loadShape, selfCpu } from './lib/load.mjs';
import { startNginx } from './lib/nginx.mjs';
import {
  bootstrap, cpuSeconds, machine, mintMany, Misbehaviour, provision, source, runBench, spawnNode, stackCpu, startStack, startUpstream, upstreamStats, writeOut,
} from './lib/stack.mjs';

const { durationS: DURATION_S, warmupS: WARMUP_S, connections: CONNECTIONS } = loadShape();
const SINGLE_S = 3;
const PATH = '/items';
// The speed issue's targets: 3,000 protected requests/s at 50 connections, the gateway's CPU at most 0.2 ms of a core
// per request; and the earlier bound on what the gateway adds to the upstream's median.
const TARGETS = { rps: 3000, gatewayCpuMs: 0.2, addedP50Ms: 3 };

/** N connections (after a warm-up), then one connection, through the same generator. */
async function measure(origin, next, cpuOf) {
  const concurrent = await leastDisturbed(() => closedLoop({ origin, connections: CONNECTIONS, durationMs: DURATION_S * 1000, warmupMs: WARMUP_S * 1000, next, cpuOf }));
  const single = await leastDisturbed(() => closedLoop({ origin, connections: 1, durationMs: SINGLE_S * 1000, warmupMs: 500, next, cpuOf }));
  return { concurrent, single };
}

const plain = () => ({ path: PATH });
const REDIS_URL = process.env.CARACAL_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** One of the Node.js floors in front of the upstream, measured like direct and nginx; its CPU per request. */
async function forwarderRun(upstream, args) {
  const fwd = await spawnNode('bench/lib/node-forwarder.mjs', [upstream.url, ...args]);
  const r = await measure(`http://127.0.0.1:${fwd.port}`, plain, { forwarder: () => cpuSeconds(fwd.pid), upstream: () => cpuSeconds(upstream.pid), load_generator: selfCpu });
  await fwd.stop();
  return { ...r, cpu_ms_per_request: +((r.concurrent.cpu_cores.forwarder * 1000) / r.concurrent.rps).toFixed(3) };
}

/** A supply of single-use gateway mandates, minted before each timed phase (minting is never timed). */
function mandateSupply(stack, sessions) {
  let tokens = [];
  let used = 0;
  return {
    async refill(count) {
      tokens = await mintMany(stack, sessions, count);
      used = 0;
    },
    next: () => (used < tokens.length ? { path: `/bench${PATH}`, headers: { authorization: `Bearer ${tokens[used++]}` } } : null),
    get used() {
      return used;
    },
  };
}

async function gatewayRun(upstream) {
  const stack = await startStack('gateway');
  const { apps } = await provision(stack, { apps: CONNECTIONS, upstreamUrl: upstream.url });
  // One application per connection keeps every (zone, resource, client) under the STS mint limit.
  const sessions = await Promise.all(apps.map((a) => bootstrap(stack, a)));
  const supply = mandateSupply(stack, sessions);
  const cpuOf = { ...stackCpu(stack, ['gateway', 'sts']), upstream: () => cpuSeconds(upstream.pid), load_generator: selfCpu };
  const before = await upstreamStats(upstream);

  // Warm-up on a fixed supply also tells how many mandates the timed phase will need.
  const warmCount = 3000;
  await supply.refill(warmCount);
  const warm = await closedLoop({ origin: stack.url.gateway, connections: CONNECTIONS, durationMs: WARMUP_S * 1000, next: supply.next, cpuOf: {} });
  // (the warm-up runs cold code, so it undercounts the steady rate: mint twice what it suggests)
  const needed = Math.ceil(Math.max(warm.rps, 200) * DURATION_S * 2);
  const concurrent = await leastDisturbed(async () => {
    await supply.refill(needed);
    const r = await closedLoop({ origin: stack.url.gateway, connections: CONNECTIONS, durationMs: DURATION_S * 1000, next: supply.next, cpuOf });
    r.ran_out_of_mandates = supply.used >= needed;
    return r;
  });
  concurrent.warmup_rps = warm.rps;
  concurrent.warmup_errors = warm.errors;
  concurrent.mandates_minted = needed;
  const single = await leastDisturbed(async () => {
    await supply.refill(3000);
    return closedLoop({ origin: stack.url.gateway, connections: 1, durationMs: SINGLE_S * 1000, warmupMs: 500, next: supply.next, cpuOf });
  });

  // Every 200 must have reached the upstream with the credential the gateway injected (and none without).
  const after = await upstreamStats(upstream);
  const upstreamSaw = { requests: after.requests - before.requests, with_credential: after.with_credential - before.with_credential };
  await stack.purge();
  return { concurrent, single, upstreamSaw, warmupOk: warm.statuses[200] ?? 0 };
}

const ok = (b) => (b ? 'met' : 'MISSED');
const pick = (r) => ({ rps: r.rps, p50_ms: r.p50_ms, p99_ms: r.p99_ms });

await runBench(async () => {
  const loadBefore = loadavg().map((x) => +x.toFixed(2));
  const upstream = await startUpstream();
  const nginx = await startNginx(upstream.port);
  const direct = await measure(upstream.url, plain, { upstream: () => cpuSeconds(upstream.pid), load_generator: selfCpu });
  const proxied = await measure(nginx.url, plain, { nginx: () => cpuSeconds(nginx.pid), upstream: () => cpuSeconds(upstream.pid), load_generator: selfCpu });
  await nginx.stop();
  const bare = await forwarderRun(upstream, []);
  const steps = await forwarderRun(upstream, ['--steps', REDIS_URL]);
  const gw = await gatewayRun(upstream);
  const g = gw.concurrent;
  const d = direct.concurrent;
  const n = proxied.concurrent;
  const f = bare.concurrent;
  const fs = steps.concurrent;
  const added = +(g.p50_ms - d.p50_ms).toFixed(2);
  // Cores busy divided by requests per second: milliseconds of CPU per request, by process.
  const cpuMsPerRequest = Object.fromEntries(Object.entries(g.cpu_cores).map(([k, cores]) => [k, +((cores * 1000) / g.rps).toFixed(3)]));
  const addedSingle = +(gw.single.p50_ms - direct.single.p50_ms).toFixed(2);
  const result = {
    when: new Date().toISOString(),
    source: source(),
    machine: { ...machine(), loadavg_before: loadBefore },
    config: { connections: CONNECTIONS, duration_s: DURATION_S, warmup_s: WARMUP_S, single_connection_s: SINGLE_S, path: PATH, nginx: nginx.version, nginx_installed_by_this_run: nginx.installed_now },
    direct: direct,
    nginx: proxied,
    node_forwarder: bare,
    node_forwarder_required_steps: steps,
    gateway: { concurrent: g, single: gw.single, upstream_saw: gw.upstreamSaw },
    added_p50_ms: { gateway_over_direct: added, nginx_over_direct: +(n.p50_ms - d.p50_ms).toFixed(2), gateway_over_direct_one_connection: addedSingle, nginx_over_direct_one_connection: +(proxied.single.p50_ms - direct.single.p50_ms).toFixed(2) },
    ratio: { gateway_rps_over_direct: +(g.rps / d.rps).toFixed(3), gateway_rps_over_nginx: +(g.rps / n.rps).toFixed(3), nginx_rps_over_direct: +(n.rps / d.rps).toFixed(3) },
    cpu_ms_per_request: cpuMsPerRequest,
    targets: { protected_rps_at_least_3000: g.rps >= TARGETS.rps, gateway_cpu_at_most_0_2ms: cpuMsPerRequest.gateway <= TARGETS.gatewayCpuMs, added_p50_at_most_3ms: added <= TARGETS.addedP50Ms },
    summary: { direct: pick(d), nginx: pick(n), node_forwarder: pick(f), node_forwarder_required_steps: pick(fs), gateway: pick(g), direct_single: pick(direct.single), nginx_single: pick(proxied.single), gateway_single: pick(gw.single) },
  };
  console.log(JSON.stringify(result, null, 2));
  console.log('');
  console.log(`protected requests, ${CONNECTIONS} conns  ${g.rps} /s   target ≥ ${TARGETS.rps} /s: ${ok(result.targets.protected_rps_at_least_3000)}   ${result.ratio.gateway_rps_over_direct}× direct (${d.rps} /s), ${result.ratio.gateway_rps_over_nginx}× nginx (${n.rps} /s)`);
  console.log(`  p50 / p99                 gateway ${g.p50_ms} / ${g.p99_ms} ms   direct ${d.p50_ms} / ${d.p99_ms} ms   nginx ${n.p50_ms} / ${n.p99_ms} ms`);
  console.log(`  added p50 over direct     ${added} ms   target ≤ ${TARGETS.addedP50Ms} ms: ${ok(result.targets.added_p50_at_most_3ms)}   (nginx adds ${result.added_p50_ms.nginx_over_direct} ms)`);
  console.log(`  one connection p50        gateway ${gw.single.p50_ms} ms (+${addedSingle} ms)   direct ${direct.single.p50_ms} ms   nginx ${proxied.single.p50_ms} ms (+${result.added_p50_ms.nginx_over_direct_one_connection} ms)`);
  console.log(`  cores busy (of ${result.machine.cpus})        gateway run ${JSON.stringify(g.cpu_cores)}`);
  console.log(`  CPU ms per request        ${JSON.stringify(cpuMsPerRequest)}   gateway target ≤ ${TARGETS.gatewayCpuMs} ms: ${ok(result.targets.gateway_cpu_at_most_0_2ms)}`);
  console.log(`  Node.js floors             bare forwarder ${f.rps} /s, ${bare.cpu_ms_per_request} ms CPU per request; with the required steps ${fs.rps} /s, ${steps.cpu_ms_per_request} ms`);
  console.log(`  disturbance (runs kept)   canary slowdown direct ${d.canary_slowdown}, nginx ${n.canary_slowdown}, gateway ${g.canary_slowdown}; cores outside the benchmark ${d.cpu_cores.unaccounted} / ${n.cpu_cores.unaccounted} / ${g.cpu_cores.unaccounted}; attempts ${d.attempts} / ${n.attempts} / ${g.attempts}`);
  writeOut('gateway', result);

  const runs = { direct: d, direct_single: direct.single, nginx: n, nginx_single: proxied.single, node_forwarder: f, node_forwarder_single: bare.single, node_forwarder_steps: fs, node_forwarder_steps_single: steps.single, gateway: g, gateway_single: gw.single };
  const bad = Object.entries(runs).filter(([, r]) => r.errors + r.warmup_errors + r.discarded_runs_errors > 0);
  if (bad.length > 0) throw new Misbehaviour(`non-200 answers: ${bad.map(([k, r]) => `${k} ${JSON.stringify(r.statuses)} ${r.failures.join(' | ')}`).join('; ')}`);
  const answered = gw.warmupOk + (g.statuses[200] ?? 0) + (gw.single.statuses[200] ?? 0); // + the untimed single warm-up
  const saw = gw.upstreamSaw;
  if (saw.with_credential < answered || saw.requests !== saw.with_credential) throw new Misbehaviour(`the upstream saw ${saw.requests} gateway requests, ${saw.with_credential} with the injected credential, for at least ${answered} gateway 200s`);
});
