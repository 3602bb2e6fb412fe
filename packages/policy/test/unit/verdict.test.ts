// How a zone policy set's answer reads (R-POL-1): only a boolean true or an object allowing is an allow; undefined
// denies; any other shape is an evaluation error; the time a set sees comes from the input.
import { describe, expect, it } from 'vitest';
import { readResult, timeFacts } from '../../src/index.js';

const one = (result: unknown) => readResult('s@v1', [{ result }]);

describe('a policy set result', () => {
  it('a boolean allows or denies', () => {
    expect(one(true)).toEqual({ set: 's@v1', status: 'complete', allow: true, diagnostics: [], stepUp: [] });
    expect(one(false)).toMatchObject({ status: 'complete', allow: false });
  });

  it('an object with allow or decision, reasons, diagnostics and step_up', () => {
    expect(one({ allow: true, step_up: ['pay:send'], diagnostics: ['needs approval'] })).toEqual({ set: 's@v1', status: 'complete', allow: true, diagnostics: ['needs approval'], stepUp: ['pay:send'] });
    expect(one({ decision: 'deny', reasons: ['after hours'] })).toMatchObject({ status: 'complete', allow: false, diagnostics: ['after hours'] });
    expect(one({ decision: 'allow' })).toMatchObject({ status: 'complete', allow: true });
  });

  it('undefined denies; several results or another shape is an error, which never allows', () => {
    expect(readResult('s@v1', [])).toMatchObject({ status: 'complete', allow: false, diagnostics: ['the entrypoint is undefined for this input'] });
    expect(readResult('s@v1', [{ result: true }, { result: true }])).toMatchObject({ status: 'error', allow: false });
    for (const bad of ['yes', 1, null, [true], {}, { allow: 'true' }, { decision: 'maybe' }, { allow: true, decision: 'allow' }, { allow: true, reasons: 'x' }, { allow: true, step_up: [1] }]) {
      expect(one(bad)).toMatchObject({ status: 'error', allow: false });
    }
  });

  it('bounds what reaches the audit event', () => {
    const r = one({ allow: false, reasons: Array.from({ length: 40 }, () => 'x'.repeat(500)) });
    expect(r.diagnostics).toHaveLength(16);
    expect(r.diagnostics.every((d) => d.length === 200)).toBe(true);
  });

  it('time facts are the given instant, in UTC', () => {
    expect(timeFacts(new Date('2026-12-03T18:05:09.123Z'))).toEqual({ rfc3339: '2026-12-03T18:05:09.123Z', unix_seconds: 1796321109, utc: { hour: 18, minute: 5, weekday: 4 } });
  });
});
