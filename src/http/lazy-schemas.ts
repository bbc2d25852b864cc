/**
 * Route schemas compiled on first use instead of at start-up. Fastify compiles, when the app
 * starts, a validator for each request part and a serializer for each response code of every
 * route: ~60 routes, ~170 ms of ajv and fast-json-stringify before the first request (bench/:
 * cold-start), most of them for answers a given process rarely sends. Here each compiles the
 * first time it runs; the compiled function is kept.
 *
 * `compileAll()` compiles whatever has not run yet: the tests call it, so a schema that does not
 * compile fails the suite rather than a first request in production.
 */
import type { FastifySchema, FastifySchemaCompiler, FastifySerializerCompiler } from 'fastify';
import fastJsonStringify from 'fast-json-stringify';

type Validate = ReturnType<FastifySchemaCompiler<FastifySchema>>;

export interface LazySchemas {
  validatorCompiler: FastifySchemaCompiler<FastifySchema>;
  serializerCompiler: FastifySerializerCompiler<unknown>;
  /** Compiles every schema not compiled yet; returns how many it compiled. */
  compileAll(): number;
}

export function createLazySchemas(compileValidator: FastifySchemaCompiler<FastifySchema>): LazySchemas {
  const pending = new Set<() => void>();

  /** A getter that compiles on its first call (or in compileAll) and then returns the same function. */
  function once<F>(compile: () => F): () => F {
    let compiled: F | undefined;
    const get = () => {
      if (compiled === undefined) {
        compiled = compile();
        pending.delete(get);
      }
      return compiled;
    };
    pending.add(get);
    return get;
  }

  return {
    validatorCompiler(route) {
      const validator = once(() => compileValidator(route));
      const wrapper = ((data: unknown) => {
        const validate = validator();
        const result = validate(data);
        // Fastify reads the errors of a failed validation from the function it was given.
        wrapper.errors = validate.errors;
        return result;
      }) as Validate;
      return wrapper;
    },
    serializerCompiler(route) {
      const serializer = once(() => fastJsonStringify(route.schema as Parameters<typeof fastJsonStringify>[0]));
      return (data: unknown) => serializer()(data as never);
    },
    compileAll() {
      const all = [...pending];
      for (const get of all) get();
      return all.length;
    },
  };
}
