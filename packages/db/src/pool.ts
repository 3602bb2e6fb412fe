// Connection pools, one per database role; a pool error is logged, never fatal to the process.
import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export interface PoolOptions {
  connectionString: string;
  applicationName: string;
  max?: number;
  connectionTimeoutMillis?: number;
  /** Server-side limit on one statement (lock waits included). */
  statementTimeoutMillis?: number;
  /** Client-side limit on one query's answer: the only bound when the server is paused and sends nothing. */
  queryTimeoutMillis?: number;
  onError?: (err: Error) => void;
}

export function createPool(opts: PoolOptions): Pool {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    application_name: opts.applicationName,
    max: opts.max ?? 10,
    connectionTimeoutMillis: opts.connectionTimeoutMillis ?? 3000,
    statement_timeout: opts.statementTimeoutMillis ?? 10_000,
    ...(opts.queryTimeoutMillis === undefined ? {} : { query_timeout: opts.queryTimeoutMillis }),
    idleTimeoutMillis: 30_000,
  });
  // An idle client can die with the server; without a listener that would crash the process.
  pool.on('error', (err) => opts.onError?.(err));
  return pool;
}
