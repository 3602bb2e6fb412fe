// bench/sts: token-exchange throughput and latency of the STS of a `caracal up` stack, against oidc-provider as the peer.
// RFC 8693 exchanges at 50 concurrent clients vs oidc-provider serving client_credentials (ES256 JWT access tokens),
// measured in the same run on the same load generator; also both at one client (latency without queueing).
// Usage: pnpm bench:sts [--duration S] [--warmup S] [--connections N]
import { loadavg } from 'node:os';
import { closedLoop, leastDisturbed, loadShape, selfCpu } from './lib/load.mjs';
import {
  bootstrap, claimsOf, cpuSeconds, exchange, exchangeBody, exchangeHeaders, machine, Misbehaviour, provision, RESOURCE, runBench, SCOPE, source, spawnNode, stackCpu, startStack, writeOut,
} from './lib/stack.mjs';

const { durationS: DURATION_S, warmupS: WARMUP_S, connections: CONNECTIONS } = loadShape();
const SINGLE_S = 3;
const TARGETS = { rps: 1500, p99Ms: 20 };

/** Both runs (N clients, then one) through the same generator; `request(i)` builds the i-th request. */
async function measure(origin, request, cpuOf) {
  let i = 0;
  const next = () => request(i++);
  const concurrent = await leastDisturbed(() => closedLoop({ origin, connections: CONNECTIONS, durationMs: DURATION_S * 1000, warmupMs: WARMUP_S * 1000, next, cpuOf }));
  const single = await leastDisturbed(() => closedLoop({ origin, connections: 1, durationMs: SINGLE_S * 1000, warmupMs: 500, next, cpuOf }));
  return { concurrent, single };
}

async function caracalRun() {
  const stack = await startStack('sts');
  // No request reaches the upstream here; the resource only has to exist.
  const { apps } = await provision(stack, { apps: CONNECTIONS, upstreamUrl: 'http://127.0.0.1:9' });
  // One application per client keeps every (zone, resource, client) under the STS mint limit (MINTS_PER_MIN).
  const sessions = await Promise.all(apps.map((a) => bootstrap(stack, a)));
  const probe = claimsOf(await exchange(stack, sessions[0]));
  if (probe.use !== 'gateway' || probe.aud !== RESOURCE || probe.scope !== SCOPE) throw new Misbehaviour(`unexpected mandate claims ${JSON.stringify(probe)}`);
  const bodies = sessions.map(exchangeBody);
  const result = await measure(stack.url.sts, (i) => ({ method: 'POST', path: '/oauth/2/token', headers: exchangeHeaders, body: bodies[i % bodies.length] }), {
    ...stackCpu(stack, ['sts', 'audit']),
    load_generator: selfCpu,
  });
  await stack.purge(); // nothing of the stack (e.g. audit ingestion catching up) runs during the peer's turn
  return result;
}

async function peerRun() {
  const peer = await spawnNode('bench/lib/oidc-peer.mjs', [], { NODE_ENV: 'production' });
  const auths = Array.from({ length: peer.clients }, (_, i) => `Basic ${Buffer.from(`peer-${i}:${peer.secret}`).toString('base64')}`);
  const body = new URLSearchParams({ grant_type: 'client_credentials', resource: RESOURCE, scope: SCOPE }).toString();
  const request = (i) => ({ method: 'POST', path: peer.token_path, headers: { ...exchangeHeaders, authorization: auths[i % auths.length] }, body });
  const res = await fetch(`http://127.0.0.1:${peer.port}${peer.token_path}`, { method: 'POST', ...request(0) });
  const probe = await res.json();
  if (res.status !== 200 || claimsOf(probe.access_token).aud !== RESOURCE) throw new Error(`the oidc-provider baseline is misconfigured: ${res.status} ${JSON.stringify(probe)}`);
  const result = await measure(`http://127.0.0.1:${peer.port}`, request, { peer: () => cpuSeconds(peer.pid), load_generator: selfCpu });
  await peer.stop();
  return result;
}

const pick = (r) => ({ rps: r.rps, p50_ms: r.p50_ms, p99_ms: r.p99_ms });
const ok = (b) => (b ? 'met' : 'MISSED');

await runBench(async () => {
  const loadBefore = loadavg().map((x) => +x.toFixed(2));
  const caracal = await caracalRun();
  const peer = await peerRun();
  const c = caracal.concurrent;
  const p = peer.concurrent;
  const result = {
    when: new Date().toISOString(),
    source: source(),
    machine: { ...machine(), loadavg_before: loadBefore },
    config: { connections: CONNECTIONS, duration_s: DURATION_S, warmup_s: WARMUP_S, single_client_s: SINGLE_S, applications: CONNECTIONS },
    caracal_token_exchange: caracal,
    peer_oidc_provider_client_credentials: peer,
    ratio_caracal_over_peer: {
      throughput: +(c.rps / p.rps).toFixed(2),
      p50: +(c.p50_ms / p.p50_ms).toFixed(2),
      p99: +(c.p99_ms / p.p99_ms).toFixed(2),
      single_client_p50: +(caracal.single.p50_ms / peer.single.p50_ms).toFixed(2),
    },
    targets: {
      throughput_at_least_peer: c.rps >= p.rps,
      throughput_at_least_1500: c.rps >= TARGETS.rps,
      p99_at_most_20ms: c.p99_ms <= TARGETS.p99Ms,
    },
    summary: { caracal: pick(c), peer: pick(p), caracal_single: pick(caracal.single), peer_single: pick(peer.single) },
  };
  console.log(JSON.stringify(result, null, 2));
  console.log('');
  console.log(`token exchange, ${CONNECTIONS} clients  ${c.rps} /s   target ≥ ${TARGETS.rps} /s and ≥ peer: ${ok(result.targets.throughput_at_least_1500)}, ${ok(result.targets.throughput_at_least_peer)}   ${result.ratio_caracal_over_peer.throughput}× oidc-provider client_credentials (${p.rps} /s)`);
  console.log(`  latency p50 / p99         ${c.p50_ms} / ${c.p99_ms} ms   target p99 ≤ ${TARGETS.p99Ms} ms: ${ok(result.targets.p99_at_most_20ms)}   peer ${p.p50_ms} / ${p.p99_ms} ms (p99 ${result.ratio_caracal_over_peer.p99}×)`);
  console.log(`  one client p50 / p99      ${caracal.single.p50_ms} / ${caracal.single.p99_ms} ms   peer ${peer.single.p50_ms} / ${peer.single.p99_ms} ms (p50 ${result.ratio_caracal_over_peer.single_client_p50}×)`);
  console.log(`  cores busy (of ${result.machine.cpus})      caracal run ${JSON.stringify(c.cpu_cores)}   peer run ${JSON.stringify(p.cpu_cores)}`);
  console.log(`  disturbance (runs kept)   canary slowdown ${c.canary_slowdown} / ${p.canary_slowdown}, cores outside the benchmark ${c.cpu_cores.unaccounted} / ${p.cpu_cores.unaccounted}, attempts ${c.attempts} / ${p.attempts}`);
  writeOut('sts', result);
  const bad = [caracal.concurrent, caracal.single, peer.concurrent, peer.single].filter((r) => r.errors + r.warmup_errors + r.discarded_runs_errors > 0);
  if (bad.length > 0) throw new Misbehaviour(`non-200 token answers: ${bad.map((r) => `${JSON.stringify(r.statuses)} ${r.failures.join(' | ')}`).join('; ')}`);
});
