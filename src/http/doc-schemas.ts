/**
 * How schemas show in the OpenAPI document: what each answer is, in words, and examples. The
 * examples are typed by their schema, and a test validates each against it as the app would.
 */
import type { Static, TObject, TSchema } from 'typebox';

/** `schema` with `examples` (Swagger UI's "Example Value"); a copy, so shared schemas stay as they are. */
export function withExamples<T extends TSchema>(schema: T, ...examples: Static<T>[]): T {
  return { ...schema, examples } as T;
}

/**
 * `schema` as the response of one route: `description` is what the document says of the answer
 * ("The user", "Logged out"), without touching the schema's own description; `examples` replace
 * any the schema carries.
 */
export function response<T extends TSchema>(description: string, schema: T, ...examples: Static<T>[]): T {
  return {
    ...schema,
    'x-response-description': description,
    ...(examples.length > 0 ? { examples } : {}),
  } as T;
}

/**
 * `schema` with the properties that have a default left out of `required`: a client may omit them
 * (ajv fills them in, useDefaults), and the document must say so rather than mark `limit` required.
 * The static type keeps them required: the handler receives them filled in.
 */
export function defaultsOptional<T extends TObject>(schema: T): T {
  const properties = schema.properties as Record<string, { default?: unknown }>;
  const required = (schema.required ?? []).filter((key) => properties[key]?.default === undefined);
  const { required: _all, ...rest } = schema;
  return (required.length > 0 ? { ...rest, required } : rest) as T;
}

/** A response without a body (204). */
export function noContent(description: string) {
  return { description, type: 'null' } as const;
}
