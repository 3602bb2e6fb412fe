// POST /v1/control/invoke (R-CTL-1): off unless CARACAL_CONTROL_ENABLED=true and the gate file exists. A control
// mandate (control/mandate.ts) names one command of the table (control/commands.ts) and must carry its scope; each
// subject spends a token of its bucket per call. The command runs as the admin route it names, injected into this
// same app with a one-time pass for a principal confined to the mandate's zone and to the command's capability, so
// the route's own authorization, schemas and admin-audit rows apply (the actor is the control subject). Never a
// shell. Every call, allowed or denied, is an audit event with the subject, the command, the decision and the reason.
import { access } from 'node:fs/promises';
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { PLATFORM_ZONE_ID } from '@caracal/db';
import { DenyError } from '@caracal/deny-reasons';
import { scopesOf, type MandateClaims } from '@caracal/mandates';
import { AuthorityKeyspace, InvalidRequest, refuseUnsafeText, ServiceError, takeToken, zonePublicKeys } from '@caracal/service-kit';
import type { AdminPrincipal } from '../auth/admin-auth.js';
import type { InternalPasses } from '../auth/internal-passes.js';
import type { ApiContext } from '../context.js';
import { buildCall, capabilityFor, COMMANDS, scopeFor, type Command } from '../control/commands.js';
import { controlMandate, deny } from '../control/mandate.js';

export const INVOKED = 'control.invoked';
export const DENIED = 'control.denied';

interface ControlFacts {
  zoneId?: string;
  subject?: string;
  clientId?: string;
  command?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    control?: ControlFacts;
  }
}

async function gateOpen(ctx: ApiContext): Promise<void> {
  if (!ctx.config.CARACAL_CONTROL_ENABLED) throw deny('control_disabled');
  const file = ctx.config.CARACAL_CONTROL_GATE_FILE;
  if (!file || !(await access(file).then(() => true, () => false))) throw deny('control_gate_missing');
}

function commandOf(name: string, claims: MandateClaims): Command {
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) throw deny('unknown_command');
  const scope = scopeFor(name, command);
  if (!scopesOf(claims).includes(scope)) throw new DenyError('command_scope_missing', 'resource', `the mandate lacks the '${scope}' scope`, undefined, { 'www-authenticate': `Bearer error="insufficient_scope", scope="${scope}"` });
  return command;
}

function principalFor(claims: MandateClaims, command: Command): AdminPrincipal {
  const who = `control:${claims.sub}`;
  return { id: who, name: who, scope: 'zone', zoneId: claims.zone_id, capabilities: new Set([capabilityFor(command)]), actor: who };
}

async function audit(ctx: ApiContext, req: FastifyRequest, decision: 'allow' | 'deny', reason: string, data: Record<string, unknown>): Promise<void> {
  const f = req.control ?? {};
  try {
    await ctx.emit({
      zone_id: f.zoneId ?? PLATFORM_ZONE_ID,
      type: decision === 'allow' ? INVOKED : DENIED,
      decision,
      reason,
      request_id: req.id,
      ...(f.subject ? { subject: f.subject } : {}),
      ...(f.clientId ? { client_id: f.clientId } : {}),
      data: { command: f.command ?? null, ...data },
    });
  } catch (e) {
    ctx.logger.warn({ err: { message: (e as Error).message } }, 'could not audit a control call');
  }
}

export function controlRoutes(root: FastifyInstance, scope: FastifyInstance, ctx: ApiContext, passes: InternalPasses): void {
  const keyspace = new AuthorityKeyspace(ctx.config.REDIS_KEY_PREFIX);
  const resolveKey = zonePublicKeys(ctx.deps.pool);
  const bucket = { ratePerSecond: ctx.config.CONTROL_RATE_PER_MIN / 60, burst: ctx.config.CONTROL_BURST };

  scope.removeContentTypeParser('text/plain');
  scope.addHook('preValidation', refuseUnsafeText);
  scope.addHook('onError', async (req, _reply, err: FastifyError) => {
    const reason = err instanceof DenyError ? err.reason : err instanceof ServiceError ? err.error : err.validation ? 'invalid_request' : 'server_error';
    await audit(ctx, req, 'deny', reason, { status: err.statusCode ?? 500 });
  });

  scope.post<{ Body: { command: string; args?: Record<string, unknown> } }>(
    '/v1/control/invoke',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['command'],
          properties: { command: { type: 'string', minLength: 1, maxLength: 64 }, args: { type: 'object', maxProperties: 16 } },
        },
      },
      // No response schema here: the answer is the named route's, already serialised by its own schema.
      // The gate is checked before the body is read or the mandate looked at.
      onRequest: async () => gateOpen(ctx),
    },
    async (req, reply) => {
      req.control = { command: req.body.command };
      const claims = await controlMandate(req, {
        pool: ctx.deps.pool,
        redis: ctx.deps.redis,
        keyspace,
        issuer: ctx.config.CARACAL_ISSUER_URL!,
        resolveKey,
        proven: (c) => Object.assign(req.control!, { zoneId: c.zone_id, subject: c.sub, clientId: c.client_id }),
      });
      let verdict;
      try {
        verdict = await takeToken(ctx.deps.redis, keyspace.controlBucket(claims.zone_id, claims.sub), bucket);
      } catch {
        throw deny('rate_limiter_unavailable');
      }
      if (!verdict.allowed) throw deny('control_rate_limited', { 'retry-after': String(verdict.retryAfterSeconds) });
      const command = commandOf(req.body.command, claims);
      const call = buildCall(command, claims.zone_id, req.body.args ?? {});
      if (!call.ok) throw new InvalidRequest(`args: ${call.problem}`);
      const res = await passes.with(principalFor(claims, command), (bearer) =>
        root.inject({
          method: command.method,
          url: call.url,
          headers: { authorization: `Bearer ${bearer}`, 'x-request-id': req.id },
          ...(call.payload ? { payload: call.payload } : {}),
        }),
      );
      await audit(ctx, req, 'allow', 'command_dispatched', { status: res.statusCode, method: command.method, route: call.url });
      return reply.code(res.statusCode).type('application/json').send(res.body);
    },
  );
}
