/**
 * Schema validators. Bodies are validated strictly: no type coercion (a number is not a
 * password), unknown properties dropped before anything sees them. Query strings and path
 * parameters arrive as text, so there numbers are coerced ("50" -> 50).
 *
 * Every problem of a request is collected (allErrors), not only the first: a client fixes its form
 * in one round trip. The answer lists at most MAX_VALIDATION_ISSUES of them (validation-errors.ts),
 * and no body schema here has arrays, so a body cannot multiply its errors beyond its few fields.
 */
import { Ajv, type ErrorObject, type Options } from 'ajv';
import * as addFormatsModule from 'ajv-formats';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';

// ajv-formats is CommonJS: its default export arrives wrapped under ESM.
const addFormats = addFormatsModule.default as unknown as (ajv: Ajv) => Ajv;

/**
 * The schema keyword that says a `pattern` in words ("a 24-character hex id"): a 422 quotes it
 * instead of the regular expression. An `x-` name, so the OpenAPI document stays valid.
 */
export const PATTERN_FORM = 'x-pattern-form';

/** The ajv instance of the app for one kind of request part; the tests build the same. */
export function makeAjv(options: Options = {}): Ajv {
  const ajv = new Ajv({ removeAdditional: true, useDefaults: true, allErrors: true, strict: false, ...options });
  addFormats(ajv);
  return ajv;
}

/** The sub-schema an ajv `schemaPath` ("#/properties/user_id/pattern") points into, keyword dropped. */
function schemaAt(root: unknown, schemaPath: string): Record<string, unknown> | undefined {
  let node: unknown = root;
  for (const segment of schemaPath.split('/').slice(1, -1)) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[segment.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return typeof node === 'object' && node !== null ? (node as Record<string, unknown>) : undefined;
}

/** Gives each pattern error the form its schema states in words (params.form), for the 422. */
function namePatterns(errors: ErrorObject[], schema: unknown): void {
  for (const error of errors) {
    if (error.keyword !== 'pattern') continue;
    const form = schemaAt(schema, error.schemaPath)?.[PATTERN_FORM];
    if (typeof form === 'string') error.params = { ...error.params, form };
  }
}

export function createValidatorCompiler(): FastifySchemaCompiler<FastifySchema> {
  // Made on first use: with every schema compiled lazily (http/lazy-schemas.ts), a process that
  // only serves GETs never builds the strict one.
  let strict: Ajv | undefined;
  let coercing: Ajv | undefined;
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? (strict ??= makeAjv({ coerceTypes: false })) : (coercing ??= makeAjv({ coerceTypes: 'array' }));
    const validate = ajv.compile(schema as object);
    // Only a failed validation pays for the look-up.
    const named: ReturnType<FastifySchemaCompiler<FastifySchema>> = (data: unknown) => {
      const valid = validate(data);
      if (!valid && validate.errors) namePatterns(validate.errors, schema);
      named.errors = validate.errors;
      return valid;
    };
    return named;
  };
}
