// What the evidence checks share: building an outcome, skipping when a dependency is unreachable, and reading a
// query so that its exact SQL travels with its rows into raw/.
import type { Pool, PoolClient } from '@caracal/db';
import type { Redis } from 'ioredis';
import type { CheckOutcome, Dependency, EvidenceContext, RawOutput } from '../check.js';

export const pass = (reason: string, raw: RawOutput[] = []): CheckOutcome => ({ status: 'PASS', reason, raw });
export const fail = (reason: string, raw: RawOutput[] = []): CheckOutcome => ({ status: 'FAIL', reason, raw });
export const skipped = (reason: string, raw: RawOutput[] = []): CheckOutcome => ({ status: 'SKIPPED', reason, raw });

/** PASS when `problems` is empty, else FAIL naming the first few (the raw output holds them all). */
export function verdict(problems: readonly string[], passReason: string, raw: RawOutput[], limit = 5): CheckOutcome {
  if (problems.length === 0) return pass(passReason, raw);
  const more = problems.length > limit ? `; and ${problems.length - limit} more (see raw/)` : '';
  return fail(`${problems.slice(0, limit).join('; ')}${more}`, raw);
}

/** Runs `body` with the dependency's value, or SKIPs with the reason it is unreachable. */
export async function using<T>(dep: Dependency<T>, body: (value: T) => Promise<CheckOutcome>): Promise<CheckOutcome> {
  return dep.ok ? body(dep.value) : skipped(dep.reason);
}

export const withDb = (ctx: EvidenceContext, body: (db: Pool) => Promise<CheckOutcome>) => using(ctx.db, body);
export const withRedis = (ctx: EvidenceContext, body: (redis: Redis) => Promise<CheckOutcome>) => using(ctx.redis, body);

/** Collapses a query's whitespace so the recorded command reads as one line. */
const oneLine = (sql: string) => sql.replace(/\s+/g, ' ').trim();

/** Runs a read query and returns its rows with the raw record (`name`, the exact SQL and its parameters, the rows). */
export async function readQuery<R extends Record<string, unknown>>(db: Pool | PoolClient, name: string, sql: string, params: unknown[] = []): Promise<{ rows: R[]; raw: RawOutput }> {
  const r = await db.query<R>(sql, params);
  const command = params.length ? `${oneLine(sql)} -- params: ${JSON.stringify(params)}` : oneLine(sql);
  return { rows: r.rows, raw: { name, command, output: r.rows } };
}
