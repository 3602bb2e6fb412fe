// bench/lib/load: a closed-loop HTTP load generator on undici — N connections each keep one request in flight, every answer's status is checked and its latency recorded.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';

const pct = (sorted, p) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);
const r2 = (x) => Math.round(x * 100) / 100;

/** Latency summary in milliseconds. */
export function summarize(latenciesMs) {
  const s = Float64Array.from(latenciesMs).sort();
  return { p50_ms: r2(pct(s, 50)), p90_ms: r2(pct(s, 90)), p99_ms: r2(pct(s, 99)), max_ms: r2(s[s.length - 1] ?? NaN) };
}

const CORES = readFileSync('/proc/stat', 'utf8').match(/^cpu\d+ /gm)?.length ?? 1;

/** Busy and total jiffies of the whole machine (all cores), from /proc/stat. */
function machineJiffies() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + f[4];
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Marks the machine's CPU now; `cores()` gives how many cores were busy on average from then on. */
export function machineBusy() {
  const a = machineJiffies();
  return {
    cores() {
      const b = machineJiffies();
      return r2(((b.busy - a.busy) / (b.total - a.total)) * CORES);
    },
  };
}

// A fixed CPU task (SHA-256 over 32 MiB, best of 3) timed on an idle moment. Contention the guest cannot see (a
// busy host under this VM) shows up as this taking longer than the fastest time seen in this run.
const CANARY_DATA = Buffer.alloc(4 << 20, 7);
let fastestCanary = Infinity;
export function canaryMs() {
  let best = Infinity;
  for (let k = 0; k < 3; k++) {
    const t0 = performance.now();
    for (let i = 0; i < 8; i++) createHash('sha256').update(CANARY_DATA).digest();
    best = Math.min(best, performance.now() - t0);
  }
  fastestCanary = Math.min(fastestCanary, best);
  return best;
}
const slowdown = (ms) => r2(ms / fastestCanary);

/**
 * Waits (up to `timeoutMs`) until the machine has been nearly idle for `windowMs` and the CPU canary runs at full
 * speed: this machine is shared, and a test suite running next to a benchmark takes cores from it. Returns how long
 * it waited and the last figures.
 */
export async function waitForQuiet({ maxBusyCores = 0.35, windowMs = 3000, timeoutMs = 180_000, maxSlowdown = 1.15 } = {}) {
  const start = performance.now();
  for (;;) {
    const mark = machineBusy();
    await new Promise((r) => setTimeout(r, windowMs));
    const busy = mark.cores();
    const canary = canaryMs();
    const waited = (performance.now() - start) / 1000;
    const quiet = busy <= maxBusyCores && slowdown(canary) <= maxSlowdown;
    if (quiet || waited * 1000 >= timeoutMs) return { waited_s: r2(waited), busy_cores_before: r2(busy), canary_before_ms: r2(canary), quiet };
  }
}

/**
 * Runs `connections` closed loops against `origin` for `durationMs` (after an untimed `warmupMs`).
 * `next()` returns the next request ({path, method?, headers?, body?}) or null when it has none left (single-use
 * credentials run out), which ends that loop early. Answers whose status is not in `expect` are counted as errors.
 * `cpuOf` maps names to functions returning CPU seconds used so far, sampled around the timed phase.
 */
