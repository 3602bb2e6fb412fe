// The CLI's client for the coordinator (R-CO-1): the shared bearer client with the operator's coordinator token
// (`caracalCoordinatorToken`, written by `caracal init`), and zone slugs resolved to ids through the admin API.
import { randomUUID } from 'node:crypto';
import { adminApi, bearerApi, type AdminApi } from '../admin/client.js';
import { CliError } from '../errors.js';
import { readSecret } from '../home/secret-files.js';
import { loadContext, serviceUrl } from '../stack/context.js';
import type { Io } from './io.js';

const TOKEN_SHAPE = /^[0-9a-f]{64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function coordinatorApi(io: Io, fetchImpl: typeof fetch = fetch): AdminApi {
  const ctx = loadContext(io.env);
  const token = readSecret(ctx.home.secretsDir, 'caracalCoordinatorToken');
  const tokenSource = `${ctx.home.secretsDir}/caracalCoordinatorToken`;
  if (!TOKEN_SHAPE.test(token)) throw new CliError(`secret ${tokenSource} does not hold a coordinator token (expected 64 lowercase hex characters)`);
  return bearerApi({ name: 'the coordinator', service: 'coordinator', baseUrl: serviceUrl(ctx, 'coordinator'), token, tokenName: 'coordinator token', tokenSource }, fetchImpl);
}

/** The coordinator takes zone ids; a slug is looked up once through the admin API. */
export async function zoneIdOf(zone: string, io: Io): Promise<string> {
  if (UUID.test(zone)) return zone;
  return (await adminApi(io).call<{ id: string }>('GET', `/v1/zones/${encodeURIComponent(zone)}`)).id;
}

/** Every mutation carries an Idempotency-Key: the operator's, so a retried command replays, or a fresh one. */
export const idempotencyHeaders = (key: string | undefined) => ({ 'idempotency-key': key ?? randomUUID() });
