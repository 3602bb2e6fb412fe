// A dry run of a zone's policy decision (R-POL-1, R-POL-3), behind `caracal policy simulate`: the built-in contract
// and the zone's active policy sets on one decision input, without minting or changing anything. `?set=NAME@VERSION`
// evaluates that version in place of the set's active one (or in addition, when the set has none active): the check
// an operator runs before activating it. A set that cannot be loaded or evaluated is an error in the answer, which
// denies, as it does in the STS. A read like the other policy-set reads: not audited.
import type { FastifyInstance } from 'fastify';
import { withZone } from '@caracal/db';
import { NotFound } from '@caracal/service-kit';
import { simulate, type Simulation } from '@caracal/policy';
import type { ApiContext } from '../context.js';
import { activeVersions, evaluableVersion, type EvaluableVersion } from '../repos/policy-sets.js';
import { zoneFor } from './policy-sets.js';
import { zoneParam } from './schemas.js';

/** A decision input is small; anything larger is a 413 before it is parsed. */
export const SIMULATE_BODY_LIMIT = 64 * 1024;

const str = { type: 'string', maxLength: 1024 } as const;
const nullableStr = { type: ['string', 'null'], maxLength: 1024 } as const;
const strs = { type: 'array', maxItems: 256, items: { type: 'string', maxLength: 256 } } as const;
const obj = (required: readonly string[], properties: Record<string, unknown>, nullable = false) => ({ type: nullable ? ['object', 'null'] : 'object', required, properties }) as const;

/** The R-POL-1 decision input: the fields the contract reads are typed; sets may read further fields as given. */
const decisionInput = obj(['principal', 'action', 'context'], {
  schema_version: { const: 1 },
  principal: obj(['id'], { type: { enum: ['application', 'agent_session'] }, id: str, zone_id: str, agent_session_id: nullableStr, labels: strs }),
  resource: obj(['scopes'], { id: str, identifier: str, scopes: strs }, true),
  action: obj(['id'], { id: { enum: ['bootstrap', 'mint', 'gateway_use'] }, method: str, path: str }),
  session: obj([], { id: str, expires_at: str }, true),
  delegation_edge: obj(['scopes'], { id: str, source_session_id: str, target_session_id: str, scopes: strs, path: strs, expires_at: str }, true),
  context: obj(['requested_scopes'], { requested_scopes: strs, request_id: str, subject_scopes: strs, audience: strs, required_scope: nullableStr, time: { type: 'object' } }),
});

const CANDIDATE = '^[a-z0-9][a-z0-9._-]{0,63}@[1-9][0-9]{0,8}$';

const verdictOut = {
  type: 'object',
  properties: { policy: { type: 'string' }, decision: { type: 'string' }, evaluation_status: { type: 'string' }, diagnostics: { type: 'array', items: { type: 'string' } }, step_up: { type: 'array', items: { type: 'string' } } },
} as const;
const simulationOut = {
  type: 'object',
  properties: {
    decision: { type: 'string' },
    reason: { type: 'string' },
    evaluation_status: { type: 'string' },
    determining_policies: { type: 'array', items: { type: 'string' } },
    diagnostics: { type: 'array', items: { type: 'string' } },
    step_up: { type: 'array', items: { type: 'string' } },
    contract: { type: 'object', properties: { decision: { type: 'string' }, reason: { type: 'string' }, evaluation_status: { type: 'string' }, diagnostics: { type: 'array', items: { type: 'string' } } } },
    sets: { type: 'array', items: verdictOut },
  },
} as const;

interface Input {
  principal: { zone_id?: string };
}

/** The active sets, with `candidate` (`name@version`) in place of its set's active version. */
async function setsToEvaluate(ctx: ApiContext, zoneId: string, zoneSlug: string, candidate: string | undefined): Promise<EvaluableVersion[]> {
  return withZone(ctx.deps.pool, zoneId, async (c) => {
    const active = await activeVersions(c);
    if (candidate === undefined) return active;
    const [name, version] = candidate.split('@') as [string, string];
    const chosen = await evaluableVersion(c, name, Number(version));
    if (!chosen) throw new NotFound(`policy set '${name}' has no version ${version} in zone '${zoneSlug}'`);
    return [...active.filter((s) => s.name !== name), chosen].sort((a, b) => a.name.localeCompare(b.name));
  });
}

/** The answer: every set by `name@vN` with its own decision, and the final decision with its reasons. */
const shape = (r: Simulation) => ({
  decision: r.decision,
  reason: r.reason,
  evaluation_status: r.evaluation_status,
  determining_policies: r.determining_policies,
  diagnostics: r.diagnostics,
  step_up: r.step_up,
  contract: { decision: r.contract.decision, reason: r.contract.reason, evaluation_status: r.contract.evaluation_status, diagnostics: r.contract.diagnostics },
  sets: r.sets.map((v) => ({ policy: v.set, decision: v.allow ? 'allow' : 'deny', evaluation_status: v.status, diagnostics: v.diagnostics, step_up: v.stepUp })),
});

export function policySimulateRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Params: { zone: string }; Querystring: { set?: string }; Body: Input }>(
    '/v1/zones/:zone/policy-sets/simulate',
    {
      bodyLimit: SIMULATE_BODY_LIMIT,
      schema: {
        params: zoneParam,
        querystring: { type: 'object', additionalProperties: false, properties: { set: { type: 'string', pattern: CANDIDATE } } },
        body: decisionInput,
        response: { 200: simulationOut },
      },
    },
    async (req) => {
      const zone = await zoneFor(ctx, req, 'read');
      const sets = await setsToEvaluate(ctx, zone.id, zone.slug, req.query.set);
      const input = { ...req.body, principal: { ...req.body.principal, zone_id: req.body.principal.zone_id ?? zone.id } };
      return shape(await simulate(input, sets));
    },
  );
}
