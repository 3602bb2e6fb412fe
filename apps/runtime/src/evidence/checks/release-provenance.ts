// Release provenance (R-REL-2, R-REL-3, R-EVD-1): the installation the CLI runs from is verified in-process exactly as
// `caracal verify-release --installed` does it, against the receipt install.sh wrote. A checkout has no receipt
// and is SKIPPED with that reason; an installer layout whose receipt is gone FAILs rather than pass as a checkout.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { CheckDefinition, CheckOutcome } from '../check.js';
import { RECEIPT_FILE } from '../../release/format.js';
import { STAGED_MARKER } from '../../upgrade/stage.js';
import { cliVersion } from '../../version.js';
import { fail, pass, skipped } from './support.js';

export type RootKind = 'installed' | 'receipt-missing' | 'staged' | 'checkout';

/** What the install root is: install.sh writes `<prefix>/lib/caracal/<version>/INSTALL-RECEIPT`; `caracal upgrade` stages `versions/<version>`. */
export function rootKind(root: string): RootKind {
  if (existsSync(join(root, RECEIPT_FILE))) return 'installed';
  if (existsSync(join(root, STAGED_MARKER))) return 'staged';
  if (basename(dirname(root)) === 'caracal' && basename(dirname(dirname(root))) === 'lib') return 'receipt-missing';
  return 'checkout';
}

async function verifyInstallation(root: string): Promise<CheckOutcome> {
  const receipt = readFileSync(join(root, RECEIPT_FILE), 'utf8');
  // Loaded here, not when the CLI starts: verification pulls in the Sigstore libraries (as verify-release does).
  const { verifyInstalled } = await import('../../release/verify/installed.js');
  const report = await verifyInstalled(root, receipt, cliVersion());
  const raw = [{ name: 'verify-installed.json', command: `caracal verify-release --installed (in-process, install root ${root})`, output: report }];
  const f = report.firstFailure;
  if (f) return fail(`${f.check} failed on ${f.file ?? RECEIPT_FILE}: ${f.detail ?? 'see raw/'}`, raw);
  return pass(`installation ${report.version} at ${root} matches its ${RECEIPT_FILE}: ${report.checks.map((c) => c.detail ?? c.check).join('; ')}`, raw);
}

export const releaseProvenance: CheckDefinition = {
  id: 'release-provenance',
  pillar: 'Provenance',
  title: 'The installed release verifies',
  what: 'The files the CLI and services run from are exactly those install.sh verified and recorded in INSTALL-RECEIPT (every digest, every link, nothing added): what runs is what was released and signed.',
  controls: ['R9', 'SOC2-CC8', 'EU-AIA-15', 'NIST-MEASURE'],
  command: 'caracal verify-release --installed',
  run: async (ctx) => {
    const kind = rootKind(ctx.root);
    const raw = [{ name: 'install-root.json', command: `test -e ${join(ctx.root, RECEIPT_FILE)}; test -e ${join(ctx.root, STAGED_MARKER)}`, output: { root: ctx.root, kind } }];
    switch (kind) {
      case 'installed':
        return verifyInstallation(ctx.root);
      case 'receipt-missing':
        return fail(`${join(ctx.root, RECEIPT_FILE)} is missing from an installed release: its files cannot be verified`, raw);
      case 'staged':
        return skipped(`${ctx.root} was staged by \`caracal upgrade\` (verified as a release before staging) and has no ${RECEIPT_FILE} for verify-release --installed to check`, raw);
      case 'checkout':
        return skipped(`running from a checkout (${ctx.root} has no ${RECEIPT_FILE}): not an installed release`, raw);
    }
  },
};
