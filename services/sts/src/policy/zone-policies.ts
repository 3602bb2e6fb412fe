// Zone policy sets in the STS (R-POL-1, R-POL-3): each zone's active sets, read from Postgres and cached until
// `caracal.policy.invalidate` or the periodic check says they changed; each bundle loaded once per SHA-256 into an
// opa-wasm module with an explicit memory maximum. A set can only narrow the contract: the caller asks only after
// the contract allowed, and every set must answer a complete allow.
import { createHash } from 'node:crypto';
import type { Logger } from '@caracal/logging';
import { loadPolicyModule, readBundle, type PolicyMemory, type PolicyModule } from '@caracal/policy';
import type { DecisionInput } from '../authority/index.js';
import { policyInput } from './input.js';
import { errorVerdict, readResult, type SetVerdict } from './result.js';
import { fingerprint, type ActiveSet, type PolicyStore } from './store.js';

interface LoadedBundle {
  wasm: Buffer;
  data: object;
  entrypoints: string[];
  /** undefined after an evaluation failed: the module is loaded again, fresh, before its next use. */
  module?: PolicyModule;
  /** Why the bundle cannot be evaluated (a digest mismatch, not a wasm bundle): every evaluation of it denies. */
  broken?: string;
}

/** A set with its bundle: an evaluation under way keeps using it even when the periodic check drops the bundle. */
type LoadedSet = ActiveSet & { bundle: LoadedBundle };

interface ZoneSets {
  fingerprint: string;
  sets: LoadedSet[];
}

export interface PolicyDecision {
  allow: boolean;
  reason?: 'policy_denied' | 'policy_error';
  /** The sets that decided: the denying (or failing) ones on a deny, every active set on an allow. */
  determining_policies: string[];
  /** Each set's reasons and diagnostics, prefixed with the set. */
  diagnostics: string[];
  /** Scopes the sets want an approver for (R-STS-5). */
  stepUp: string[];
}

export interface ZonePoliciesOptions {
  store: PolicyStore;
  memory: PolicyMemory;
  /** An evaluation that ran longer than this denies (a wasm call cannot be interrupted, so it is measured). */
  budgetMs: number;
  logger: Logger;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));
const setName = (s: ActiveSet) => `${s.name}@v${s.version}`;

function unpack(expected: string, bytes: Buffer | undefined): LoadedBundle {
  const empty = { wasm: Buffer.alloc(0), data: {}, entrypoints: [] };
  if (!bytes) return { ...empty, broken: 'the bundle is missing' };
  if (sha256(bytes) !== expected) return { ...empty, broken: 'the bundle does not match its SHA-256' };
  try {
    const b = readBundle(bytes);
    const data = b.files.get('data.json');
    return { wasm: b.wasm, data: data ? (JSON.parse(data.toString('utf8')) as object) : {}, entrypoints: b.entrypoints };
  } catch (e) {
    return { ...empty, broken: messageOf(e) };
  }
}

export class ZonePolicies {
  private readonly zones = new Map<string, Promise<ZoneSets>>();
  private readonly bundles = new Map<string, LoadedBundle>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(private readonly opts: ZonePoliciesOptions) {}

  /** Forgets a zone's sets (or every zone's): the next mint there reads them again. */
  invalidate(zoneId?: string): void {
    if (zoneId === undefined) this.zones.clear();
    else this.zones.delete(zoneId);
  }

  /**
   * The sets' decision on an input the contract allowed, at `now`. The application's labels are read only when the
   * zone has active sets. Throws only when the policy store cannot be read (the caller answers 503); a set that
   * fails to evaluate denies.
   */
  async decide(zoneId: string, input: DecisionInput, now: Date): Promise<PolicyDecision> {
    const zone = await this.zone(zoneId);
    if (zone.sets.length === 0) return { allow: true, determining_policies: [], diagnostics: [], stepUp: [] };
    const facts = policyInput(input, await this.opts.store.labels(zoneId, input.principal.id), now);
    const verdicts: SetVerdict[] = [];
    for (const set of zone.sets) verdicts.push(await this.run(set, facts));
    return combine(verdicts);
  }

