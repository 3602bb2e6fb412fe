// Route schemas compiled on first use (lazy-schemas.ts): nothing is compiled while the app starts, each schema once,
// and validation and serialisation answer exactly as Fastify's own compilers do. buildServiceApp's own answers to bad
// bodies (through these compilers) are in service-app.test.ts.
import AjvCompiler from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { lazySerializerBuilder, lazyValidatorBuilder, type Factories } from '../../src/lazy-schemas.js';

const BODY = { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string', minLength: 2 }, n: { type: 'integer' } } };
const QUERY = { type: 'object', properties: { page: { type: 'integer', default: 1 } } };
const REPLY = { 200: { type: 'object', properties: { name: { type: 'string' }, page: { type: 'integer' } } } };

const apps: { close: () => Promise<unknown> }[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

/** The same routes on an app with `compilersFactory` (undefined: Fastify's defaults). */
async function withRoutes(compilersFactory?: Factories): Promise<FastifyInstance> {
  const app = Fastify(compilersFactory ? { schemaController: { compilersFactory } } : {});
  apps.push(app);
  app.post('/things', { schema: { body: BODY, querystring: QUERY, response: REPLY } }, async (req) => ({
    ...(req.body as object),
    page: (req.query as { page: number }).page,
    secret: 'not in the response schema',
  }));
  await app.ready();
  return app;
}

/** Fastify's compilers, counting the schemas they compile. */
function counting() {
  const counts = { validators: 0, serializers: 0, ajvInstances: 0 };
  const ajv = AjvCompiler();
  const fjs = SerializerSelector();
  const buildValidator = lazyValidatorBuilder((ext, opts) => {
    counts.ajvInstances++;
    const compile = ajv(ext, opts);
    return (route) => {
      counts.validators++;
      return compile(route);
    };
  });
  const buildSerializer = lazySerializerBuilder((ext, opts) => {
    const compile = fjs(ext, opts);
    return (route) => {
      counts.serializers++;
      return compile(route);
    };
  });
  return { counts, factory: { buildValidator, buildSerializer } as unknown as Factories };
}

const CASES = [
  { name: 'valid', url: '/things?page=3', body: { name: 'ab', n: 2 } },
  { name: 'a default filled in', url: '/things', body: { name: 'ab' } },
  { name: 'missing field', url: '/things', body: { n: 1 } },
  { name: 'extra field', url: '/things', body: { name: 'ab', x: 1 } },
  { name: 'wrong type', url: '/things', body: { name: 'ab', n: 'two' } },
  { name: 'too short', url: '/things', body: { name: 'a' } },
  { name: 'bad query', url: '/things?page=x', body: { name: 'ab' } },
];

describe('lazy schema compilers', () => {
  it('compile nothing while the app starts, then each schema once, on its first use', async () => {
    const { counts, factory } = counting();
    const app = await withRoutes(factory);
    expect(counts).toEqual({ validators: 0, serializers: 0, ajvInstances: 0 });
    for (let i = 0; i < 3; i++) {
      const res = await app.inject({ method: 'POST', url: '/things', payload: { name: 'ab' } });
      expect(res.statusCode).toBe(200);
    }
    // body and querystring; one 200 serializer; one Ajv for the app
    expect(counts).toEqual({ validators: 2, serializers: 1, ajvInstances: 1 });
  });

  it.each(CASES)('answer as Fastify\'s own compilers do: $name', async ({ url, body }) => {
    const lazy = await withRoutes(counting().factory);
    const eager = await withRoutes();
    const [a, b] = await Promise.all([lazy, eager].map((app) => app.inject({ method: 'POST', url, payload: body })));
    expect(a!.statusCode).toBe(b!.statusCode);
    expect(a!.json()).toEqual(b!.json());
    if (a!.statusCode === 200) expect(a!.json()).not.toHaveProperty('secret');
  });

  it('a schema that does not compile fails its route (500), and the next valid request still gets its answer', async () => {
    const app = Fastify({ schemaController: { compilersFactory: counting().factory } });
    apps.push(app);
    app.post('/broken', { schema: { body: { type: 'object', properties: { n: { type: 'no-such-type' } } } } }, async () => ({ ok: true }));
    app.post('/fine', { schema: { body: BODY } }, async () => ({ ok: true }));
    await app.ready();
    expect((await app.inject({ method: 'POST', url: '/broken', payload: { n: 1 } })).statusCode).toBe(500);
    expect((await app.inject({ method: 'POST', url: '/fine', payload: { name: 'ab' } })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/fine', payload: {} })).statusCode).toBe(400);
  });

  it('refuse a headers schema when the route is registered', async () => {
    const app = Fastify({ schemaController: { compilersFactory: counting().factory } });
    apps.push(app);
    app.get('/h', { schema: { headers: { type: 'object', properties: { 'X-Thing': { type: 'string' } } } } }, async () => ({ ok: true }));
    await expect(app.ready()).rejects.toThrow(/headers schemas are not supported/);
  });
});
