// SQL for agent sessions (R-CO-1); every query runs inside a zone-bound transaction (RLS, R-DB-2).
import type { PoolClient } from '@caracal/db';

export type SessionStatus = 'active' | 'suspended' | 'ended' | 'expired' | 'revoked';
export const LIVE: readonly SessionStatus[] = ['active', 'suspended'];

export interface SessionRow {
  id: string;
  zone_id: string;
  application_id: string;
  parent_id: string | null;
  depth: number;
  status: SessionStatus;
  ttl_seconds: number;
  expires_at: Date;
  last_heartbeat_at: Date;
  created_at: Date;
  ended_at: Date | null;
}

const COLS = 'id, zone_id, application_id, parent_id, depth, status, ttl_seconds, expires_at, last_heartbeat_at, created_at, ended_at';

export async function zoneExists(c: PoolClient, zoneId: string): Promise<boolean> {
  return (await c.query('SELECT 1 FROM zones WHERE id = $1', [zoneId])).rowCount === 1;
}

export async function applicationExists(c: PoolClient, applicationId: string): Promise<boolean> {
  return (await c.query('SELECT 1 FROM applications WHERE id = $1', [applicationId])).rowCount === 1;
}

/** Reads one session; `lock` takes its row lock so concurrent children and transitions queue behind it. */
export async function getSession(c: PoolClient, id: string, lock = false): Promise<SessionRow | undefined> {
  return (await c.query<SessionRow>(`SELECT ${COLS} FROM agent_sessions WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id])).rows[0];
}

export async function countLiveChildren(c: PoolClient, parentId: string): Promise<number> {
  const r = await c.query<{ n: string }>("SELECT count(*) AS n FROM agent_sessions WHERE parent_id = $1 AND status IN ('active', 'suspended')", [parentId]);
  return Number(r.rows[0]!.n);
}

export async function insertSession(c: PoolClient, s: { zoneId: string; applicationId: string; parentId: string | null; depth: number; ttlSeconds: number }): Promise<SessionRow> {
  const r = await c.query<SessionRow>(
    `INSERT INTO agent_sessions (zone_id, application_id, parent_id, depth, ttl_seconds, expires_at)
     VALUES ($1, $2, $3, $4, $5, now() + $5::integer * interval '1 second') RETURNING ${COLS}`,
    [s.zoneId, s.applicationId, s.parentId, s.depth, s.ttlSeconds],
  );
  return r.rows[0]!;
}

export async function setStatus(c: PoolClient, id: string, status: SessionStatus): Promise<SessionRow> {
  const ended = status === 'ended' || status === 'expired' ? ', ended_at = now()' : '';
  return (await c.query<SessionRow>(`UPDATE agent_sessions SET status = $2${ended} WHERE id = $1 RETURNING ${COLS}`, [id, status])).rows[0]!;
}

export async function touchHeartbeat(c: PoolClient, id: string): Promise<SessionRow> {
  return (await c.query<SessionRow>(`UPDATE agent_sessions SET last_heartbeat_at = now() WHERE id = $1 RETURNING ${COLS}`, [id])).rows[0]!;
}

/** The session and all its descendants, parents before children. */
export async function subtree(c: PoolClient, id: string): Promise<SessionRow[]> {
  const r = await c.query<SessionRow>(
    `WITH RECURSIVE sub AS (
       SELECT ${COLS} FROM agent_sessions WHERE id = $1
       UNION ALL SELECT ${COLS.split(', ').map((k) => `s.${k}`).join(', ')} FROM agent_sessions s JOIN sub ON s.parent_id = sub.id)
     SELECT * FROM sub ORDER BY depth, created_at, id`,
    [id],
  );
  return r.rows;
}

export interface ListFilter {
  status?: SessionStatus;
  parentId?: string;
  /** Only this application's sessions (a mandate's reads); null or absent: the whole zone. */
  applicationId?: string | null;
  /** Pages after this session (its created_at, id). */
  afterId?: string;
  limit: number;
}

export async function listSessions(c: PoolClient, f: ListFilter): Promise<SessionRow[]> {
  const r = await c.query<SessionRow>(
    `SELECT ${COLS} FROM agent_sessions
      WHERE ($1::text IS NULL OR status = $1) AND ($2::uuid IS NULL OR parent_id = $2) AND ($5::uuid IS NULL OR application_id = $5)
        AND ($3::uuid IS NULL OR (created_at, id) > (SELECT a.created_at, a.id FROM agent_sessions a WHERE a.id = $3))
      ORDER BY created_at, id LIMIT $4`,
    [f.status ?? null, f.parentId ?? null, f.afterId ?? null, f.limit, f.applicationId ?? null],
  );
  return r.rows;
}

/** Whether the session exists and, when an application is named, is that application's. */
export async function sessionVisibleTo(c: PoolClient, id: string, applicationId: string | null): Promise<boolean> {
  return (await c.query('SELECT 1 FROM agent_sessions WHERE id = $1 AND ($2::uuid IS NULL OR application_id = $2)', [id, applicationId])).rowCount === 1;
}

/** Marks every live session of the zone past its expiry as expired; one statement, so two sweepers never both claim a row. */
export async function expireDue(c: PoolClient): Promise<string[]> {
  const r = await c.query<{ id: string }>(
    "UPDATE agent_sessions SET status = 'expired', ended_at = now() WHERE status IN ('active', 'suspended') AND expires_at <= now() RETURNING id",
  );
  return r.rows.map((x) => x.id);
}
