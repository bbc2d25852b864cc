/**
 * Schema validators. Bodies are validated strictly: no type coercion (a number is not a
 * password), unknown properties dropped before anything sees them. Query strings and path
 * parameters arrive as text, so there numbers are coerced ("50" -> 50).
 */
import { Ajv, type Options } from 'ajv';
import * as addFormatsModule from 'ajv-formats';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';

// ajv-formats is CommonJS: its default export arrives wrapped under ESM.
const addFormats = addFormatsModule.default as unknown as (ajv: Ajv) => Ajv;

function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({ removeAdditional: true, useDefaults: true, allErrors: false, strict: false, ...options });
  addFormats(ajv);
  return ajv;
}

export function createValidatorCompiler(): FastifySchemaCompiler<FastifySchema> {
  // Made on first use: with every schema compiled lazily (http/lazy-schemas.ts), a process that
  // only serves GETs never builds the strict one.
  let strict: Ajv | undefined;
  let coercing: Ajv | undefined;
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? (strict ??= makeAjv({ coerceTypes: false })) : (coercing ??= makeAjv({ coerceTypes: 'array' }));
    return ajv.compile(schema as object);
  };
}
