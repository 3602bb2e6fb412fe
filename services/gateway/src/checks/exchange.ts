// One request's way through the enforcement checks: what each check has established so far, and how a check
// refuses. Status and OAuth error come from the shared registry (`@caracal/deny-reasons`, surface 'resource').
import type { FastifyRequest } from 'fastify';
import { answerForAny, DENY_REASONS, type DenyReason } from '@caracal/deny-reasons';
import type { MandateClaims } from '@caracal/mandates';
import { ServiceError } from '@caracal/service-kit';
import type { GatewayContext } from '../context.js';
import { challenge } from '../routes/protected-resource.js';
import type { Directive } from '../sts-client.js';

export interface Exchange {
  readonly ctx: GatewayContext;
  readonly req: FastifyRequest;
  /** The resource's name as it appears in the gateway URL. */
  readonly name: string;
  /** `resource://<name>`, the audience a mandate must carry. */
  readonly resource: string;
  token?: string;
  /** The canonical request target (path and query) after the resource prefix: matched and forwarded alike. */
  path?: string;
  declaredLength?: number;
  claims?: MandateClaims;
  directive?: Directive;
  upstream?: URL;
}

/** A named step of the enforcement path: returns when satisfied, throws a `Denied` when not. */
export type Check = (x: Exchange) => void | Promise<void>;

export class Denied extends ServiceError {
  constructor(
    readonly reason: string,
    status: number,
    error: string,
    description: string,
    headers: Record<string, string>,
  ) {
    super(status, error, description, headers);
  }
}

/**
 * The refusal for `reason`, which may come from the STS's verdict: an unknown reason answers as a forbidden
 * decision (never an allow). A 401 carries the RFC 6750 §3 / RFC 9728 §5.1 challenge; a missing token gets the
 * challenge without an error code (RFC 6750 §3.1).
 */
function refusal(x: Exchange, reason: string, description: string): Denied {
  const { status, error } = answerForAny(reason, 'resource');
  const headers: Record<string, string> = {};
  if (status === 401) headers['www-authenticate'] = challenge(x.ctx, x.name, reason === 'missing_token' ? undefined : { code: error, description });
  return new Denied(reason, status, error, description, headers);
}

export function deny(x: Exchange, reason: DenyReason, description: string = DENY_REASONS[reason].description): Denied {
  return refusal(x, reason, description);
}

/** A denial the STS decided; its reason string is whatever the STS named. */
export function denyVerdict(x: Exchange, reason: string): Denied {
  return refusal(x, reason, `denied: ${reason}`);
}

/** What an earlier check established; a missing value is a wiring error, not a request error. */
export function established<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`enforcement order: ${what} is not established yet`);
  return value;
}
