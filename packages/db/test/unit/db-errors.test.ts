// How driver errors map to what a caller answers: an outage or a transaction the server rolled back is "retry
// later" (503), bad data is the request's fault (4xx), anything else is a bug.
import { describe, expect, it } from 'vitest';
import { classifyDbError, isDbUnavailable } from '../../src/index.js';

const pg = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error('x'), { code, ...extra });

describe('classifyDbError', () => {
  it('a deadlock or a serialization failure rolled the transaction back: retry later, never a 500', () => {
    for (const code of ['40P01', '40001']) expect(classifyDbError(pg(code))).toEqual({ kind: 'unavailable' });
  });

  it('connection loss, resource exhaustion and shutdown are outages', () => {
    for (const code of ['08006', '53300', '57P01', 'ECONNREFUSED']) expect(isDbUnavailable(pg(code))).toBe(true);
    expect(isDbUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('bad data names the field and what is wrong with it, never the value', () => {
    expect(classifyDbError(pg('23505', { detail: 'Key (zone_id, name)=(z, secret-value) already exists.' }))).toEqual({ kind: 'conflict', field: 'zone_id, name' });
    expect(classifyDbError(pg('22001', { column: 'name' }))).toEqual({ kind: 'invalid', field: 'name', what: 'is too long' });
  });

  it('anything else is left to the caller as a bug', () => {
    expect(classifyDbError(pg('42P01'))).toBeUndefined();
    expect(classifyDbError(new Error('boom'))).toBeUndefined();
  });
});
