// bench/revocation: time from a session revoke call returning to the gateway denying that session's lineage.
// Many trials, each polling with fresh pre-minted mandates. Baselines measured in the same run on the same connection:
// the fastest possible gateway denial (replaying a used mandate, refused at the same stage as a revoked lineage, so
// the difference is propagation) and one allowed gateway call of the same lineage.
// Usage: pnpm bench:revocation [--trials N] [--polls N]
import { loadavg } from 'node:os';
import { Pool } from 'undici';
import { arg, summarize, waitForQuiet } from './lib/load.mjs';
import { admin, bootstrap, claimsOf, machine, mintMany, Misbehaviour, provision, runBench, source, startStack, startUpstream, writeOut } from './lib/stack.mjs';

const TRIALS = arg('--trials', 200);
const POLLS = arg('--polls', 20); // fresh mandates per trial for polling after the revoke
const APPS = 10; // trials rotate over applications, keeping each well under the STS mint limit
const TARGET_P99_MS = 100;

async function get(pool, token) {
  const t0 = performance.now();
  const res = await pool.request({ method: 'GET', path: '/bench/items', headers: { authorization: `Bearer ${token}` } });
  const text = await res.body.text();
  return { status: res.statusCode, text, ms: performance.now() - t0, at: performance.now() };
}

await runBench(async () => {
  const loadBefore = loadavg().map((x) => +x.toFixed(2));
  const upstream = await startUpstream();
  const stack = await startStack('revocation');
  const { slug, apps } = await provision(stack, { apps: APPS, upstreamUrl: upstream.url });
  const pool = new Pool(stack.url.gateway, { connections: 1, keepAliveTimeout: 60_000 });
  const quiet = await waitForQuiet();
  const deny = [];
  const allowed = [];
  const replayDeny = [];
  const revokeCall = [];
  const pollsAllowed = {}; // how many calls still went through after the revoke returned (expected: none)
  const reasons = {};
  const exhausted = [];
  try {
    for (let k = 0; k < TRIALS; k++) {
      const session = await bootstrap(stack, apps[k % APPS]);
      const { sid } = claimsOf(session);
      const [first, ...polls] = await mintMany(stack, [session], 1 + POLLS, 8);
      const ok = await get(pool, first);
      if (ok.status !== 200) throw new Misbehaviour(`trial ${k}: a fresh mandate was refused before the revoke: ${ok.status} ${ok.text.slice(0, 200)}`);
      allowed.push(ok.ms);
      const replay = await get(pool, first);
      if (replay.status !== 401) throw new Misbehaviour(`trial ${k}: a replayed mandate answered ${replay.status}`);
      replayDeny.push(replay.ms);

      const r0 = performance.now();
      await admin(stack, 'POST', `/v1/zones/${slug}/sessions/${sid}/revoke`, {});
      const revoked = performance.now();
      revokeCall.push(revoked - r0);

      let denied;
      let through = 0;
      for (const token of polls) {
        const r = await get(pool, token);
        if (r.status === 401) {
          denied = r;
          break;
        }
        if (r.status !== 200) throw new Misbehaviour(`trial ${k}: poll answered ${r.status} ${r.text.slice(0, 200)}`);
        through++;
      }
      pollsAllowed[through] = (pollsAllowed[through] ?? 0) + 1;
      if (!denied) {
        exhausted.push(k);
        continue;
      }
      const description = JSON.parse(denied.text).error_description ?? '?';
      reasons[description] = (reasons[description] ?? 0) + 1;
      deny.push(denied.at - revoked);
    }
  } finally {
    await pool.close();
  }

  const d = summarize(deny);
  const a = summarize(allowed);
  const f = summarize(replayDeny);
  const result = {
    when: new Date().toISOString(),
    source: source(),
    machine: { ...machine(), loadavg_before: loadBefore, ...quiet },
    config: { trials: TRIALS, polls_per_trial: POLLS, applications: APPS },
    revoke_to_deny_ms: d,
    calls_allowed_after_revoke_returned: pollsAllowed,
    deny_descriptions: reasons,
    trials_never_denied: exhausted.length,
    baseline_replay_denied_call_ms: f,
    baseline_allowed_gateway_call_ms: a,
    revoke_api_call_ms: summarize(revokeCall),
    ratio_deny_over_replay_denied_call: { p50: +(d.p50_ms / f.p50_ms).toFixed(2), p99: +(d.p99_ms / f.p99_ms).toFixed(2) },
    ratio_deny_over_allowed_call: { p50: +(d.p50_ms / a.p50_ms).toFixed(2), p99: +(d.p99_ms / a.p99_ms).toFixed(2) },
    targets: { p99_at_most_100ms: d.p99_ms <= TARGET_P99_MS },
  };
  console.log(JSON.stringify(result, null, 2));
  console.log('');
  console.log(`revoke → gateway denies, ${deny.length} trials  p50 ${d.p50_ms} ms  p99 ${d.p99_ms} ms  max ${d.max_ms} ms   target p99 ≤ ${TARGET_P99_MS} ms: ${result.targets.p99_at_most_100ms ? 'met' : 'MISSED'}`);
  console.log(`  vs a replayed-mandate 401   p50 ${f.p50_ms} ms  p99 ${f.p99_ms} ms   (revoke→deny p50 ${result.ratio_deny_over_replay_denied_call.p50}×, p99 ${result.ratio_deny_over_replay_denied_call.p99}× the fastest denial)`);
  console.log(`  vs one allowed gateway call  p50 ${a.p50_ms} ms  p99 ${a.p99_ms} ms   (revoke→deny p50 ${result.ratio_deny_over_allowed_call.p50}× an allowed call)`);
  console.log(`  revoke API call             p50 ${result.revoke_api_call_ms.p50_ms} ms  p99 ${result.revoke_api_call_ms.p99_ms} ms (not part of the figure above)`);
  console.log(`  calls let through after the revoke returned: ${JSON.stringify(pollsAllowed)}   denied by: ${JSON.stringify(reasons)}`);
  writeOut('revocation', result);
  if (exhausted.length > 0) throw new Misbehaviour(`${exhausted.length} trial(s) still allowed after ${POLLS} polls: trials ${exhausted.slice(0, 10).join(', ')}`);
});
