// Fastify compiles every route's JSON schemas while the app starts: an Ajv validator per request part and a
// fast-json-stringify serializer per response. That was the largest share of a service's start-up CPU (200–370 ms of
// 1.2–1.6 s, with five services starting on two cores; bench/up). These factories hand Fastify the same compilers,
// Fastify's own defaults, but each schema is compiled when its route first uses it, and the Ajv instance when the
// first schema is. Validation and serialisation are unchanged; routes a process never serves cost nothing.
// A schema that does not compile now fails its route's first request (a 500) rather than the start; the schemas are
// static, and the services' integration tests send requests through the routes that carry them.
import AjvCompiler from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';

type ValidatorBuilder = AjvCompiler.BuildCompilerFromPool;
type SerializerBuilder = SerializerSelector.SerializerFactory;
type Validate = ((data: unknown, ctx?: object) => unknown) & { errors?: unknown; schemaEnv?: unknown };
// What Fastify's options call them (its types declare their own copy of the compilers' types).
export type Factories = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;

/** The compiler factories for Fastify's `schemaController` option. */
export function lazyCompilers(): Factories {
  return { buildValidator: lazyValidatorBuilder() as unknown as Factories['buildValidator'], buildSerializer: lazySerializerBuilder() as unknown as Factories['buildSerializer'] };
}

/** Compiles `build()` the first time, and keeps it. */
function once<T>(build: () => T): () => T {
  let made: T | undefined;
  let done = false;
  return () => {
    if (!done) {
      made = build();
      done = true;
    }
    return made as T;
  };
}

/**
 * Fastify's Ajv validator compiler, compiling each schema on its first validation. Fastify reads the result's
 * `errors` after a failed call, so they are copied from the compiled function; `schemaEnv` makes Fastify pass the
 * parent object, as it does for an Ajv function, so a root value Ajv changes (defaults) lands on the request.
 */
export function lazyValidatorBuilder(base: ValidatorBuilder = AjvCompiler()): ValidatorBuilder {
  return (externalSchemas, options) => {
    const compiler = once(() => base(externalSchemas, options));
    return (route) => {
      // Fastify lower-cases a headers schema's keys only for its default compiler; no route here has one.
      if (route.httpPart === 'headers') throw new Error(`${route.method ?? ''} ${route.url ?? ''}: headers schemas are not supported`);
      const compiled = once(() => compiler()(route) as unknown as Validate);
      const validate: Validate = function (this: unknown, data, ctx) {
        const fn = compiled();
        const ok = fn.call(this, data, ctx);
        validate.errors = fn.errors;
        return ok;
      };
      validate.errors = null;
      validate.schemaEnv = true;
      return validate as unknown as ReturnType<ReturnType<ValidatorBuilder>>;
    };
  };
}

/** Fastify's fast-json-stringify serializer compiler, compiling each response schema on its first reply. */
export function lazySerializerBuilder(base: SerializerBuilder = SerializerSelector()): SerializerBuilder {
  return (externalSchemas, options) => {
    const compiler = once(() => base(externalSchemas, options));
    return (route) => {
      const compiled = once(() => compiler()(route));
      return (doc) => compiled()(doc);
    };
  };
}
