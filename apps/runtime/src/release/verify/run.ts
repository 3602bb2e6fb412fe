// verify-release's ordered checks (R-REL-2; modelled on slsa-verifier): each later check relies on what the earlier
// ones established, so after the first FAIL the rest are SKIPPED.
import type { KeyObject } from 'node:crypto';
import { SUMS_FILE, BUNDLE_FILE } from '../format.js';
import { checkBundle } from './check-bundle.js';
import { checkManifest } from './check-manifest.js';
import { checkProvenanceSignature, checkProvenanceSubjects } from './check-provenance.js';
import { checkSbom } from './check-sbom.js';
import { checkDigests, checkSumsGrammar } from './check-sums.js';
import { CheckFailure, type ReleaseContext } from './context.js';

export type CheckStatus = 'PASS' | 'FAIL' | 'SKIPPED';

export interface CheckResult {
  check: string;
  status: CheckStatus;
  file?: string;
  detail?: string;
}

export interface Check<C> {
  id: string;
  /** The file the check is about, when it passes or is skipped (a failure names its own). */
  file: (ctx: C) => string;
  run: (ctx: C) => string | Promise<string>;
}

const versioned = (make: (v: string) => string) => (ctx: ReleaseContext) => (ctx.version ? make(ctx.version) : '-');

export const CHECKS: readonly Check<ReleaseContext>[] = [
  { id: 'sums-grammar', file: () => SUMS_FILE, run: checkSumsGrammar },
  { id: 'digests', file: () => SUMS_FILE, run: checkDigests },
  { id: 'sums-signature', file: () => BUNDLE_FILE, run: checkBundle },
  { id: 'provenance-signature', file: versioned((v) => `caracal-${v}.intoto.jsonl`), run: checkProvenanceSignature },
  { id: 'provenance-subjects', file: versioned((v) => `caracal-${v}.intoto.jsonl`), run: checkProvenanceSubjects },
  { id: 'sbom', file: versioned((v) => `caracal-${v}.cdx.json`), run: checkSbom },
  { id: 'manifest', file: () => 'manifest.json', run: checkManifest },
];

export interface VerifyReport {
  ok: boolean;
  dir: string;
  version?: string;
  checks: CheckResult[];
  firstFailure?: CheckResult;
}

/** Run checks in order; after the first FAIL the rest are SKIPPED. */
export async function runChecks<C>(list: readonly Check<C>[], ctx: C): Promise<{ checks: CheckResult[]; firstFailure?: CheckResult }> {
  const checks: CheckResult[] = [];
  let firstFailure: CheckResult | undefined;
  for (const check of list) {
    if (firstFailure) {
      checks.push({ check: check.id, status: 'SKIPPED', file: check.file(ctx) });
      continue;
    }
    try {
      const detail = await check.run(ctx);
      checks.push({ check: check.id, status: 'PASS', file: check.file(ctx), detail });
    } catch (e) {
      // Only a CheckFailure is a verdict; anything else (EACCES, EIO) means the check could not run.
      if (!(e instanceof CheckFailure)) throw e;
      firstFailure = { check: check.id, status: 'FAIL', file: e.file, detail: e.message };
      checks.push(firstFailure);
    }
  }
  return { checks, ...(firstFailure ? { firstFailure } : {}) };
}

export async function verifyRelease(dir: string, key: KeyObject): Promise<VerifyReport> {
  const ctx: ReleaseContext = { dir, key };
  const r = await runChecks(CHECKS, ctx);
  return { ok: !r.firstFailure, dir, ...(ctx.version ? { version: ctx.version } : {}), ...r };
}
