// Zone policy sets (R-POL-3, R-API-1): create a set, upload immutable versions (Rego source, wasm bundle, its SHA-256,
// checked and self-tested here), activate one version per set or deactivate the set. Every change leaves its
// admin-audit row before it answers (R-AUD-5); activation and deactivation are announced on
// `caracal.policy.invalidate` through the outbox (R-STR-5) so every STS reloads. Bundle bytes are never returned.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { withZone, type PoolClient } from '@caracal/db';
import { Conflict, NotFound } from '@caracal/service-kit';
import { STREAMS } from '@caracal/streams';
import { authorize } from '../auth/admin-auth.js';
import { audited, mapDbError, type ApiContext } from '../context.js';
import { decodeBundle, MAX_UPLOAD_BUNDLE_BYTES, selfTest } from '../policy-bundle.js';
import {
  findPolicySet,
  findPolicyVersion,
  insertPolicySet,
  insertPolicyVersion,
  listPolicySets,
  listPolicyVersions,
  setActiveVersion,
  type PolicySetRow,
} from '../repos/policy-sets.js';
import { resolveZone, type ZoneRow } from '../repos/zones.js';
import { list, nullableTs, ts, zoneParam } from './schemas.js';

/** Rego source and a base64 bundle of MAX_UPLOAD_BUNDLE_BYTES fit; anything larger is a 413 before it is parsed. */
export const POLICY_UPLOAD_BODY_LIMIT = 8 * 1024 * 1024;
const MAX_REGO_CHARS = 1024 * 1024;

const setName = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9._-]*$' } as const;
const entrypoint = { type: 'string', minLength: 1, maxLength: 256, pattern: '^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$' } as const;

const setParams = {
  type: 'object',
  additionalProperties: false,
  required: ['zone', 'set'],
  properties: { ...zoneParam.properties, set: setName },
} as const;
const versionParams = {
  type: 'object',
  additionalProperties: false,
  required: ['zone', 'set', 'version'],
  properties: { ...setParams.properties, version: { type: 'string', pattern: '^[1-9][0-9]{0,8}$' } },
} as const;

const setOut = {
  type: 'object',
  properties: { id: { type: 'string' }, zone_id: { type: 'string' }, name: { type: 'string' }, active_version: { type: ['integer', 'null'] }, created_at: ts, activated_at: nullableTs },
} as const;

const versionOut = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    zone_id: { type: 'string' },
    policy_set_id: { type: 'string' },
    version: { type: 'integer' },
    bundle_sha256: { type: 'string' },
    bundle_bytes: { type: 'integer' },
    entrypoint: { type: 'string' },
    self_test: { type: 'object', properties: { status: { type: ['string', 'null'] }, error: { type: ['string', 'null'] } } },
    created_at: ts,
    created_by: { type: 'string' },
  },
} as const;
const versionWithSourceOut = { type: 'object', properties: { ...versionOut.properties, rego_source: { type: 'string' } } } as const;
const setWithVersionsOut = { type: 'object', properties: { ...setOut.properties, versions: { type: 'array', items: versionOut } } } as const;

interface UploadBody {
  rego_source: string;
  bundle: string;
  bundle_sha256: string;
  entrypoint?: string;
}

type VersionLike = { self_test_status: string | null; self_test_error: string | null };
const shapeVersion = <T extends VersionLike>({ self_test_status, self_test_error, ...rest }: T) => ({ ...rest, self_test: { status: self_test_status, error: self_test_error } });

export async function zoneFor(ctx: ApiContext, req: FastifyRequest<{ Params: { zone: string } }>, capability: 'read' | 'write'): Promise<ZoneRow> {
  const zone = await resolveZone(ctx.deps.pool, req.params.zone);
  authorize(req, capability, zone.id);
  return zone;
}

async function mustFindSet(c: PoolClient, zone: ZoneRow, ref: string, lock = false): Promise<PolicySetRow> {
  const set = await findPolicySet(c, ref, lock);
  if (!set) throw new NotFound(`policy set '${ref}' does not exist in zone '${zone.slug}'`);
  return set;
}

/** The invalidation every STS instance reloads on. */
const invalidation = (set: PolicySetRow, version: number | null, action: 'activated' | 'deactivated') => ({
  stream: STREAMS.policyInvalidate,
  fields: { zone_id: set.zone_id, policy_set_id: set.id, version: version === null ? '' : String(version), action },
});

