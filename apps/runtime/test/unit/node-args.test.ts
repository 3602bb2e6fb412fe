// A worker's Node.js command line: the audit service gets the larger young generation, the others none, and the
// entry file is always the last argument.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SERVICE_NAMES } from '@caracal/db';
import { workerArgs, YOUNG_SEMI_SPACE_MB } from '../../src/supervisor/node-args.js';

describe('worker node arguments', () => {
  it('the audit service gets a semi-space ceiling; the request-path services and the rest run with the default', () => {
    expect(workerArgs('audit', '/x/service.mjs')).toEqual([`--max-semi-space-size=${YOUNG_SEMI_SPACE_MB.audit}`, '/x/service.mjs']);
    for (const s of ['api', 'coordinator', 'sts', 'gateway']) expect(workerArgs(s, '/x/service.mjs')).toEqual(['/x/service.mjs']);
    for (const s of SERVICE_NAMES) expect(workerArgs(s, '/e').at(-1)).toBe('/e');
  });

  it('this Node.js accepts each command line and gives the configured services a larger heap ceiling (the young generation is part of it)', () => {
    const limit = (args: string[]) => Number(execFileSync(process.execPath, [...args, 'process.stdout.write(String(require("v8").getHeapStatistics().heap_size_limit))'], { encoding: 'utf8' }));
    const base = limit(['-e']);
    for (const s of SERVICE_NAMES) {
      const own = limit(workerArgs(s, '-e'));
      if (YOUNG_SEMI_SPACE_MB[s] === undefined) expect(own).toBe(base);
      else expect(own).toBeGreaterThan(base);
    }
  });
});
