// Release versions (SemVer 2.0.0 precedence, §11) for the downgrade guard, and the Node range a release declares.

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$/;

export function isVersion(v: string): boolean {
  return SEMVER.test(v);
}

/** < 0 when a precedes b, 0 when equal in precedence, > 0 when a follows b. Throws on a non-SemVer string. */
export function compareVersions(a: string, b: string): number {
  const [ma, mb] = [SEMVER.exec(a), SEMVER.exec(b)];
  if (!ma) throw new Error(`${JSON.stringify(a)} is not a version`);
  if (!mb) throw new Error(`${JSON.stringify(b)} is not a version`);
  for (let i = 1; i <= 3; i++) {
    const d = Number(ma[i]) - Number(mb[i]);
    if (d !== 0) return d;
  }
  const [pa, pb] = [ma[4], mb[4]];
  // A pre-release precedes its release (§11.3).
  if (pa === undefined || pb === undefined) return pa === pb ? 0 : pa === undefined ? 1 : -1;
  const xs = pa.split('.');
  const ys = pb.split('.');
  for (let i = 0; i < Math.max(xs.length, ys.length); i++) {
    const [x, y] = [xs[i], ys[i]];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const [nx, ny] = [/^\d+$/.test(x), /^\d+$/.test(y)];
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
    } else if (nx !== ny) return nx ? -1 : 1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

const COMPARATOR = /^(>=|<=|>|<|=)?v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/;

/**
 * Whether `version` (e.g. process.versions.node) satisfies `range`: comparators joined by spaces (all must hold),
 * alternatives joined by `||`. Only plain comparators are understood; anything else throws, so a range this code
 * cannot read refuses the release instead of passing it.
 */
export function satisfiesRange(version: string, range: string): boolean {
  const alternatives = range.split('||').map((alt) => alt.trim().split(/\s+/).filter(Boolean));
  if (alternatives.some((alt) => alt.length === 0)) throw new Error(`cannot read the range ${JSON.stringify(range)}`);
  return alternatives.some((alt) =>
    alt.every((comparator) => {
      const m = COMPARATOR.exec(comparator);
      if (!m) throw new Error(`cannot read the range ${JSON.stringify(range)}`);
      const want = `${m[2]}.${m[3] ?? 0}.${m[4] ?? 0}`;
      const d = compareVersions(version.replace(/^v/, ''), want);
      switch (m[1]) {
        case '>=':
          return d >= 0;
        case '>':
          return d > 0;
        case '<=':
          return d <= 0;
        case '<':
          return d < 0;
        default:
          return d === 0;
      }
    }),
  );
}
