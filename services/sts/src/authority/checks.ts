// An endpoint as an ordered list of small named checks (the shape of node-oidc-provider's token action): each
// check reads and extends one state object, and either throws a typed refusal or returns a deny verdict.
export type Check<S, D = never> = (state: S) => Promise<D | void> | D | void;

/** Runs the checks in order; the first that returns a verdict stops the list and that verdict is returned. */
export async function runChecks<S, D>(checks: ReadonlyArray<Check<S, D>>, state: S): Promise<D | undefined> {
  for (const check of checks) {
    const verdict = await check(state);
    if (verdict !== undefined) return verdict as D;
  }
  return undefined;
}
