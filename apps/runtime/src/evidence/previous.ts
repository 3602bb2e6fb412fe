// `--previous PACK` (R-EVD-1): the earlier pack must verify, signed by this installation's evidence key, before its
// chain heads (from its signed manifest) are trusted as the point each zone's chain must still extend.
import { resolve } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { CliError, EXIT } from '../errors.js';
import type { EvidenceContext } from './check.js';
import { PackUnreadable } from './pack-files.js';
import { verifyPack } from './verify.js';

export async function readPrevious(target: string, installationKey: KeyObject): Promise<NonNullable<EvidenceContext['previous']>> {
  const path = resolve(target);
  let verified;
  try {
    verified = await verifyPack(path, { key: installationKey });
  } catch (e) {
    if (e instanceof PackUnreadable) throw new CliError(`--previous ${target} is not an evidence pack: ${e.message}`, EXIT.usage);
    throw e;
  }
  const { report, manifest } = verified;
  if (!report.ok || !manifest) {
    const named = report.findings.map((f) => `  - ${f.kind} ${f.path}: ${f.detail}`).join('\n');
    throw new CliError(`--previous ${target} fails its own verification against this installation's evidence key:\n${named}`, EXIT.usage, `run \`caracal evidence-pack verify ${target}\` for the details`);
  }
  if (!manifest.chain_heads) {
    throw new CliError(`--previous ${target} records no audit chain heads (its audit-chains check did not run)`, EXIT.usage, 'give a pack built while the database was reachable');
  }
  return { path, generatedAt: manifest.generated_at, heads: manifest.chain_heads };
}
