/**
 * Schema validation failures in FastAPI's shape, `422 {"detail": [{"loc", "msg", "type"}]}`, so
 * the old service's clients read them unchanged. Every problem is listed (validators.ts collects
 * them all), up to MAX_VALIDATION_ISSUES: the answer stays small whatever a request holds.
 */
import type { FastifySchemaValidationError } from 'fastify';
import type { ValidationIssue } from '../errors.js';

/** The most issues one 422 lists; the OpenAPI description of the 422 says so. */
export const MAX_VALIDATION_ISSUES = 50;

const LOCATIONS: Record<string, string> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

const characters = (n: unknown) => `${String(n)} character${n === 1 ? '' : 's'}`;

function describe(e: FastifySchemaValidationError): { msg: string; type: string; extra?: string } {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { msg: 'Field required', type: 'missing', extra: String(p.missingProperty) };
    case 'additionalProperties':
      return { msg: 'Extra inputs are not permitted', type: 'extra_forbidden', extra: String(p.additionalProperty) };
    case 'type': {
      // A collapsed union (collapseUnions) names every type it accepts.
      const accepted = Array.isArray(p.anyOf) ? p.anyOf.map(String).join(' or ') : String(p.type);
      return { msg: `Input should be a valid ${accepted}`, type: `${String(p.type)}_type` };
    }
    case 'minLength':
      return { msg: `String should have at least ${characters(p.limit)}`, type: 'string_too_short' };
    case 'maxLength':
      return { msg: `String should have at most ${characters(p.limit)}`, type: 'string_too_long' };
    case 'pattern':
      // The form the schema states in words (validators.ts puts it in params.form), never the regex.
      return typeof p.form === 'string'
        ? { msg: `String should be ${p.form}`, type: 'string_pattern_mismatch' }
        : { msg: 'String contains characters or a form that is not allowed', type: 'string_pattern_mismatch' };
    case 'format':
      return p.format === 'email'
        ? { msg: 'value is not a valid email address', type: 'value_error' }
        : { msg: `Input should be a valid ${String(p.format)}`, type: 'value_error' };
    case 'enum':
      return {
        msg: `Input should be ${(p.allowedValues as unknown[]).map((v) => `'${String(v)}'`).join(', ')}`,
        type: 'enum',
      };
    case 'minimum':
      return { msg: `Input should be greater than or equal to ${String(p.limit)}`, type: 'greater_than_equal' };
    case 'maximum':
      return { msg: `Input should be less than or equal to ${String(p.limit)}`, type: 'less_than_equal' };
    default:
      return { msg: e.message ?? 'Invalid input', type: 'value_error' };
  }
}

/**
 * One field, not one issue per alternative: a failed `anyOf` (a nullable string, say) becomes the
 * problems of the alternative whose type matched ("at most 200 characters"), or, when none did,
 * one issue naming the types it accepts ("a valid string or null").
 */
function collapseUnions(validation: FastifySchemaValidationError[]): FastifySchemaValidationError[] {
  const unions = validation.filter((e) => e.keyword === 'anyOf');
  if (unions.length === 0) return validation;
  const branchesOf = (union: FastifySchemaValidationError) =>
    validation.filter((e) => e !== union && e.schemaPath.startsWith(`${union.schemaPath}/`));
  const inBranch = new Set(unions.flatMap(branchesOf));
  return validation.flatMap((e) => {
    if (inBranch.has(e)) return [];
    if (e.keyword !== 'anyOf') return [e];
    const branches = branchesOf(e);
    const constraints = branches.filter((b) => b.keyword !== 'type');
    if (constraints.length > 0) return constraints;
    const types = branches.map((b) => String((b.params as { type?: unknown }).type));
    if (types.length === 0) return [e];
    return [{ ...e, keyword: 'type', params: { type: types[0], anyOf: types } }];
  });
}

export function toValidationIssues(
  validation: FastifySchemaValidationError[],
  context: string | undefined,
): ValidationIssue[] {
  return collapseUnions(validation)
    .slice(0, MAX_VALIDATION_ISSUES)
    .map((e) => {
      const { msg, type, extra } = describe(e);
      const path = e.instancePath
        .split('/')
        .slice(1)
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
        .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
      const loc: (string | number)[] = [LOCATIONS[context ?? 'body'] ?? 'body', ...path];
      if (extra !== undefined) loc.push(extra);
      return { loc, msg, type };
    });
}