export function policySetRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Params: { zone: string }; Body: { name: string } }>(
    '/v1/zones/:zone/policy-sets',
    { schema: { params: zoneParam, body: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: setName } }, response: { 201: setOut } } },
    async (req, reply) => {
      const zone = await zoneFor(ctx, req, 'write');
      const created = await audited(ctx, req, {
        zoneId: zone.id,
        action: 'policy_set.create',
        target: (r) => `policy_set:${r.id}`,
        detail: (r) => ({ name: r.name }),
        run: (c: PoolClient) => insertPolicySet(c, zone.id, req.body.name).catch((e) => mapDbError(e, `policy set '${req.body.name}' already exists`)),
      });
      return reply.code(201).send(created);
    },
  );

  app.get<{ Params: { zone: string } }>('/v1/zones/:zone/policy-sets', { schema: { params: zoneParam, response: { 200: list(setOut) } } }, async (req) => {
    const zone = await zoneFor(ctx, req, 'read');
    return { items: await withZone(ctx.deps.pool, zone.id, listPolicySets) };
  });

  app.get<{ Params: { zone: string; set: string } }>('/v1/zones/:zone/policy-sets/:set', { schema: { params: setParams, response: { 200: setWithVersionsOut } } }, async (req) => {
    const zone = await zoneFor(ctx, req, 'read');
    return withZone(ctx.deps.pool, zone.id, async (c) => {
      const set = await mustFindSet(c, zone, req.params.set);
      return { ...set, versions: (await listPolicyVersions(c, set.id)).map(shapeVersion) };
    });
  });

  app.post<{ Params: { zone: string; set: string }; Body: UploadBody }>(
    '/v1/zones/:zone/policy-sets/:set/versions',
    {
      bodyLimit: POLICY_UPLOAD_BODY_LIMIT,
      schema: {
        params: setParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['rego_source', 'bundle', 'bundle_sha256'],
          properties: {
            rego_source: { type: 'string', minLength: 1, maxLength: MAX_REGO_CHARS },
            bundle: { type: 'string', minLength: 1, maxLength: Math.ceil(MAX_UPLOAD_BUNDLE_BYTES / 3) * 4 },
            bundle_sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
            entrypoint,
          },
        },
        response: { 201: versionOut },
      },
    },
    async (req, reply) => {
      const zone = await zoneFor(ctx, req, 'write');
      const admin = req.admin!;
      const entry = req.body.entrypoint ?? 'caracal/allow';
      // An unknown set is a 404 before the bundle is loaded; the row is locked again when the version is written.
      await withZone(ctx.deps.pool, zone.id, (c) => mustFindSet(c, zone, req.params.set));
      const bytes = decodeBundle(req.body.bundle, req.body.bundle_sha256);
      const outcome = await selfTest(bytes, entry, zone.id);
      const created = await audited(ctx, req, {
        zoneId: zone.id,
        action: 'policy_set.version.upload',
        target: (r) => `policy_set:${r.policy_set_id}:v${r.version}`,
        detail: (r) => ({ version: r.version, bundle_sha256: r.bundle_sha256, entrypoint: r.entrypoint, self_test: r.self_test_status }),
        run: async (c: PoolClient) => {
          const set = await mustFindSet(c, zone, req.params.set, true);
          return insertPolicyVersion(c, set, { regoSource: req.body.rego_source, bundle: bytes, sha256: req.body.bundle_sha256, entrypoint: entry, selfTest: outcome, createdBy: admin.name });
        },
      });
      return reply.code(201).send(shapeVersion(created));
    },
  );

  app.get<{ Params: { zone: string; set: string } }>('/v1/zones/:zone/policy-sets/:set/versions', { schema: { params: setParams, response: { 200: list(versionOut) } } }, async (req) => {
    const zone = await zoneFor(ctx, req, 'read');
    return withZone(ctx.deps.pool, zone.id, async (c) => ({ items: (await listPolicyVersions(c, (await mustFindSet(c, zone, req.params.set)).id)).map(shapeVersion) }));
  });

  app.get<{ Params: { zone: string; set: string; version: string } }>(
    '/v1/zones/:zone/policy-sets/:set/versions/:version',
    { schema: { params: versionParams, response: { 200: versionWithSourceOut } } },
    async (req) => {
      const zone = await zoneFor(ctx, req, 'read');
      const found = await withZone(ctx.deps.pool, zone.id, async (c) => findPolicyVersion(c, (await mustFindSet(c, zone, req.params.set)).id, Number(req.params.version)));
      if (!found) throw new NotFound(`policy set '${req.params.set}' has no version ${req.params.version}`);
      return shapeVersion(found);
    },
  );

  app.post<{ Params: { zone: string; set: string }; Body: { version: number } }>(
    '/v1/zones/:zone/policy-sets/:set/activate',
    {
      schema: {
        params: setParams,
        body: { type: 'object', additionalProperties: false, required: ['version'], properties: { version: { type: 'integer', minimum: 1, maximum: 2_147_483_647 } } },
        response: { 200: setOut },
      },
    },
    async (req) => {
      const zone = await zoneFor(ctx, req, 'write');
      const version = req.body.version;
      return audited(ctx, req, {
        zoneId: zone.id,
        action: 'policy_set.activate',
        target: (r) => `policy_set:${r.id}:v${version}`,
        detail: (r) => ({ name: r.name, version, bundle_sha256: r.bundle_sha256, previous_version: r.previous_version }),
        run: async (c: PoolClient) => {
          const set = await mustFindSet(c, zone, req.params.set, true);
          const found = await findPolicyVersion(c, set.id, version);
          if (!found) throw new NotFound(`policy set '${set.name}' has no version ${version}`);
          if (found.self_test_status !== 'passed') {
            throw new Conflict(`version ${version} of policy set '${set.name}' failed its self-test and cannot be activated: ${found.self_test_error ?? 'it was never self-tested'}`);
          }
          return { ...(await setActiveVersion(c, set.id, version)), bundle_sha256: found.bundle_sha256, previous_version: set.active_version };
        },
        announce: (r) => invalidation(r, version, 'activated'),
      });
    },
  );

  app.post<{ Params: { zone: string; set: string } }>(
    '/v1/zones/:zone/policy-sets/:set/deactivate',
    { schema: { params: setParams, body: { type: ['object', 'null'], additionalProperties: false, properties: {} }, response: { 200: setOut } } },
    async (req) => {
      const zone = await zoneFor(ctx, req, 'write');
      return audited(ctx, req, {
        zoneId: zone.id,
        action: 'policy_set.deactivate',
        target: (r) => `policy_set:${r.id}`,
        detail: (r) => ({ name: r.name, previous_version: r.previous_version }),
        run: async (c: PoolClient) => {
          const set = await mustFindSet(c, zone, req.params.set, true);
          return { ...(await setActiveVersion(c, set.id, null)), previous_version: set.active_version };
        },
        announce: (r) => invalidation(r, r.previous_version, 'deactivated'),
      });
    },
  );
}
