// Governance (R-EVD-1): the threat model ships with the installation, is not empty, and names every threat; the pack
// writer copies it into the pack. A missing file FAILs naming the path (the pack still builds without the copy).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckDefinition } from '../check.js';
import { sha256Hex } from '../../release/format.js';
import { THREAT_MODEL_NAME } from '../manifest.js';
import { fail, verdict } from './support.js';

export const THREAT_IDS: readonly string[] = Array.from({ length: 11 }, (_, i) => `TH-${String(i + 1).padStart(2, '0')}`);

export const threatModelPath = (root: string) => join(root, 'governance', THREAT_MODEL_NAME);

/** The 1-based lines on which each threat id appears (as a whole id: `TH-01`, not `TH-010`). */
export function threatLines(text: string): Record<string, number[]> {
  const lines = text.split(/\r?\n/);
  return Object.fromEntries(THREAT_IDS.map((id) => [id, lines.flatMap((l, i) => (new RegExp(`\\b${id}(?![0-9])`).test(l) ? [i + 1] : []))]));
}

export const threatModel: CheckDefinition = {
  id: 'threat-model',
  pillar: 'Governance',
  title: 'The threat model is present',
  what: `governance/${THREAT_MODEL_NAME} is in the install root, is not empty and names every threat (${THREAT_IDS[0]} to ${THREAT_IDS.at(-1)}); the pack carries a copy so the assessor reads the model the installation was built against.`,
  controls: ['NIST-GOVERN', 'NIST-MAP', 'NIST-MEASURE'],
  command: `read <install root>/governance/${THREAT_MODEL_NAME}`,
  run: async (ctx) => {
    const path = threatModelPath(ctx.root);
    // Followed like the pack writer follows it: what counts is the content the pack would copy.
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st?.isFile()) return fail(`${path} is ${st ? 'not a regular file' : 'missing'}: the pack carries no threat model`, [{ name: 'threat-model.json', command: `stat ${path}`, output: { path, exists: Boolean(st) } }]);
    const data = readFileSync(path);
    const lines = threatLines(data.toString('utf8'));
    const raw = [{ name: 'threat-model.json', command: `read ${path}; find ${THREAT_IDS.join(', ')}`, output: { path, bytes: data.length, sha256: sha256Hex(data), threat_lines: lines } }];
    const problems = data.length === 0 ? [`${path} is empty`] : THREAT_IDS.filter((id) => lines[id]!.length === 0).map((id) => `${path} does not name ${id}`);
    return verdict(problems, `${path} (${data.length} bytes) names ${THREAT_IDS[0]} to ${THREAT_IDS.at(-1)}; copied into the pack as ${THREAT_MODEL_NAME}`, raw, 11);
  },
};
