// The parameters of a token exchange (RFC 8693 §2.1, RFC 8707 §2), read strictly from the form.
import { UUID } from '@caracal/mandates';
import { param, required, type Form } from '../form.js';
import { ACCESS_TOKEN_TYPE } from '../mint.js';
import { InvalidRequest, InvalidTarget } from '../oauth-errors.js';

export interface ExchangeRequest {
  subjectToken: string;
  resource: string;
  scopes: string[];
  ttl: number | undefined;
  agentSessionId: string | undefined;
  edgeId: string | undefined;
  approvalId: string | undefined;
}

const RESOURCE_URI = /^resource:\/\/[a-z0-9][a-z0-9._-]*$/;
const SCOPE = /^[A-Za-z0-9:._/-]{1,128}$/;

function optionalUuid(form: Form, name: string): string | undefined {
  const v = param(form, name);
  if (v !== undefined && !UUID.test(v)) throw new InvalidRequest(`parameter '${name}' must be a UUID`);
  return v;
}

export function readExchangeRequest(form: Form): ExchangeRequest {
  if (form.has('actor_token') || form.has('actor_token_type')) throw new InvalidRequest('actor_token is not supported: delegation uses delegation_edge_id');
  if (form.has('audience')) throw new InvalidTarget("use 'resource' (RFC 8707) to name the target, not 'audience'");
  const subjectType = required(form, 'subject_token_type');
  if (subjectType !== ACCESS_TOKEN_TYPE) throw new InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
  const requestedType = param(form, 'requested_token_type');
  if (requestedType !== undefined && requestedType !== ACCESS_TOKEN_TYPE) throw new InvalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
  const resources = form.get('resource') ?? [];
  if (resources.length !== 1) throw new InvalidTarget('name exactly one resource per mandate');
  const resource = resources[0]!;
  if (!RESOURCE_URI.test(resource)) throw new InvalidTarget('resource must be a resource:// identifier (an absolute URI without query or fragment)');
  const scopes = [...new Set(required(form, 'scope').split(' ').filter(Boolean))];
  if (scopes.length === 0 || scopes.some((s) => !SCOPE.test(s))) throw new InvalidRequest('scope is malformed');
  const ttlRaw = param(form, 'ttl_seconds');
  if (ttlRaw !== undefined && !/^[1-9]\d{0,5}$/.test(ttlRaw)) throw new InvalidRequest('ttl_seconds must be a positive integer');
  return {
    subjectToken: required(form, 'subject_token'),
    resource,
    scopes,
    ttl: ttlRaw === undefined ? undefined : Number(ttlRaw),
    agentSessionId: optionalUuid(form, 'agent_session_id'),
    edgeId: optionalUuid(form, 'delegation_edge_id'),
    approvalId: optionalUuid(form, 'approval_id'),
  };
}
