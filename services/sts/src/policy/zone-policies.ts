// Zone policy sets in the STS (R-POL-1, R-POL-3): each zone's active sets, read from Postgres and cached until
// `caracal.policy.invalidate` or the periodic check says they changed; each bundle opened once per SHA-256 and
// loaded into an opa-wasm module with an explicit memory maximum. A set can only narrow the contract: the caller asks
// only after the contract allowed, and every set must answer a complete allow (packages/policy reads the answers).
import type { Logger } from '@caracal/logging';
import {
  combineVerdicts,
  errorVerdict,
  evaluateSet,
  loadSetModule,
  openSetBundle,
  policyInput,
  unusable,
  type DecisionInput,
  type PolicyDecision,
  type PolicyMemory,
  type PolicyModule,
  type SetBundle,
  type SetVerdict,
} from '@caracal/policy';
import { fingerprint, type ActiveSet, type PolicyStore } from './store.js';

interface LoadedBundle extends SetBundle {
  /** undefined until first used, and after an evaluation failed: the module is loaded again, fresh, before its next use. */
  module?: PolicyModule;
}

/** A set with its bundle: an evaluation under way keeps using it even when the periodic check drops the bundle. */
type LoadedSet = ActiveSet & { bundle: LoadedBundle };

interface ZoneSets {
  fingerprint: string;
  sets: LoadedSet[];
}

export interface ZonePoliciesOptions {
  store: PolicyStore;
  memory: PolicyMemory;
  /** An evaluation that ran longer than this denies (a wasm call cannot be interrupted, so it is measured). */
  budgetMs: number;
  logger: Logger;
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

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
   * The sets' decision on an input the contract allowed, at `now`. The application's labels are those given (read
   * with the authority context), else read here, and only when the zone has active sets. Throws only when the policy store cannot be read (the caller answers 503); a set that
   * fails to evaluate denies.
   */
  async decide(zoneId: string, input: DecisionInput, now: Date, labels?: readonly string[]): Promise<PolicyDecision> {
    const zone = await this.zone(zoneId);
    if (zone.sets.length === 0) return combineVerdicts([]);
    const facts = policyInput(input, [...(labels ?? (await this.opts.store.labels(zoneId, input.principal.id)))], now);
    const verdicts: SetVerdict[] = [];
    for (const set of zone.sets) verdicts.push(await this.run(set, facts));
    return combineVerdicts(verdicts);
  }

  /** Whether the zone has active sets (read once, then cached with them). Throws when the store cannot be read. */
  async active(zoneId: string): Promise<boolean> {
    return (await this.zone(zoneId)).sets.length > 0;
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
      for (const d of missing) this.bundles.set(d, openSetBundle(d, bytes.get(d)));
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
    const name = `${set.name}@v${set.version}`;
    const b = set.bundle;
    const why = unusable(b, set.entrypoint);
    if (why) return errorVerdict(name, why);
    try {
      b.module ??= await loadSetModule(b, this.opts.memory);
    } catch (e) {
      return errorVerdict(name, messageOf(e));
    }
    const { verdict, moduleFailed } = evaluateSet(name, b.module, set.entrypoint, input, this.opts.budgetMs);
    if (moduleFailed) {
      // Out of memory or an abort leaves the instance in an unknown state: the next use loads it again.
      b.module = undefined;
      this.opts.logger.warn({ policy_set: name, err: { message: verdict.diagnostics[0] } }, 'policy evaluation failed');
    }
    return verdict;
  }
}