export async function closedLoop({ origin, connections, durationMs, warmupMs = 0, next, expect = [200], cpuOf = {}, quiet = true }) {
  const before = quiet ? await waitForQuiet() : undefined;
  const pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const statuses = {};
  const failures = [];
  const phase = async (ms, record) => {
    const latencies = [];
    const deadline = performance.now() + ms;
    let errors = 0;
    const loop = async () => {
      while (performance.now() < deadline) {
        const req = next();
        if (req === null) return;
        const t0 = performance.now();
        let status;
        try {
          const res = await pool.request({ method: req.method ?? 'GET', path: req.path, headers: req.headers, body: req.body });
          status = res.statusCode;
          const text = await res.body.text();
          if (!expect.includes(status) && failures.length < 5) failures.push(`${status} ${text.slice(0, 200)}`);
        } catch (err) {
          status = `error:${err.code ?? err.message}`;
          if (failures.length < 5) failures.push(status);
        }
        const ms = performance.now() - t0;
        if (!expect.includes(status)) errors++;
        if (!record) continue;
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (expect.includes(status)) latencies.push(ms);
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: connections }, loop));
    return { latencies, errors, seconds: (performance.now() - t0) / 1000 };
  };
  try {
    const warmupErrors = warmupMs > 0 ? (await phase(warmupMs, false)).errors : 0;
    const cpu0 = Object.fromEntries(Object.entries(cpuOf).map(([k, f]) => [k, f()]));
    const m0 = machineBusy();
    const { latencies, errors, seconds } = await phase(durationMs, true);
    const machine = m0.cores();
    const canaryAfter = canaryMs();
    const cpu = Object.fromEntries(Object.entries(cpuOf).map(([k, f]) => [k, r2((f() - cpu0[k]) / seconds)]));
    return {
      connections,
      ...before,
      canary_after_ms: r2(canaryAfter),
      // how much slower the CPU canary ran around this run than at its fastest in this process (1 = full speed)
      canary_slowdown: before ? Math.max(slowdown(before.canary_before_ms), slowdown(canaryAfter)) : slowdown(canaryAfter),
      seconds: r2(seconds),
      requests: latencies.length + errors,
      errors,
      warmup_errors: warmupErrors,
      statuses,
      failures,
      rps: Math.round(latencies.length / seconds),
      ...summarize(latencies),
      // cores busy on average during the timed phase: per process, and the whole machine
      // (`unaccounted` is everything else on the machine: other users' work, the kernel, short-lived processes)
      cpu_cores: { ...cpu, unaccounted: r2(Math.max(0, machine - Object.values(cpu).reduce((a, b) => a + b, 0))), machine },
    };
  } finally {
    await pool.close();
  }
}

/** CPU seconds this process has used so far (the load generator). */
export const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/**
 * Runs `attempt()` (one timed closed-loop run) again, up to `attempts` times, while it looks disturbed: CPU outside
 * the benchmark's own processes above `maxUnaccounted` cores, or the CPU canary slowed by more than `maxSlowdown`.
 * Keeps the least disturbed run and says how many it took.
 */
export async function leastDisturbed(attempt, { attempts = 3, maxUnaccounted = 0.25, maxSlowdown = 1.15 } = {}) {
  const runs = [];
  const disturbance = (r) => Math.max(r.cpu_cores.unaccounted / maxUnaccounted, (r.canary_slowdown - 1) / (maxSlowdown - 1));
  for (let i = 1; i <= attempts; i++) {
    const r = await attempt();
    r.attempt = i;
    runs.push(r);
    if (disturbance(r) <= 1) break;
    console.error(`run disturbed: ${r.cpu_cores.unaccounted} cores busy outside the benchmark, CPU canary ${r.canary_slowdown}× slower${i < attempts ? '; running it again' : ''}`);
  }
  const best = runs.reduce((a, b) => (disturbance(b) < disturbance(a) ? b : a));
  best.attempts = runs.length;
  // a discarded run's wrong answers still count against the system
  best.discarded_runs_errors = runs.filter((r) => r !== best).reduce((a, r) => a + r.errors + r.warmup_errors, 0);
  return best;
}

/** A numeric command-line flag (`--duration 15`), or its default. */
export const arg = (name, dflt) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);

/** The load shape the closed-loop benchmarks share: `--duration S`, `--warmup S`, `--connections N`. */
export const loadShape = () => ({ durationS: arg('--duration', 15), warmupS: arg('--warmup', 5), connections: arg('--connections', 50) });
