// The control endpoint's commands (R-CTL-1): each is one admin API route, called with the mandate's zone, and needs
// the scope `control:<command>:<level>`. Arguments fill the route's path parameters or its JSON body; anything a
// command does not name is refused, so a caller reaches exactly the route its scope names and nothing else.
import type { Capability } from '../auth/admin-auth.js';

export type Level = 'read' | 'write' | 'delete';

export interface Command {
  level: Level;
  method: 'GET' | 'POST' | 'DELETE';
  /** The route path; `{zone}` is always the mandate's zone, other `{name}`s come from the arguments. */
  path: string;
  /** Arguments sent as the route's JSON body (the route's schema checks them). */
  body?: readonly string[];
}

export const COMMANDS: Readonly<Record<string, Command>> = {
  'zone.get': { level: 'read', method: 'GET', path: '/v1/zones/{zone}' },
  'zone.list': { level: 'read', method: 'GET', path: '/v1/zones' },
  'application.list': { level: 'read', method: 'GET', path: '/v1/zones/{zone}/applications' },
  'application.get': { level: 'read', method: 'GET', path: '/v1/zones/{zone}/applications/{app}' },
  'application.disable': { level: 'delete', method: 'DELETE', path: '/v1/zones/{zone}/applications/{app}' },
  'revocation.list': { level: 'read', method: 'GET', path: '/v1/zones/{zone}/revocations' },
  'revocation.create': { level: 'write', method: 'POST', path: '/v1/zones/{zone}/revocations', body: ['target_type', 'target_id', 'reason'] },
  'session.revoke': { level: 'write', method: 'POST', path: '/v1/zones/{zone}/sessions/{session}/revoke', body: ['reason'] },
};

export const scopeFor = (name: string, c: Command) => `control:${name}:${c.level}`;

/** The admin capability a command runs with: reads read, everything else writes. */
export const capabilityFor = (c: Command): Capability => (c.level === 'read' ? 'read' : 'write');

const PATH_ARG = /^[A-Za-z0-9_-]{1,128}$/;

export type Built = { ok: true; url: string; payload?: Record<string, unknown> } | { ok: false; problem: string };

/** The route call a command makes with these arguments, or what is wrong with them. */
export function buildCall(c: Command, zoneId: string, args: Record<string, unknown>): Built {
  const pathArgs = [...c.path.matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1]!).filter((n) => n !== 'zone');
  const known = new Set([...pathArgs, ...(c.body ?? [])]);
  const unknown = Object.keys(args).filter((k) => !known.has(k));
  if (unknown.length > 0) return { ok: false, problem: `unknown argument '${unknown[0]}' for this command` };
  let url = c.path.replace('{zone}', zoneId);
  for (const name of pathArgs) {
    const v = args[name];
    if (typeof v !== 'string' || !PATH_ARG.test(v)) return { ok: false, problem: `argument '${name}' is required: 1 to 128 of A-Z a-z 0-9 _ -` };
    url = url.replace(`{${name}}`, v);
  }
  if (!c.body) return { ok: true, url };
  return { ok: true, url, payload: Object.fromEntries(c.body.filter((k) => k in args).map((k) => [k, args[k]])) };
}