  /** Starts the periodic check of the cached zones' active versions. */
  start(everyMs: number): void {
    this.timer ??= setInterval(() => void this.recheck(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Compares each cached zone's active versions with the store; a zone that changed, or cannot be read, is dropped. */
  async recheck(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      for (const [zoneId, cached] of [...this.zones]) {
        const before = await cached.then((z) => z.fingerprint, () => undefined);
        const now = await this.opts.store.active(zoneId).then(fingerprint, () => undefined);
        if ((before === undefined || now === undefined || now !== before) && this.zones.get(zoneId) === cached) this.zones.delete(zoneId);
      }
      await this.prune();
    } finally {
      this.checking = false;
    }
  }

  private zone(zoneId: string): Promise<ZoneSets> {
    let z = this.zones.get(zoneId);
    if (!z) {
      z = this.load(zoneId);
      this.zones.set(zoneId, z);
      // A failed read is not remembered: the next mint asks the store again.
      const loading = z;
      z.catch(() => (this.zones.get(zoneId) === loading ? this.zones.delete(zoneId) : undefined));
    }
    return z;
  }

  private async load(zoneId: string): Promise<ZoneSets> {
    const sets = await this.opts.store.active(zoneId);
    const missing = [...new Set(sets.map((s) => s.sha256))].filter((d) => !this.bundles.has(d));
    if (missing.length > 0) {
      const bytes = await this.opts.store.bundles(zoneId, missing);
      for (const d of missing) this.bundles.set(d, unpack(d, bytes.get(d)));
    }
    return { fingerprint: fingerprint(sets), sets: sets.map((s) => ({ ...s, bundle: this.bundles.get(s.sha256)! })) };
  }

  /** Drops the bundles no cached zone uses any more. */
  private async prune(): Promise<void> {
    const used = new Set<string>();
    for (const z of this.zones.values()) for (const s of (await z.catch(() => undefined))?.sets ?? []) used.add(s.sha256);
    for (const d of [...this.bundles.keys()]) if (!used.has(d)) this.bundles.delete(d);
  }

  private async run(set: LoadedSet, input: unknown): Promise<SetVerdict> {
    const name = setName(set);
    const b = set.bundle;
    if (b.broken) return errorVerdict(name, b.broken);
    if (!b.entrypoints.includes(set.entrypoint)) return errorVerdict(name, `the bundle has no entrypoint ${set.entrypoint}`);
    try {
      if (!b.module) {
        b.module = await loadPolicyModule(b.wasm, this.opts.memory);
        b.module.setData(b.data);
      }
    } catch (e) {
      return errorVerdict(name, messageOf(e));
    }
    const started = performance.now();
    let results: { result: unknown }[];
    try {
      results = b.module.evaluate(input, set.entrypoint);
    } catch (e) {
      // Out of memory or an abort leaves the instance in an unknown state: the next use loads it again.
      b.module = undefined;
      this.opts.logger.warn({ policy_set: name, err: { message: messageOf(e) } }, 'policy evaluation failed');
      return errorVerdict(name, messageOf(e));
    }
    const tookMs = performance.now() - started;
    if (tookMs > this.opts.budgetMs) return errorVerdict(name, `the evaluation took ${tookMs.toFixed(1)} ms, over the ${this.opts.budgetMs} ms budget`);
    return readResult(name, results);
  }
}

function combine(verdicts: SetVerdict[]): PolicyDecision {
  const diagnostics = verdicts.flatMap((v) => v.diagnostics.map((d) => `${v.set}: ${d}`));
  const failed = verdicts.filter((v) => v.status !== 'complete');
  const denied = verdicts.filter((v) => v.status === 'complete' && !v.allow);
  const stepUp = [...new Set(verdicts.flatMap((v) => v.stepUp))];
  if (failed.length > 0) return { allow: false, reason: 'policy_error', determining_policies: failed.map((v) => v.set), diagnostics, stepUp };
  if (denied.length > 0) return { allow: false, reason: 'policy_denied', determining_policies: denied.map((v) => v.set), diagnostics, stepUp };
  return { allow: true, determining_policies: verdicts.map((v) => v.set), diagnostics, stepUp };
}
